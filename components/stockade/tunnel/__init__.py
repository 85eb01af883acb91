"""Target-independent pieces of the MCP tunnel stack (contract section 2)."""
