"""HTTP routes of the calc service."""
