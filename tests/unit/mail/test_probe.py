"""Test Configuration's advice on folder names: the one folder a name obviously means."""

from __future__ import annotations

import pytest

from shared.mail.probe import closest_folder, describe_certificate, folder_listing

SERVER = ["INBOX", "INBOX.Archive", "INBOX.Sent", "Projects", "Junk"]


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("Archive", "INBOX.Archive"),  # Cyrus keeps folders under INBOX
        ("archive", "INBOX.Archive"),
        ("projects", "Projects"),
        ("INBOX/Projects", "Projects"),  # out from under INBOX, with another delimiter
        ("Projects", None),  # exists: nothing to suggest
        ("Processed", None),
        ("INBOX", None),
    ],
)
def test_the_obvious_folder_is_suggested(name: str, closest: str | None) -> None:
    assert closest_folder(name, SERVER) == closest


def test_two_equally_likely_folders_suggest_neither() -> None:
    assert closest_folder("archive", ["Archive", "INBOX.Archive"]) is None


def test_a_long_listing_is_sorted_bounded_and_made_safe() -> None:
    names = [f"F{n:02}" for n in range(40, 0, -1)] + ["evil\x1b[2J"]
    assert folder_listing(names, most=3) == "evil [2J, F01, F02, ... (38 more)"
    assert folder_listing(["evil\x1b[2Jname"]) == "evil [2Jname"


def test_a_certificates_names_are_shown_without_control_characters() -> None:
    certificate = {
        "subject": ((("commonName", "mail.example\r\nlogin           ok"),),),
        "issuer": ((("organizationName", "Evil\x1b[2J CA"),),),
    }
    assert describe_certificate(certificate, "TLSv1.3") == (
        "TLSv1.3: commonName=mail.example login ok, issued by organizationName=Evil [2J CA"
    )
