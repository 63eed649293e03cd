"""Proof that the real-server fixtures work: Dovecot, Redis and PostgreSQL."""

from __future__ import annotations

import poplib
import socket
import ssl
from datetime import UTC, datetime

import psycopg
import pytest
import redis
from imapclient import IMAPClient

from tests.support.dovecot import DovecotServer
from tests.support.postgres import (
    PostgresCluster,
    drop_database,
    fresh_database,
    postgres_admin_url,
)
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

RAW = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    b"Message-ID: <fixture-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln.\r\n"
    b"\r\n"
    b"-- \r\n"
    b"Alice\r\n"
)


def _tls(dovecot: DovecotServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(dovecot.ca_file))


# -- Dovecot: IMAP --------------------------------------------------------------------------


def test_imap_plain_login(dovecot: DovecotServer, mailbox_user: tuple[str, str]) -> None:
    user, password = mailbox_user
    with IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10) as client:
        client.login(user, password)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_imap_wrong_password_is_refused(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _password = mailbox_user
    with (
        IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10) as client,
        pytest.raises(IMAPClient.Error),
    ):
        client.login(user, "wrong")


@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost"])
def test_imap_starttls_verifies_the_certificate(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], hostname: str
) -> None:
    user, password = mailbox_user
    with IMAPClient(hostname, port=dovecot.imap_port, ssl=False, timeout=10) as client:
        client.starttls(_tls(dovecot))
        client.login(user, password)
        assert b"INBOX" in {name.encode() for _f, _d, name in client.list_folders()}


def test_imaps_verifies_the_certificate(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    with IMAPClient(
        dovecot.host, port=dovecot.imaps_port, ssl=True, ssl_context=_tls(dovecot), timeout=10
    ) as client:
        client.login(user, password)
        client.select_folder("INBOX")


def test_imaps_without_the_ca_file_fails_verification(dovecot: DovecotServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl=True, timeout=10)


# -- Dovecot: POP3 --------------------------------------------------------------------------


def _pop3_check(pop: poplib.POP3, dovecot: DovecotServer, user: str, password: str) -> None:
    try:
        pop.user(user)
        pop.pass_(password)
        assert pop.stat() == (1, len(RAW))
        _resp, listing, _octets = pop.uidl()
        # pop3_uidl_format = %08Xu%08Xv: UID then UIDVALIDITY, in lower-case hex in Dovecot 2.3.
        assert listing == [f"1 {1:08x}{dovecot.uidvalidity(user):08x}".encode()]
        pop.quit()
    finally:
        pop.close()


def test_pop3_plain_stat_and_uidl(dovecot: DovecotServer, mailbox_user: tuple[str, str]) -> None:
    user, password = mailbox_user
    dovecot.append(user, RAW)
    _pop3_check(poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=10), dovecot, user, password)


def test_pop3_stls(dovecot: DovecotServer, mailbox_user: tuple[str, str]) -> None:
    user, password = mailbox_user
    dovecot.append(user, RAW)
    pop = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=10)
    pop.stls(context=_tls(dovecot))
    _pop3_check(pop, dovecot, user, password)


def test_pop3_ssl(dovecot: DovecotServer, mailbox_user: tuple[str, str]) -> None:
    user, password = mailbox_user
    dovecot.append(user, RAW)
    pop = poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=_tls(dovecot), timeout=10)
    _pop3_check(pop, dovecot, user, password)


# -- Dovecot: mailbox helpers ---------------------------------------------------------------


def test_append_returns_the_uid_and_messages_reads_back_the_same_bytes(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _password = mailbox_user
    second = RAW.replace(b"fixture-1", b"fixture-2") + b"x" * 70 + b"\r\n"
    when = datetime(2024, 2, 29, 12, 30, tzinfo=UTC)
    assert dovecot.append(user, RAW) == 1
    assert dovecot.append(user, second, internal_date=when) == 2
    assert dovecot.messages(user) == {1: RAW, 2: second}
    with dovecot.imap(user) as client:
        client.select_folder("INBOX", readonly=True)
        internal = client.fetch([2], ["INTERNALDATE"])[2][b"INTERNALDATE"]
    assert internal.astimezone(UTC) == when


def test_flags_are_stored_and_reported(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _password = mailbox_user
    seen = dovecot.append(user, RAW, flags=[b"\\Seen", b"\\Flagged"])
    unseen = dovecot.append(user, RAW)
    flags = dovecot.flags(user)
    assert {b"\\Seen", b"\\Flagged"} <= set(flags[seen])
    assert b"\\Seen" not in flags[unseen]


def test_folders_with_non_ascii_names(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _password = mailbox_user
    dovecot.create_folder(user, "Entwürfe")
    uid = dovecot.append(user, RAW, folder="日本語 & Co")  # created by append
    assert set(dovecot.folders(user)) == {"INBOX", "Entwürfe", "日本語 & Co"}
    assert dovecot.messages(user, "日本語 & Co") == {uid: RAW}
    assert dovecot.messages(user, "Entwürfe") == {}
    assert dovecot.uidvalidity(user, "日本語 & Co") > 0


def test_reset_uidvalidity_changes_it_and_keeps_the_mail(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _password = mailbox_user
    uid = dovecot.append(user, RAW, folder="Archive")
    before = dovecot.uidvalidity(user, "Archive")
    inbox_before = dovecot.uidvalidity(user)
    dovecot.reset_uidvalidity(user, "Archive")
    assert dovecot.uidvalidity(user, "Archive") != before
    assert dovecot.uidvalidity(user) == inbox_before
    assert dovecot.messages(user, "Archive") == {uid: RAW}


def test_add_user_takes_effect_without_restart(dovecot: DovecotServer) -> None:
    dovecot.add_user("carol", "first")
    assert dovecot.folders("carol") == ["INBOX"]
    dovecot.add_user("carol", "other")  # same length, same second: must still be noticed
    with (
        IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10) as client,
        pytest.raises(IMAPClient.Error),
    ):
        client.login("carol", "first")
    assert dovecot.folders("carol") == ["INBOX"]


def test_new_user_names_are_unique(dovecot: DovecotServer) -> None:
    assert dovecot.new_user() != dovecot.new_user()


def test_restart_keeps_ports_users_and_mail(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _password = mailbox_user
    uid = dovecot.append(user, RAW)
    ports = dovecot.ports
    dovecot.restart()
    assert dovecot.ports == ports
    assert dovecot.messages(user) == {uid: RAW}


def test_dovecot_that_cannot_start_fails_with_its_log() -> None:
    server = DovecotServer()
    try:
        with socket.socket() as squatter:
            squatter.bind((server.host, server.imap_port))
            squatter.listen()
            with pytest.raises(RuntimeError, match="dovecot exited"):
                server.start()
        assert "Address already in use" in server.log_tail()
    finally:
        server.cleanup()


# -- Redis ----------------------------------------------------------------------------------


def test_redis_answers_and_starts_empty(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping()
        assert client.dbsize() == 0
        client.set("mailpoll:test", "1")


def test_redis_restart_comes_back_on_the_same_port_empty(
    redis_server: RedisServer, redis_url: str
) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.set("mailpoll:test", "1")
    port = redis_server.port
    redis_server.stop()
    assert not redis_server.ping()
    redis_server.start()
    assert redis_server.port == port
    assert redis_server.url == redis_url
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping()
        assert client.get("mailpoll:test") is None


# -- PostgreSQL -----------------------------------------------------------------------------


def _databases(admin_url: str) -> set[str]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_postgres_fresh_database_is_usable(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://")
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO t VALUES (1, 'hello')")
        assert conn.execute("SELECT body FROM t").fetchall() == [("hello",)]


def test_postgres_drop_database_removes_it_even_with_a_connection_open() -> None:
    admin_url = postgres_admin_url()
    url = fresh_database(admin_url)
    name = url.rsplit("/", 1)[1]
    assert name in _databases(admin_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        drop_database(admin_url, url)
    assert name not in _databases(admin_url)


def test_postgres_throwaway_cluster_starts_and_stops() -> None:
    cluster = PostgresCluster()
    try:
        cluster.start()
        url = fresh_database(cluster.url)
        with psycopg.connect(url) as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
        drop_database(cluster.url, url)
    finally:
        cluster.cleanup()
    assert not cluster.root.exists()
