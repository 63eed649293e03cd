"""A TCP connection, TLS optional, read and written from the asyncio event loop.

Not asyncio's streams: its TLS layer keeps a 256 KiB buffer per connection, and a watcher
holds thousands of mostly silent connections. Here a connection is a non-blocking socket
(wrapped by `ssl` for TLS, whose idle buffers OpenSSL releases) watched with the loop's
add_reader/add_writer, plus a small buffer of what was read and not yet taken.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

CHUNK = 4096
MAX_LINE = 1024 * 1024  # an IMAP server line (with its literals) longer than this is refused
T = TypeVar("T")
_KEEPALIVE = (  # a silently dead peer is noticed in about 60 + 3 * 10 seconds
    ("TCP_KEEPIDLE", 60),
    ("TCP_KEEPINTVL", 10),
    ("TCP_KEEPCNT", 3),
)


class StreamClosed(ConnectionError):
    """The peer closed the connection."""


class Stream:
    """One connection; every wait has the time-out given. OSError (and ssl.SSLError) escape."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    @classmethod
    async def open(cls, host: str, port: int, *, timeout: float) -> Stream:
        """Connect to host:port (the first address that answers); plain until `start_tls`."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            error: OSError = OSError(f"{host}: no address")
            for family, kind, proto, _name, address in infos:
                sock = socket.socket(family, kind, proto)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, address)
                except OSError as failed:
                    sock.close()
                    error = failed
                    continue
                except BaseException:
                    sock.close()
                    raise
                _keepalive(sock)
                return cls(sock)
        raise error

    async def start_tls(self, context: ssl.SSLContext, host: str, *, timeout: float) -> None:
        """TLS handshake on the connection (at once for implicit TLS, or after STARTTLS)."""
        if self._buffer:  # bytes the server sent before the handshake could be forged
            raise ssl.SSLError("the server sent data before the TLS handshake")
        self._sock = context.wrap_socket(
            self._sock, server_hostname=host, do_handshake_on_connect=False
        )
        async with asyncio.timeout(timeout):
            await self._retry(self._sock.do_handshake)

    def peer_certificate(self) -> dict[str, object] | None:
        getpeercert = getattr(self._sock, "getpeercert", None)
        return getpeercert() if getpeercert else None

    async def write(self, data: bytes, *, timeout: float) -> None:
        view = memoryview(data)
        async with asyncio.timeout(timeout):
            while view:
                sent: int = await self._retry(functools.partial(self._sock.send, view))
                view = view[sent:]

    async def readline(self, *, timeout: float | None) -> bytes:
        """The next line with its CRLF; the time-out (None: wait for ever) covers the whole."""
        async with asyncio.timeout(timeout):
            while (end := self._buffer.find(b"\n")) < 0:
                if len(self._buffer) > MAX_LINE:
                    raise OSError("the server sent a line longer than 1 MiB")
                await self._fill()
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            return line

    async def readexactly(self, size: int, *, timeout: float) -> bytes:
        if size > MAX_LINE:
            raise OSError(f"the server sent a literal of {size} bytes")
        async with asyncio.timeout(timeout):
            while len(self._buffer) < size:
                await self._fill()
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            return data

    def close(self) -> None:
        self._sock.close()

    async def _fill(self) -> None:
        data: bytes = await self._retry(lambda: self._sock.recv(CHUNK))
        if not data:
            raise StreamClosed("the server closed the connection")
        self._buffer += data

    async def _retry(self, attempt: Callable[[], T]) -> T:
        """Run a non-blocking socket call until it succeeds, waiting while it would block.

        The call comes first, so bytes TLS has already decrypted are taken without waiting.
        """
        while True:
            try:
                return attempt()
            except (BlockingIOError, ssl.SSLWantReadError):
                await self._ready(write=False)
            except ssl.SSLWantWriteError:
                await self._ready(write=True)

    async def _ready(self, *, write: bool) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        fd = self._sock.fileno()

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        add, remove = (loop.add_writer, loop.remove_writer) if write else (
            loop.add_reader, loop.remove_reader)  # fmt: skip
        add(fd, wake)
        try:
            await waiter
        finally:
            remove(fd)


def _keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in _KEEPALIVE:
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)
