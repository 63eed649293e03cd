"""A throwaway redis-server on a loopback port, without persistence."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.support.ports import free_port, wait_until_free


class RedisServer:
    """redis-server as a child process; `restart()` comes back on the same port, empty."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.url = f"redis://{self.host}:{self.port}/0"
        self.root = Path(tempfile.mkdtemp(prefix="mailpoll-redis-"))
        self.log_file = self.root / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start redis-server and return once it answers PING."""
        if self._proc is not None:
            raise RuntimeError("redis-server is already started")
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", self.host,
                 "--save", "", "--appendonly", "no", "--daemonize", "no",
                 "--dir", str(self.root)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.root,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        try:
            while not self.ping():
                code = self._proc.poll()
                if code is not None:
                    raise RuntimeError(f"redis-server exited with code {code}")
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"redis-server did not answer PING in {timeout} s")
                time.sleep(0.005)
        except BaseException:
            self.stop()
            raise

    def ping(self) -> bool:
        """True if the server answers PING now."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.makefile("rb").readline() == b"+PONG\r\n"
        except OSError:
            return False

    def stop(self) -> None:
        """Kill the server (it keeps nothing) and wait until the port is free."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.kill()
        proc.wait()
        wait_until_free(self.host, [self.port])

    def restart(self) -> None:
        """Kill and start again on the same port: an outage that loses all data."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop and delete the temporary directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 50) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return "(redis-server wrote no log)"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
