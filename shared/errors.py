"""One error tree for mailpoll: what is retried (transient) and what is not (permanent)."""

from __future__ import annotations


class MailpollError(Exception):
    """Base of every error mailpoll raises on purpose."""


class TransientError(MailpollError):
    """Worth retrying later: network, time-out, busy server, broker or publish failure."""


class PermanentError(MailpollError):
    """Retrying will not help until someone changes something."""


class ConfigError(PermanentError):
    """A configuration value is wrong; names the field so the message fits on one line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFoundError(PermanentError):
    """A named thing (account, setting) does not exist."""


class SecretError(PermanentError):
    """A stored secret cannot be read: missing or different key, or missing keystore alias."""


class ConnectError(TransientError):
    """The server could not be reached, or the connection dropped."""


class ServerTimeoutError(TransientError):
    """The server did not answer within the configured time-out."""


class ServerBusyError(TransientError):
    """The server asked us to come back later."""


class PublishError(TransientError):
    """An event could not be published to the events broker."""


class LockBusyError(TransientError):
    """Another worker holds the account's lock: this poll ends at once; it is not a failure."""


class StoreError(TransientError):
    """A message could not be written to the upload directory (disk full, permissions)."""


class LockLostError(TransientError):
    """This worker no longer holds the account's lock; another may have taken over."""


class AuthenticationError(PermanentError):
    """The server refused the credentials."""


class TLSError(PermanentError):
    """TLS could not be set up as configured: no STARTTLS offered, bad certificate, wrong name."""


class FolderError(PermanentError):
    """The configured folder does not exist on the server."""


class MessageError(PermanentError):
    """One message fails every time (fetch or store); it goes to the dead-letter list."""
