"""Tool services."""
