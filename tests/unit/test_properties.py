"""The documented account properties: parsing, refusal of unknown keys, typed defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import properties
from shared.errors import ConfigError


def test_defaults_differ_for_sending_where_the_seed_says_so() -> None:
    assert properties.Properties.of("", "inbound").timeout == 60.0
    assert properties.Properties.of("", "outbound").timeout == 10.0
    assert properties.Properties.of("timeout=3", "outbound").timeout == 3.0


def test_values_are_typed(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    text = f"tls_verify=no\nfetch_chunk=7\ntls_ca_file={ca}\ntls_min_version=TLSv1.3"
    typed = properties.Properties.of(properties.check(text, "inbound"), "inbound")
    assert (typed.tls_verify, typed.fetch_chunk, typed.tls_ca_file) == (False, 7, str(ca))
    assert typed.tls_min_version == "TLSv1.3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frobnicate=1", "unknown key 'frobnicate'"),
        ("timeout=1\ntimeout=2", "'timeout' is given twice"),
        ("=1", "expected key=value"),
        ("timeout=0", "greater than 0"),
        ("tls_verify=maybe", "true or false"),
        ("tls_min_version=TLSv1.0", "TLSv1.2 or TLSv1.3"),
        ("fetch_chunk=0", "at least 1"),
        ("smtp_helo=me", "does not apply to inbound"),
    ],
)
def test_bad_properties_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        properties.check(text, "inbound")
    assert caught.value.field == "properties"


def test_comments_and_blank_lines_are_allowed_and_dropped() -> None:
    assert properties.check("# why\n\n timeout = 5 ", "inbound") == "timeout=5"
