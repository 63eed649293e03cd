"""Misbehaving servers for the mailbox client tests: silent, without STARTTLS, wrong name."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.mail.client import Encryption, Endpoint
from shared.properties import Properties
from tests.support.smtp_server import self_signed

Reply = Callable[[str], bytes | None]  # a line -> the answer (b"": none, None: hang up)


def endpoint(port: int, encryption: Encryption = "none", properties: str = "") -> Endpoint:
    """An endpoint on 127.0.0.1 with properties given as `key=value` lines."""
    return Endpoint("127.0.0.1", port, encryption, Properties.of(properties, "inbound"))


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def _stop(sock: socket.socket) -> None:
    """Close a listener; shutting it down first wakes a thread blocked in accept()."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def closed_port() -> int:
    """A port that nothing listens on: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connections are accepted (by the kernel's backlog) and never answered."""
    with _listener() as sock:
        yield sock.getsockname()[1]


def imap_script(answers: dict[str, bytes | None], otherwise: bytes | None) -> Reply:
    """Answers by IMAP command name (`LOGIN`, ...), else `otherwise`; `{tag}` is the tag."""

    def reply(line: str) -> bytes | None:
        tag, _, command = line.partition(" ")
        answer = answers.get(command.partition(" ")[0].upper(), otherwise)
        return None if answer is None else answer.replace(b"{tag}", tag.encode())

    return reply


class ScriptedServer:
    """One connection at a time: sends a greeting, then answers each line through `reply`."""

    def __init__(self, greeting: bytes, reply: Reply) -> None:
        self.greeting = greeting
        self.reply = reply
        self.received: list[str] = []
        self._sock = _listener()
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as lines:
            conn.sendall(self.greeting)
            for raw in lines:
                line = raw.decode().rstrip("\r\n")
                self.received.append(line)
                answer = self.reply(line)
                if answer is None:
                    return
                conn.sendall(answer)

    def close(self) -> None:
        _stop(self._sock)
        self._thread.join(timeout=5)


@pytest.fixture
def scripted_server() -> Iterator[Callable[[bytes, Reply], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(greeting: bytes, reply: Reply) -> ScriptedServer:
        servers.append(ScriptedServer(greeting, reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def wrong_name_tls(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """(port, CA file) of a TLS server whose certificate names `wrong.example`, not 127.0.0.1."""
    cert_file, key_file = self_signed(tmp_path, "wrong.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    sock = _listener()

    def serve() -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        conn.settimeout(5)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except OSError:  # the client gives up on the handshake: that is the point
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], cert_file
    _stop(sock)
    thread.join(timeout=5)
