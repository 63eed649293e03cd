"""What `mailpoll run` tells its user: where its data is, commands that work as printed, and
a short line per event (or the whole event as JSON)."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailpoll.app import App
    from mailpoll.runtime import Runtime

SUBJECT_WIDTH = 60


def started(app: App, runtime: Runtime) -> str:
    """Where everything is, as absolute paths: the same wherever the user stands."""
    return (
        f"mailpoll running: data in {app.data_dir.path}, messages in "
        f"{runtime.upload_dir.resolve()}, events to {runtime.describe_events()} (Ctrl-C stops)"
    )


def mailpoll_command(app: App) -> str:
    """This mailpoll as another terminal can run it: `mailpoll` only if PATH finds this one
    (a virtualenv's is not on PATH), and the data dir spelled out when it is relative."""
    program = Path(sys.argv[0]).resolve()
    if program.name != "mailpoll":  # `python -m mailpoll.cli.main`
        command = f"{shlex.quote(sys.executable)} -m mailpoll.cli.main"
    else:
        found = shutil.which("mailpoll")
        on_path = found is not None and Path(found).resolve() == program
        command = "mailpoll" if on_path else shlex.quote(str(program))
    if app.settings.data_dir.is_absolute():
        return command
    return f"MAILPOLL_DATA_DIR={shlex.quote(str(app.data_dir.path))} {command}"


def no_account_hint(app: App) -> str:
    return (
        "no enabled inbound account yet: add one in another terminal (it is picked up without "
        f"a restart):\n    {mailpoll_command(app)} accounts add NAME --type inbound "
        "--host HOST --login USER --password-stdin"
    )


def no_admin_hint(app: App) -> str:
    return (
        "the console needs an admin to sign in as; make one in another terminal:\n    "
        f"{mailpoll_command(app)} admins add NAME --role admin --password-stdin"
    )


def event_line(routing_key: str, event: Mapping[str, Any]) -> str:
    """One short line per event: `10:02:03 support INBOX "Invoice 42" 18.2 kB` for a received
    message; a sent or failed outbound one says so, with its recipients."""
    data: Mapping[str, Any] = event.get("data") or {}
    head = f"{_local_time(event.get('time'))} {data.get('account', '?')}"
    subject = _quoted(data.get("subject"))
    kind = str(event.get("type", "")).removeprefix("mailpoll.message.")
    if kind == "received":  # POP3 has no folders: its mail is the INBOX
        return f"{head} {data.get('folder') or 'INBOX'} {subject} {_size(data.get('size'))}"
    if kind == "sent":
        return f"{head} sent {subject} to {_recipients(data)}"
    if kind == "failed":
        return f"{head} FAILED {subject} to {_recipients(data)}: {data.get('error')}"
    return f"{head} {routing_key}"


def json_line(routing_key: str, event: Mapping[str, Any]) -> str:
    """The whole event, one JSON line, with the routing key it was published under."""
    return json.dumps({"routing_key": routing_key, **event}, ensure_ascii=False)


def _local_time(stamp: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        moment = datetime.now(UTC)
    return moment.astimezone().strftime("%H:%M:%S")


def _quoted(subject: Any) -> str:
    """The subject as a JSON string: quoted, control characters escaped, at most 60 long."""
    if not subject:
        return "(no subject)"
    text = str(subject)
    short = text if len(text) <= SUBJECT_WIDTH else text[: SUBJECT_WIDTH - 1] + "…"
    return json.dumps(short, ensure_ascii=False)


def _size(size: Any) -> str:
    if not isinstance(size, int):
        return "? B"
    if size < 1000:
        return f"{size} B"
    if size < 999_950:  # what would print as 1000.0 kB is 1.0 MB
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


def _recipients(data: Mapping[str, Any]) -> str:
    everyone = [*(data.get("to") or []), *(data.get("cc") or [])]
    if not everyone:
        return "(nobody)"
    more = f" and {len(everyone) - 1} more" if len(everyone) > 1 else ""
    return f"{everyone[0]}{more}"
