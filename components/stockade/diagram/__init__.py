"""Pictures of a stack drawn from its desired state (Mermaid)."""
