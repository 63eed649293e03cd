"""What `mailpoll run` tells its user: where its data is, and commands that work as printed."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailpoll.app import App
    from mailpoll.runtime import Runtime


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
