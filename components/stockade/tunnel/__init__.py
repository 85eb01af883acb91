"""Target-independent pieces of the MCP tunnel stack (docs/vendor-interface.md §2)."""
