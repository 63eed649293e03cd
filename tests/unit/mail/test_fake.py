"""The in-memory mailbox keeps the client contract that the polling code relies on."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError, ConnectError, FolderError
from shared.mail.client import MailboxClient, Rejected, RemoteMessage
from shared.mail.connect import open_mailbox
from tests.support.fake_mailbox import FakeMailbox


def raws(items: list[RemoteMessage | Rejected]) -> list[bytes]:
    return [item.raw for item in items if isinstance(item, RemoteMessage)]


def test_the_fake_is_a_mailbox_client() -> None:
    box: MailboxClient = FakeMailbox()
    with box:
        assert box.folders() == ["INBOX"]
    assert isinstance(box, FakeMailbox)
    assert box.closed


def test_list_new_returns_messages_after_the_cursor_oldest_first() -> None:
    box = FakeMailbox()
    uids = [box.add(b"m%d" % n) for n in range(4)]
    refs = box.list_new("INBOX", uids[1])
    assert [ref.uid for ref in refs] == uids[2:]
    assert [ref.uid for ref in box.list_new("INBOX", 0, limit=2)] == uids[:2]
    assert raws(list(box.fetch(refs))) == [b"m2", b"m3"]
    assert box.select("INBOX").uidnext == uids[-1] + 1


def test_a_message_over_the_limit_is_rejected_and_the_others_still_come() -> None:
    box = FakeMailbox(max_message_mb=1)
    box.add(b"small")
    big = box.add(b"x" * (1024 * 1024 + 1))
    box.add(b"after")
    items = list(box.fetch(box.list_new("INBOX")))
    assert raws(items) == [b"small", b"after"]
    rejected = [item for item in items if isinstance(item, Rejected)]
    assert [item.ref.uid for item in rejected] == [big]
    assert "max_message_mb=1" in str(rejected[0].error)


def test_actions_touch_only_the_given_messages_and_are_recorded() -> None:
    box = FakeMailbox()
    box.create_folder("Done")
    first, second, third = (box.add(b"m%d" % n) for n in range(3))
    refs = {ref.uid: ref for ref in box.list_new("INBOX")}
    box.mark_read([refs[first]])
    box.move([refs[second]], "Done")
    box.delete([refs[third]])
    assert box.folders_["INBOX"].messages[first].flags == {"\\Seen"}
    assert list(box.folders_["INBOX"].messages) == [first]
    assert [m.raw for m in box.folders_["Done"].messages.values()] == [b"m1"]
    assert [action[0] for action in box.actions] == ["list_new", "mark_read", "move", "delete"]


def test_refs_from_an_old_uidvalidity_are_refused() -> None:
    box = FakeMailbox()
    box.add(b"m")
    refs = box.list_new("INBOX")
    box.reset_uidvalidity()
    with pytest.raises(FolderError, match="UIDVALIDITY"):
        box.delete(refs)
    assert len(box.folders_["INBOX"].messages) == 1


def test_a_missing_folder_is_a_folder_error() -> None:
    with pytest.raises(FolderError):
        FakeMailbox().list_new("Nope")


def test_pop3_mode_deletes_at_close_and_has_no_folders_or_flags() -> None:
    box = FakeMailbox(pop3=True)
    box.add(b"a")
    box.add(b"b")
    refs = box.list_new("INBOX", 99)  # POP3 lists everything: the caller filters by UIDL
    assert [ref.uidl for ref in refs] == ["1", "2"]
    assert all(ref.uid is None for ref in refs)
    box.delete([refs[0]])
    assert len(box.folders_["INBOX"].messages) == 2
    with pytest.raises(ConfigError):
        box.mark_read(refs)
    with pytest.raises(ConfigError):
        box.list_new("Archive")
    box.close()
    assert [m.raw for m in box.folders_["INBOX"].messages.values()] == [b"b"]


def test_fail_with_makes_the_next_call_fail_once() -> None:
    box = FakeMailbox()
    box.fail_with = ConnectError("dropped")
    with pytest.raises(ConnectError):
        box.list_new("INBOX")
    assert box.list_new("INBOX") == []


def test_an_unknown_protocol_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="protocol"):
        open_mailbox("nntp", None, None, account="a")  # type: ignore[arg-type]
