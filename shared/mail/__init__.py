"""Mailbox clients: one protocol (client.py) with IMAP, POP3 and in-memory implementations."""
