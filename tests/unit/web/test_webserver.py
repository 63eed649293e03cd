"""The web process's listening socket: made before anything starts, TCP said outright (so
asyncio turns Nagle off and small answers do not wait for a delayed ACK), and a port in use
is one line."""

from __future__ import annotations

import socket

import pytest

from mailpoll.webserver import listen
from shared.errors import MailpollError


def test_the_socket_says_tcp_so_answers_go_out_at_once() -> None:
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[1] > 0
    finally:
        sock.close()


def test_a_port_in_use_is_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(MailpollError) as refused:
            listen("127.0.0.1", port)

    assert str(refused.value) == (
        f"web: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another process has it: choose another port, MAILPOLL_WEB_PORT)"
    )


def test_an_address_not_of_this_machine_is_one_line() -> None:
    with pytest.raises(MailpollError, match=r"^web: cannot listen on 192\.0\.2\.1:8080: "):
        listen("192.0.2.1", 8080)
