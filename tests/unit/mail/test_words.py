"""Server words in error messages: decoded, without bytes reprs or control characters."""

from __future__ import annotations

from shared.mail.words import server_words


def test_bytes_are_decoded_as_utf8_with_replacement() -> None:
    assert server_words(b"-ERR caf\xc3\xa9 \xff") == "-ERR café \ufffd"


def test_a_bytes_repr_in_a_library_message_becomes_its_words() -> None:
    assert server_words("b'[AUTHENTICATIONFAILED] Authentication failed.'") == (
        "[AUTHENTICATIONFAILED] Authentication failed."
    )
    assert server_words("unexpected response: b'220 smtp.example ESMTP'") == (
        "unexpected response: 220 smtp.example ESMTP"
    )


def test_a_list_of_bytes_reprs_becomes_the_words_joined() -> None:
    text = "SELECT command error: BAD [b'Error in', b'caf\\xc3\\xa9']"
    assert server_words(text) == "SELECT command error: BAD Error in café"


def test_control_and_bidi_characters_never_reach_the_message() -> None:
    said = b"no\r\nerror: forged line\x1b[2J\x00 \xe2\x80\xae reversed"
    assert server_words(said) == "no error: forged line [2J reversed"


def test_long_words_are_cut_with_an_ellipsis() -> None:
    words = server_words("x" * 500, limit=20)
    assert words == "x" * 19 + "…"


def test_text_without_reprs_is_kept_and_none_is_empty() -> None:
    assert server_words("Mailbox doesn't exist: b") == "Mailbox doesn't exist: b"
    assert server_words(None) == ""
