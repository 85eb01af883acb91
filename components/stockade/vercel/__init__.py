"""Vercel components (pulumiverse-vercel, the optional `stockade[vercel]` extra)."""
