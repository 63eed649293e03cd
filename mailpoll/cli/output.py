"""How commands print: tables and `key: value` blocks for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click


def fail(message: str, code: int) -> int:
    """One line on stderr, so a script's log shows the whole reason."""
    click.echo(f"error: {' '.join(message.split())}", err=True)
    return code


def unexpected_failure(error: Exception) -> tuple[str, int] | None:
    """An error no command translated, as (one line, exit code); None if it is a bug.

    The checks before a write should catch every bad value; this is the net under them, so a
    value that slips through still ends as one line: bad input (2) when the database refused
    a value, a failure (1) when the database or the file system failed otherwise.
    """
    if isinstance(error, OSError):
        where = error.filename if error.filename is not None else "system"
        return f"{where}: {error.strerror or error}", 1
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy import exc  # loaded already: it raised

    if not isinstance(error, exc.SQLAlchemyError):
        return None
    cause = error.orig if isinstance(error, exc.DBAPIError) else error
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if isinstance(error, exc.DataError | exc.IntegrityError):
        return f"database: refused a value: {reason}", 2
    return f"database: {reason}", 1


def note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_plain, ensure_ascii=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [[text(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def block(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max(len(key) for key, _ in pairs)
    for key, value in pairs:
        lines = text(value).splitlines() or [""]
        click.echo(f"{key.ljust(width)}  {lines[0]}")
        for line in lines[1:]:
            click.echo(f"{' ' * width}  {line}")


def text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)
