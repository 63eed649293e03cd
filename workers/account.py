"""The account a job works on, as a frozen value built once per job from its database row.

A poll and housekeeping read an account's settings in many places; the value has them
resolved (the folder, the batch size, the parsed properties, protocol and encryption as
literals, an id that is never None), so no code below the job asks the row again, and
nothing can change it half-way through a poll.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, cast

from shared.clock import utc
from shared.db.models import Account
from shared.mail.client import INBOX, Encryption, Endpoint, MailProtocol
from shared.properties import Properties

DEFAULT_MAX_BATCH = 100
ServerAction = Literal["mark_read", "move", "delete"]


@dataclass(frozen=True)
class InboundAccount:
    """An enabled inbound account as one poll sees it."""

    id: int
    name: str
    protocol: MailProtocol
    endpoint: Endpoint
    auth_type: str
    folder: str
    max_batch: int
    on_email_received: str
    move_to_folder: str | None
    delete_read_messages: bool
    delete_after_days: int | None
    process_after: datetime | None
    ignore_older_than_hours: int | None
    debug: bool
    # The row it was built from, for the credential source alone: it decrypts the secrets
    # and stores refreshed OAuth2 tokens on it. Nothing else reads it.
    row: Account = field(repr=False, compare=False)

    @classmethod
    def of(cls, row: Account) -> InboundAccount:
        assert row.id is not None, "an account that was never stored"
        properties = Properties.of(row.properties, "inbound")
        return cls(
            id=row.id, name=row.name, protocol=cast(MailProtocol, row.protocol or "imap"),
            endpoint=Endpoint(row.host, row.port, cast(Encryption, row.encryption), properties),
            auth_type=row.auth_type, folder=row.folder or INBOX,
            max_batch=row.max_batch or DEFAULT_MAX_BATCH,
            on_email_received=row.on_email_received or "leave",
            move_to_folder=row.move_to_folder, delete_read_messages=row.delete_read_messages,
            delete_after_days=row.delete_after_days,
            process_after=None if row.process_after is None else utc(row.process_after),
            ignore_older_than_hours=row.ignore_older_than_hours, debug=row.debug, row=row,
        )  # fmt: skip

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def properties(self) -> Properties:
        return self.endpoint.properties

    @property
    def first_action(self) -> ServerAction | None:
        """What is done on the server to a message once it is stored and announced."""
        received = self.on_email_received
        if received == "delete" or (self.delete_read_messages and not self.delete_after_days):
            return "delete"
        if received in ("mark_read", "move"):
            return cast(ServerAction, received)
        return "delete" if self.delete_read_messages else None

    def delay(self, action: str) -> timedelta:
        """How long after download `action` falls due: a delete waits `delete_after_days`
        unless the account deletes on receipt."""
        if action == "delete" and self.on_email_received != "delete":
            return timedelta(days=self.delete_after_days or 0)
        return timedelta(0)


@dataclass(frozen=True)
class OutboundAccount:
    """The enabled outbound account as one send sees it."""

    id: int
    name: str
    login: str | None
    endpoint: Endpoint
    debug: bool
    row: Account = field(repr=False, compare=False)  # for the credential source alone

    @classmethod
    def of(cls, row: Account) -> OutboundAccount:
        assert row.id is not None, "an account that was never stored"
        properties = Properties.of(row.properties, "outbound")
        endpoint = Endpoint(row.host, row.port, cast(Encryption, row.encryption), properties)
        return cls(row.id, row.name, row.login, endpoint, row.debug, row)

    @property
    def login_address(self) -> str | None:
        """The login, when it is an address that mail can be sent from."""
        return self.login if self.login and "@" in self.login else None
