"""What the web app works with, handed in by the composition root (`mailpoll/`).

The web layer imports `shared` only; what lives in `workers` (Test Configuration, sending,
OAuth2 token handling) reaches it as plain callables here, so the layers stay one-way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.db.database import Database
from shared.db.models import Account
from shared.secrets import SecretBox
from shared.settings import Settings
from shared.status import DueTimes

#: Runs Test Configuration of an account's values, saved or not (the account, and the clear
#: password of unsaved values), and yields each step as it finishes, as `mailpoll accounts
#: test --json` gives them: {"name", "ok", "seconds", "detail", "hint"}.
ConfigTest = Callable[[Account, str | None], Iterator[dict[str, Any]]]
#: Sends a mail through the enabled outbound account, as `mailpoll send` does:
#: (to, subject, body) -> {"message_id", "refused": {address: [code, words]}}.
SendMail = Callable[[list[str], str, str], dict[str, Any]]
#: Follows received-message events from now on: (on_event, stop, on_ready); on_ready is called
#: once bound (what is published from then on arrives); returns when stop is set, raises
#: MailpollError when the event transport cannot be reached or is lost.
FollowEvents = Callable[
    [Callable[[dict[str, Any]], None], threading.Event, Callable[[], None]], None
]
#: A readiness check: None when fine, else why not (one line).
Check = Callable[[], str | None]


@dataclass(frozen=True)
class WebServices:
    """The collaborators of the web app; built once per process."""

    settings: Settings
    database: Database
    secrets: Callable[[], SecretBox]
    config_test: ConfigTest | None = None
    send_mail: SendMail | None = None
    readiness: dict[str, Check] = field(default_factory=dict)
    follow_events: FollowEvents | None = None  # the console's live events
    due_times: DueTimes | None = None  # None: no schedule to ask (next polls are estimated)
