"""What the web app works with, handed in by the composition root (`mailpoll/`).

The web layer imports `shared` only; what lives in `workers` (Test Configuration, sending,
OAuth2 token handling) reaches it as plain callables here, so the layers stay one-way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.db.database import Database
from shared.secrets import SecretBox
from shared.settings import Settings

#: Runs Test Configuration of an account's values (saved or not) and yields each step's
#: result as it finishes: {"step", "ok", "detail", "hint", "seconds"}.
ConfigTest = Callable[[dict[str, Any]], Iterator[dict[str, Any]]]
#: Sends a mail through the outbound account: (to, subject, body) -> a short description.
SendMail = Callable[[list[str], str, str], str]
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
