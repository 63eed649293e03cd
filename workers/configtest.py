"""Test Configuration for one account's values, saved or not: the steps and what they found."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

from shared.clock import Clock
from shared.db.models import Account
from shared.errors import FolderError, MailpollError
from shared.mail import smtp
from shared.mail.client import INBOX, Credentials, Endpoint, MailboxClient, StartedTLS
from shared.mail.connect import open_mailbox
from shared.mail.probe import (
    Probe,
    Step,
    StepFailed,
    closest_folder,
    describe_certificate,
    folder_listing,
)
from workers.credentials import CredentialSource
from workers.intake import Filters
from workers.mailbox import endpoint_of

DEFAULT_MAX_BATCH = 100


def run_config_test(
    account: Account,
    *,
    password: str | None,
    credentials: CredentialSource,
    clock: Clock,
    sender: str | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Run every step until one fails; nothing is saved and nothing is changed on the server.

    `on_step` hears of each step as it finishes (the web app streams them).
    """
    endpoint = endpoint_of(account)
    outbound = account.type == "outbound"
    probe = Probe(endpoint, "smtp" if outbound else (account.protocol or "imap"))
    if on_step is not None:
        probe.steps = _Reported(on_step)
    try:
        probe.run("resolve", probe.resolve)
        probe.run("connect", probe.connect)
        if endpoint.encryption == "ssl":
            probe.run("tls", probe.handshake)
        found = _credentials(account, password, credentials, probe)
        if outbound:
            _send_test(account, endpoint, found, probe, sender)
        else:
            _inbound(account, endpoint, found, probe, clock)
    except StepFailed:
        pass
    return probe.steps


class _Reported(list[Step]):
    """The probe's list of steps, telling a listener of each step as it is added."""

    def __init__(self, on_step: Callable[[Step], None]) -> None:
        super().__init__()
        self._on_step = on_step

    def append(self, step: Step) -> None:
        super().append(step)
        self._on_step(step)


def _credentials(
    account: Account, password: str | None, source: CredentialSource, probe: Probe
) -> Credentials | None:
    if account.auth_type == "none":
        return None
    found: list[Credentials] = []

    def resolve() -> str:
        credentials = source.for_account(account, password=password)
        assert credentials is not None
        found.append(credentials)
        return f"login {credentials.login} ({account.auth_type})"

    probe.run("credentials", resolve)
    return found[0]


def _session_steps(
    probe: Probe,
    endpoint: Endpoint,
    action: Callable[[StartedTLS], str],
    after_login: str,
) -> None:
    """TLS (for starttls) and login happen in one session: report them as two steps.

    The tls step is reported ok only once the client says STARTTLS succeeded; a session that
    fails before that fails the tls step, whatever the reason.
    """
    started = time.monotonic()
    tls: list[str] = []

    def on_starttls(certificate: dict[str, Any] | None) -> None:
        tls.append("STARTTLS, " + describe_certificate(certificate))

    try:
        detail = action(on_starttls)
    except MailpollError as error:
        seconds = time.monotonic() - started
        failed = Step(after_login, False, seconds, str(error), probe.hint(error))
        if endpoint.encryption == "starttls":
            if tls:
                probe.steps.append(Step("tls", True, seconds, tls[0]))
            else:
                failed = replace(failed, name="tls")
        probe.steps.append(failed)
        raise StepFailed(failed) from None
    seconds = time.monotonic() - started
    if endpoint.encryption == "starttls":
        reported = tls[0] if tls else "the client never reported STARTTLS"
        probe.steps.append(Step("tls", bool(tls), seconds, reported))
    probe.steps.append(Step(after_login, True, seconds, detail))


def _inbound(
    account: Account,
    endpoint: Endpoint,
    credentials: Credentials | None,
    probe: Probe,
    clock: Clock,
) -> None:
    assert credentials is not None
    opened: list[MailboxClient] = []

    def login(on_starttls: StartedTLS) -> str:
        client = open_mailbox(
            account.protocol or "imap", endpoint, credentials, debug=account.debug,
            account=account.name, on_starttls=on_starttls,
        )  # fmt: skip
        opened.append(client)
        return f"logged in as {credentials.login}"

    _session_steps(probe, endpoint, login, "login")
    with opened[0] as client:
        folder = account.folder or INBOX

        def select() -> str:
            try:
                info = client.select(folder)
            except FolderError as error:
                known = folder_listing(client.folders())
                raise FolderError(f"{error} (the server has: {known})") from None
            validity = "" if info.uidvalidity is None else f", UIDVALIDITY {info.uidvalidity}"
            return f"{folder}: {info.exists} message(s){validity}"

        probe.run("folder", select)
        if account.on_email_received == "move" and account.move_to_folder:
            _check_move_folder(probe, client, account.move_to_folder)
        probe.run("filters", lambda: _would_take(account, client, folder, clock))


def _check_move_folder(probe: Probe, client: MailboxClient, target: str) -> None:
    """The step that shows `move_to_folder` exists, before a poll would fail to move mail."""
    folders: list[str] = []

    def look() -> str:
        folders.extend(client.folders())
        if target in folders or (target.upper() == INBOX and INBOX in folders):
            return f"{target} exists: received mail is moved there"
        raise FolderError(
            f"move_to_folder {target}: no such folder (the server has: {folder_listing(folders)})"
        )

    def hint() -> str | None:
        if not folders:  # the listing itself failed: the usual hint for that error
            return None
        closest = closest_folder(target, folders)
        start = f"did you mean {closest}? " if closest else "create the folder, or "
        return (
            f"{start}set move_to_folder to a name exactly as the server lists it; some servers "
            "keep every folder under INBOX with their delimiter (Cyrus: INBOX.Archive, not Archive)"
        )

    probe.run("move folder", look, hint)


def _would_take(account: Account, client: MailboxClient, folder: str, clock: Clock) -> str:
    refs = client.list_new(folder, 0)
    filters = Filters.of(account, clock())
    passing = sum(1 for ref in refs if filters.reason_to_skip(ref.internal_date) is None)
    batch = account.max_batch or DEFAULT_MAX_BATCH
    note = " (POP3: by the Date header, read at fetch)" if account.protocol == "pop3" else ""
    return (
        f"{passing} of {len(refs)} message(s) pass the date filters{note}; "
        f"one poll takes up to {batch}"
    )


def _send_test(
    account: Account,
    endpoint: Endpoint,
    credentials: Credentials | None,
    probe: Probe,
    sender: str | None,
) -> None:
    recipient = account.test_to
    if not recipient:
        probe.steps.append(
            Step("send", False, 0.0, "test_to is not set", "set --test-to ADDRESS on the account")
        )
        raise StepFailed(probe.steps[-1])
    mail = smtp.OutgoingMail(
        sender=sender or account.login or recipient,
        to=[recipient],
        subject=f"mailpoll configuration test of {account.name}",
        body="This message was sent by `mailpoll accounts test`: the outbound account works.\r\n",
    )
    built: list[EmailMessage] = []

    def compose() -> str:  # before connecting: a bad address is no server's fault
        built.append(smtp.build_message(mail))
        return f"from {mail.sender} to {recipient}"

    probe.run("message", compose)

    def send(on_starttls: StartedTLS) -> str:
        result = smtp.send(
            endpoint, credentials, built[0], helo=None, debug=account.debug,
            account=account.name, on_starttls=on_starttls,
        )  # fmt: skip
        return f"test mail {result.message_id} accepted for {recipient}"

    _session_steps(probe, endpoint, send, "send" if credentials is None else "login and send")
