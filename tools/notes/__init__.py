"""Notes service."""
