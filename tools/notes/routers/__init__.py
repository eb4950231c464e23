"""HTTP routes of the notes service, one module per resource."""
