"""Issues service: a small issue tracker (projects, issues, comments) for agents."""
