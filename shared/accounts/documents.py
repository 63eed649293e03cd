"""Export documents as bytes: what `accounts import FILE` and `POST /api/account-import` read.

UTF-8 with or without a byte-order mark (as editors save it), JSON; anything else is one
line naming the source.
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import ConfigError


def parse(data: bytes, source: str) -> Any:
    """The JSON value in `data`; ConfigError naming `source` (a file name, or `body`)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(source, "not UTF-8 text: save it as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(source, f"not valid JSON: {error}") from None
    except RecursionError:
        raise ConfigError(source, "not valid JSON: nested too deeply") from None
