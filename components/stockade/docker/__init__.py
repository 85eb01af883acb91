"""Docker host components (pulumi-docker)."""
