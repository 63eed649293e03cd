"""A RabbitMQ vhost of the tests' own: on the node that answers on 127.0.0.1:5672 when there
is one, else on a throwaway node started here (its own port, node name, data and cookie)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.ports import free_port, wait_for_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
SYSTEM_PORT = 5672


class RabbitMQ:
    """`url` is an amqp:// URL with guest/guest and a vhost made for this run."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mailpoll-rabbitmq-"))
        self.vhost = f"mailpoll-test-{uuid.uuid4().hex[:8]}"
        self.port = SYSTEM_PORT
        self.node: str | None = None  # set when this class started the node
        self.epmd_port: int | None = None  # the own node's port mapper, stopped with it
        self._proc: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/{self.vhost}"

    def start(self) -> RabbitMQ:
        if not self._system_node_answers():
            self._start_own_node()
        self._ctl("add_vhost", self.vhost)
        self._ctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        return self

    def _system_node_answers(self) -> bool:
        if os.environ.get("MAILPOLL_TEST_OWN_RABBITMQ") == "1":
            return False
        try:
            wait_for_port(self.host, SYSTEM_PORT, timeout=0.5)
        except TimeoutError:
            return False
        return self._ctl("status", check=False).returncode == 0

    def _start_own_node(self) -> None:
        self.port = free_port()
        self.epmd_port = free_port()
        self.node = f"mailpoll{uuid.uuid4().hex[:6]}@localhost"
        (self.root / "enabled_plugins").write_text("[].\n")
        # The node's port mapper, started here in the foreground so that cleanup can stop it:
        # one the VM starts itself daemonizes and outlives the node.
        self._epmd = subprocess.Popen(
            ["epmd", "-address", self.host, "-port", str(self.epmd_port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_for_port(self.host, self.epmd_port, timeout=10)
        with (self.root / "server.log").open("ab") as log:
            self._proc = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")], env=self._env(), stdout=log,
                stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.root,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while self._ctl("await_startup", "--timeout", "5", check=False).returncode != 0:
            if self._proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"rabbitmq-server did not start in 60 s: {self.log_tail()}")
            time.sleep(0.5)
        wait_for_port(self.host, self.port, timeout=10)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ, HOME=str(self.root))
        if self.node is not None:
            env.update(
                ERL_EPMD_PORT=str(self.epmd_port),  # its own epmd, not the machine's on 4369
                RABBITMQ_NODENAME=self.node,
                RABBITMQ_NODE_IP_ADDRESS=self.host,
                RABBITMQ_NODE_PORT=str(self.port),
                RABBITMQ_DIST_PORT=str(free_port()),
                RABBITMQ_MNESIA_BASE=str(self.root / "mnesia"),
                RABBITMQ_LOG_BASE=str(self.root / "log"),
                RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
                RABBITMQ_PID_FILE=str(self.root / "rabbitmq.pid"),
                RABBITMQ_CONFIG_FILE=str(self.root / "rabbitmq"),  # none: the defaults
            )
        return env

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if self.node is None:  # the system's node: its own wrapper, user and cookie
            command = ["rabbitmqctl", *args]
            env = None
        else:
            command = [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, *args]
            env = self._env()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}")
        return done

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            text = (self.root / "server.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log of an own node)"

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("delete_vhost", self.vhost, check=False)
        if self._proc is not None:
            with contextlib.suppress(Exception):
                self._ctl("stop", check=False)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
            subprocess.run(
                ["pkill", "-f", f"-sname {self.node}"], check=False, capture_output=True
            )  # the Erlang VM may have left its process group
        if self._epmd is not None:
            self._epmd.kill()
            self._epmd.wait()
        shutil.rmtree(self.root, ignore_errors=True)
