"""ETags and If-Match: the second of two admins saving the same account gets 412, not a
silent overwrite of the first one's change."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from web.problems import Problem

#: What changes without anyone editing the account (a token refresh while polling): an edit
#: read before a refresh must still be accepted after it.
RUNTIME_FIELDS = frozenset(
    {"oauth_status", "token_who", "token_scopes", "token_expires_at", "token_unreadable"}
)


def etag_of(view: dict[str, Any]) -> str:
    """A strong ETag of what a client was shown: any change an administrator makes to the
    account changes it; the token's own refreshes do not."""
    kept = {key: value for key, value in view.items() if key not in RUNTIME_FIELDS}
    text = json.dumps(kept, sort_keys=True, default=str, ensure_ascii=False)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def check_if_match(if_match: str | None, current: str, *, required: bool = True) -> None:
    """Refuse a change made to a version the client did not read: 428 without If-Match (when
    required), 412 when it names another version."""
    if if_match is None:
        if required:
            raise Problem(
                428,
                "send If-Match with the ETag of the account as you read it "
                "(the ETag header of GET /api/accounts/NAME)",
            )
        return
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and current not in tags:
        raise Problem(
            412,
            "the account was changed since you read it: read it again and redo your change",
        )
