"""HTTP routes of the issues service, one module per resource."""
