"""`mailpoll accounts authenticate NAME --device` (RFC 8628) as a real command, against the
stand-in provider, then a poll whose XOAUTH2 login Dovecot checks with that provider."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import corpus
from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import OAuthServer
from tests.support.processes import MAILPOLL, environment, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[3]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(data_dir=str(tmp_path / "data"))


def mailpoll(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAILPOLL, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def add_account(env: dict[str, str], dovecot: DovecotServer, user: str, config: Any) -> None:
    added = mailpoll(
        env, "accounts", "add", "o", "--type", "inbound", "--host", "127.0.0.1",
        "--encryption", "none", "--port", str(dovecot.imap_port), "--auth-type", "oauth2",
        "--login", user, "--client-token-config", json.dumps(config),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


def start_device_flow(env: dict[str, str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """The command running, the user code it shows, and what it printed up to the code."""
    process = subprocess.Popen(
        [*MAILPOLL, "accounts", "authenticate", "o", "--device"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    shown: list[str] = []
    for line in process.stdout:
        shown.append(line.rstrip("\n"))
        if "enter the code:" in line:
            shown.append(process.stdout.readline().rstrip("\n"))  # the stand-in's complete URI
            return process, line.split("enter the code:")[1].strip(), shown
    process.wait(10)
    pytest.fail(f"no user code shown: {shown} {process.stderr.read() if process.stderr else ''}")


def show(env: dict[str, str]) -> dict[str, Any]:
    shown = mailpoll(env, "accounts", "show", "o", "--json")
    assert shown.returncode == 0, shown.stderr
    view: dict[str, Any] = json.loads(shown.stdout)
    return view


def test_the_device_flow_waits_through_pending_and_slow_down_and_its_token_polls(
    provider: OAuthServer, oauth_dovecot: DovecotServer, env: dict[str, str]
) -> None:
    user = oauth_dovecot.new_user()
    oauth_dovecot.append(user, corpus.plain("via the device grant"))
    add_account(env, oauth_dovecot, user, provider.config())

    process, code, shown = start_device_flow(env)
    grant = provider.device(code)
    verify = f"http://127.0.0.1:{provider.port}/device"
    assert shown == [
        f"To authenticate o, open {verify}",
        f"and enter the code: {code}",
        f"(or open {verify}?user_code={code})",
    ]
    wait_until(lambda: len(grant.polls) >= 1, 30, "a first poll")
    provider.slow_down_next = 1
    wait_until(lambda: any(a == "slow_down" for _, a in grant.polls), 30, "slow_down")
    provider.approve_device(code, user)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 0, err
    assert f"authenticated: o as {user}@example.com (access token valid until" in out
    answers = [answer for _, answer in grant.polls]
    assert answers[0] == "authorization_pending"
    assert answers[-2:] == ["slow_down", "approved"]
    assert provider.too_fast == 0  # the interval, and the 5 s more after slow_down, were kept
    view = show(env)
    assert view["client_token_instance"] == "(held)"
    assert view["token_who"] == f"{user}@example.com"
    assert view["token_scopes"] == "mail openid"
    assert view["token_expires_at"].endswith("Z")
    assert view["oauth_status"].startswith("authenticated; access token valid until")
    held = json.dumps(view)
    assert not any(token in held for token in [*provider.refresh_tokens, *provider.access_tokens])
    history = mailpoll(env, "accounts", "history", "o", "--json")
    assert json.loads(history.stdout)[-1]["action"] == "authenticated"

    polled = mailpoll(env, "poll", "o", "--json")
    assert polled.returncode == 0, polled.stdout + polled.stderr
    assert json.loads(polled.stdout)["announced"] == 1


def test_a_refused_device_consent_is_one_error_line_and_keeps_no_token(
    provider: OAuthServer, oauth_dovecot: DovecotServer, env: dict[str, str]
) -> None:
    add_account(env, oauth_dovecot, oauth_dovecot.new_user(), provider.config())
    process, code, _shown = start_device_flow(env)
    provider.deny_device(code)
    _out, err = process.communicate(timeout=60)

    assert process.returncode == 1
    assert err.splitlines()[-1] == (
        "error: oauth2: consent was refused at the provider (access_denied)"
    )
    assert "Traceback" not in err
    assert show(env)["client_token_instance"] == "(none)"


def test_device_without_a_device_authorization_url_names_the_missing_key(
    provider: OAuthServer, oauth_dovecot: DovecotServer, env: dict[str, str]
) -> None:
    config = provider.config()
    del config["device_authorization_url"]
    add_account(env, oauth_dovecot, "someone", config)
    result = mailpoll(env, "accounts", "authenticate", "o", "--device")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "error: client_token_config: 'device_authorization_url' is required for this"
    )
