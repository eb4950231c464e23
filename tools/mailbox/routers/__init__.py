"""HTTP routes of the mailbox service."""
