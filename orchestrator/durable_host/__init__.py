"""toolmesh package."""
