"""Free loopback ports for throwaway servers, and waiting until a port answers."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until a TCP connection to host:port succeeds; TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{host}:{port} did not accept connections in {timeout} s"
                ) from exc
            time.sleep(0.01)


def port_is_free(host: str, port: int) -> bool:
    """True when host:port can be bound again (as servers do, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_until_free(host: str, ports: list[int], timeout: float = 5.0) -> None:
    """Block until every port can be bound again; TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not all(port_is_free(host, port) for port in ports):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"ports {ports} on {host} still in use after {timeout} s")
        time.sleep(0.005)
