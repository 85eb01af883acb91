"""Cloudflare components (pulumi-cloudflare)."""
