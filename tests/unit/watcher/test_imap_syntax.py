"""The watcher's IMAP words: strings quoted or sent as literals, what IDLE reports."""

from __future__ import annotations

from watcher.imap_syntax import compose, counts


def test_printable_strings_are_quoted_with_escapes() -> None:
    assert compose(b"LOGIN", 'al"ice', "pa\\ss") == [b'LOGIN "al\\"ice" "pa\\\\ss"']


def test_other_strings_go_as_literals_after_the_servers_go_ahead() -> None:
    assert compose(b"LOGIN", "bob", "pässwort") == [b'LOGIN "bob" {9}', "pässwort".encode()]
    assert compose(b"LOGIN", "jörg", "x\ny") == [b"LOGIN {5}", "jörg {3}".encode(), b"x\ny"]


def test_idle_reports_new_and_expunged_messages_and_ignores_the_rest() -> None:
    said = [
        b"* 4 EXISTS",
        b"* 1 RECENT",
        b"* 2 expunge",
        b"* OK Still here",
        b"* 3 FETCH (FLAGS ())",
    ]
    assert counts(said) == [("EXISTS", 4), ("EXPUNGE", 2)]
