"""Mailbox service: send a message to a person and deliver the reply to a callback."""
