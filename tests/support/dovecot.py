"""A throwaway Dovecot (IMAP, IMAPS, POP3, POP3S on loopback) in a temporary directory."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient

from tests.support.ports import free_port, wait_for_port, wait_until_free

# A Dovecot for tests: IMAP and POP3 (plain, STARTTLS, SSL) on loopback, users from passwd
# files, Maildir, plus the settings that make start, stop and failed logins fast. @NAME@
# placeholders are filled in per run.
# - One passwd file per user: Dovecot rereads a changed passwd file at most once a second, but
#   a file it has not seen yet (a new user) is read at once.
# - service_count = 0 keeps one long-lived login process per protocol; with the default (a new
#   process per connection) a SIGTERM that lands while a fresh login process starts up makes
#   the master wait seconds for it.
# - A failed login still answers after about 0.5 s: Dovecot's auth process flushes failures on
#   a 500 ms timer even with auth_failure_delay = 0 (a passdb `nodelay` field did not help).
_CONFIG = """\
base_dir = @ROOT@/run
state_dir = @ROOT@/state
log_path = @ROOT@/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
default_login_user = dovenull
default_internal_user = dovecot
ssl = yes
ssl_cert = <@ROOT@/cert.pem
ssl_key = <@ROOT@/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
stats_writer_socket_path =
mail_location = maildir:@ROOT@/mail/%u
pop3_uidl_format = %08Xu%08Xv
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u @ROOT@/passwd.d/%u
@PASSWD_MECHANISMS@
}
@OAUTH2_PASSDB@
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=@ROOT@/home/%u
}
service imap-login {
  chroot =
  service_count = 0
  inet_listener imap {
    port = @IMAP_PORT@
  }
  inet_listener imaps {
    port = @IMAPS_PORT@
    ssl = yes
  }
}
service pop3-login {
  chroot =
  service_count = 0
  inet_listener pop3 {
    port = @POP3_PORT@
  }
  inet_listener pop3s {
    port = @POP3S_PORT@
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


class DovecotServer:
    """Dovecot serving passwd-file users with Maildir storage under `root`.

    Ports are picked once, so `restart()` comes back on the same ones. Test helpers below
    (`append`, `messages`, ...) talk IMAP to the server as the user, with the user's password.
    """

    host = "127.0.0.1"

    def __init__(self, *, oauth2_introspection_url: str | None = None) -> None:
        """`oauth2_introspection_url` adds XOAUTH2/OAUTHBEARER logins checked against it."""
        self.oauth2_introspection_url = oauth2_introspection_url
        self.root = Path(tempfile.mkdtemp(prefix="mailpoll-dovecot-"))
        self.root.chmod(0o755)  # Dovecot's unprivileged processes must traverse it
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.pop3_port = free_port()
        self.pop3s_port = free_port()
        self.ca_file = self.root / "cert.pem"
        self.config_file = self.root / "dovecot.conf"
        self.log_file = self.root / "dovecot.log"
        self._stderr_file = self.root / "dovecot.stderr"
        self._passwd_dir = self.root / "passwd.d"
        self._passwords: dict[str, str] = {}
        self._user_counter = 0
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._prepare()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    # -- lifecycle ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        config = _CONFIG.replace("@ROOT@", str(self.root))
        config = self._oauth2(config)
        for name, port in (
            ("IMAP", self.imap_port),
            ("IMAPS", self.imaps_port),
            ("POP3", self.pop3_port),
            ("POP3S", self.pop3s_port),
        ):
            config = config.replace(f"@{name}_PORT@", str(port))
        self.config_file.write_text(config)
        key_file = self.root / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key_file), "-out", str(self.ca_file), "-days", "2",
             "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
        key_file.chmod(0o644)
        self._passwd_dir.mkdir(mode=0o755)
        for sub in ("mail", "home"):
            (self.root / sub).mkdir(mode=0o755)
            shutil.chown(self.root / sub, "dovecot", "dovecot")

    def _oauth2(self, config: str) -> str:
        if self.oauth2_introspection_url is None:
            return config.replace("@PASSWD_MECHANISMS@\n", "").replace("@OAUTH2_PASSDB@\n", "")
        settings = self.root / "oauth2.conf"
        settings.write_text(
            "introspection_mode = post\n"
            f"introspection_url = {self.oauth2_introspection_url}\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        passdb = (
            "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {settings}\n}}\n"
        )
        config = config.replace(
            "auth_mechanisms = plain login", "auth_mechanisms = plain login xoauth2 oauthbearer"
        )
        config = config.replace("@PASSWD_MECHANISMS@", "  mechanisms = plain login")
        return config.replace("@OAUTH2_PASSDB@\n", passdb)

    def start(self, timeout: float = 10.0) -> None:
        """Start Dovecot in the foreground and return once IMAP and POP3 greet."""
        if self._proc is not None:
            raise RuntimeError("Dovecot is already started")
        with self._stderr_file.open("ab") as stderr:
            self._proc = subprocess.Popen(
                ["dovecot", "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        try:
            self._await_greeting(self.imap_port, b"* OK", deadline)
            self._await_greeting(self.pop3_port, b"+OK", deadline)
            for port in (self.imaps_port, self.pop3s_port):
                wait_for_port(self.host, port, max(deadline - time.monotonic(), 0.1))
        except BaseException:
            self._stop(wait_for_ports=False)  # something else may hold a port
            raise

    def _await_greeting(self, port: int, prefix: bytes, deadline: float) -> None:
        # A bare TCP connect succeeds before auth is ready; the greeting comes after it is.
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise RuntimeError(f"dovecot exited with code {code}")
            try:
                with socket.create_connection((self.host, port), timeout=1.0) as sock:
                    if sock.makefile("rb").readline().startswith(prefix):
                        return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no {prefix!r} greeting on port {port}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM, SIGKILL after 1 s) and wait until its ports are free."""
        self._stop(wait_for_ports=True)

    def _stop(self, *, wait_for_ports: bool) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)
        # The master may be gone while children of its process group linger: end them too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if wait_for_ports:
            wait_until_free(self.host, self.ports)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same users and mail."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop and delete the temporary directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    @property
    def ports(self) -> list[int]:
        return [self.imap_port, self.imaps_port, self.pop3_port, self.pop3s_port]

    def log_tail(self, lines: int = 50) -> str:
        """The last lines of Dovecot's log (and of its stderr, where start-up errors go)."""
        parts = []
        for path in (self._stderr_file, self.log_file):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts) or "(Dovecot wrote no log)"

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Add (or change) a user; a running Dovecot accepts the login at once."""
        if not name or any(c in name for c in ":/\n") or any(c in password for c in ":\n"):
            raise ValueError(f"unusable user name or password for {name!r}")
        changed = self._passwords.get(name, password) != password
        self._passwords[name] = password
        path = self._passwd_dir / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        tmp.chmod(0o644)
        if path.exists():
            # Dovecot notices a change by mtime (whole seconds) and size: move the mtime on.
            mtime = max(int(time.time()), int(path.stat().st_mtime) + 1)
            os.utime(tmp, (mtime, mtime))
        tmp.replace(path)
        if changed and self._proc is not None:
            self._await_login(name)

    def _await_login(self, user: str, timeout: float = 3.0) -> None:
        # Dovecot rereads a passwd file it already knows at most once a second.
        deadline = time.monotonic() + timeout
        while True:
            client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
            try:
                client.login(user, self._passwords[user])
                return
            except IMAPClient.Error:
                if time.monotonic() >= deadline:
                    raise
            finally:
                _close(client)
            time.sleep(0.02)

    def new_user(self, password: str = "secret") -> str:  # noqa: S107
        """Add a user with a name unique to this server and return the name."""
        self._user_counter += 1
        name = f"user-{self._user_counter}"
        self.add_user(name, password)
        return name

    # -- mailbox helpers (IMAP as the user) --------------------------------------------------

    @contextlib.contextmanager
    def imap(self, user: str) -> Iterator[IMAPClient]:
        """A logged-in plain-IMAP connection as `user`, logged out afterwards."""
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
        try:
            client.login(user, self._passwords[user])
            yield client
        finally:
            _close(client)

    def append(
        self,
        user: str,
        raw: bytes,
        folder: str = "INBOX",
        flags: Sequence[bytes | str] = (),
        internal_date: datetime | None = None,
    ) -> int:
        """Store a message in the user's folder (created if missing) and return its UID."""
        with self.imap(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=flags, msg_time=internal_date)
        match = _APPENDUID.search(response)
        if match is None:
            raise RuntimeError(f"no APPENDUID in the APPEND response {response!r}")
        return int(match.group(2))

    def create_folder(self, user: str, folder: str) -> None:
        with self.imap(user) as client:
            client.create_folder(folder)

    def folders(self, user: str) -> list[str]:
        """The user's folder names, decoded from IMAP modified UTF-7."""
        with self.imap(user) as client:
            return [str(name) for _flags, _delim, name in client.list_folders()]

    def messages(self, user: str, folder: str = "INBOX") -> dict[int, bytes]:
        """UID -> raw message bytes, without setting \\Seen. A message expunged between the
        SEARCH and the FETCH (a poll deleting it meanwhile) is left out."""
        with self.imap(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            fetched = client.fetch(uids, [b"BODY.PEEK[]"])
        return {
            int(uid): bytes(data[b"BODY[]"])
            for uid, data in fetched.items()
            if data.get(b"BODY[]") is not None
        }

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes | str, ...]]:
        """UID -> the message's flags as imapclient returns them (bytes)."""
        with self.imap(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            fetched = client.fetch(uids, ["FLAGS"])
        return {int(uid): tuple(data[b"FLAGS"]) for uid, data in fetched.items()}

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.imap(user) as client:
            status = client.folder_status(folder, [b"UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    def reset_uidvalidity(self, user: str, folder: str = "INBOX") -> None:
        """Give the folder a new, larger UIDVALIDITY, as a server rebuilding its index would.

        Uses `doveadm mailbox update --uid-validity` on the running server: messages keep
        their UIDs, but a client must treat every UID it remembers for the folder as stale.
        """
        new = max(self.uidvalidity(user, folder) + 1, int(time.time()))
        result = subprocess.run(
            ["doveadm", "-c", str(self.config_file), "mailbox", "update",
             "-u", user, "--uid-validity", str(new), folder],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"doveadm mailbox update failed: {result.stderr.strip()}")
