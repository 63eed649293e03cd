"""Logging, configured once per process at its entry point (the CLI, a worker child)."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(settings: Settings) -> None:
    """Log to stderr at MAILPOLL_LOG_LEVEL; libraries' chatter only from WARNING up."""
    logging.basicConfig(level=settings.log_level.upper(), format=FORMAT, stream=sys.stderr)
    for chatty in ("alembic", "imapclient"):  # their INFO lines say nothing a user needs
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.root.level))
