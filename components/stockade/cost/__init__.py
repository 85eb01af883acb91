"""Monthly cost estimates from a stack's desired state (`stockade cost`, and the diff's monthly delta)."""
