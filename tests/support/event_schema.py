"""Every event the tests see is checked against the published JSON Schema (docs/)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA = Path(__file__).parents[2] / "docs" / "event.schema.json"


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_event(event: Mapping[str, Any]) -> None:
    """AssertionError naming every way `event` departs from docs/event.schema.json."""
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '(event)'}: {error.message}"
        for error in _validator().iter_errors(event)
    ]
    assert not errors, f"event {event.get('id')} breaks the schema: {errors}"
