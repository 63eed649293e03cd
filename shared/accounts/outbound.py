"""The one enabled outbound account, the way every sender of mail finds it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from shared.db.models import Account
from shared.errors import ConfigError


def outbound_account(session: Session) -> Account:
    """The one enabled outbound account, or a clear error saying how to get one."""
    query = select(Account).where(Account.type == "outbound", col(Account.enabled).is_(True))
    account = session.exec(query).first()
    if account is None:
        raise ConfigError(
            "outbound account",
            "none is enabled: add one with `mailpoll accounts add NAME --type outbound "
            "--host HOST ...` or enable one with `mailpoll accounts enable NAME`",
        )
    return account
