"""The watcher: holds IMAP IDLE connections for push accounts and asks for a poll on new mail."""
