"""`mailpoll accounts test` (the seed's Test Configuration) and `accounts authenticate`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from mailpoll.cli import output
from mailpoll.cli.account_options import read_password
from shared.clock import utcnow
from shared.errors import ConfigError

if TYPE_CHECKING:
    from mailpoll.app import App
    from shared.db.models import Account


@click.command("test")
@click.argument("name", required=False)
@click.option(
    "--file", "file", type=click.File("r", encoding="utf-8"),
    help="test the account in this JSON file (as exported) instead of a saved one",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def test_command(app: App, name: str | None, file: Any, as_json: bool) -> None:
    """Try an account step by step: resolve, connect, TLS, login, then the folder (inbound)
    or a test mail to test_to (outbound). Saves nothing; exit code 0 only if every step passed.
    """
    from workers.configtest import run_config_test

    if (name is None) == (file is None):
        raise click.UsageError("give an account NAME or --file ACCOUNT.json")
    if name is not None:
        with app.accounts() as service:
            account = service.get(name)
            password = service.password_of(account)
    else:
        account, password = _from_file(app, file)
    with app.system_settings() as store:
        sender = store.get("system_email_address")
    steps = run_config_test(
        account, password=password, clock=utcnow, sender=sender,
        credentials=app.credentials,
    )  # fmt: skip
    passed = all(step.ok for step in steps)
    if as_json:
        output.emit_json(
            {"account": account.name, "passed": passed, "steps": [s.__dict__ for s in steps]}
        )
    else:
        for step in steps:
            verdict = "ok" if step.ok else "FAILED"
            click.echo(f"{step.name:<15} {verdict:<6} {step.seconds * 1000:7.0f} ms  {step.detail}")
            if step.hint:
                click.echo(f"{'':<15} hint: {step.hint}")
        click.echo("all steps passed" if passed else "the test failed", err=True)
    if not passed:
        raise click.exceptions.Exit(1)


def _from_file(app: App, file: Any) -> tuple[Account, str | None]:
    from shared.accounts import form
    from shared.db.models import Account

    try:
        document = json.load(file)
    except json.JSONDecodeError as error:
        raise ConfigError(file.name, f"not valid JSON: {error}") from None
    if isinstance(document, dict) and isinstance(document.get("accounts"), list):
        if len(document["accounts"]) != 1:
            raise ConfigError(file.name, "holds several accounts: give a file with one")
        document = document["accounts"][0]
    if not isinstance(document, dict):
        raise ConfigError(file.name, "expected a JSON object with the account's fields")
    token = document.pop("password_encrypted", None)
    password = document.pop("password", None)
    if token is not None:
        password = app.secrets.decrypt(str(token), what="password_encrypted")
    draft = form.build(None, {"name": "file", **document})
    now = utcnow()
    account = Account(
        **draft.values, created_by=app.actor, created_at=now, modified_by=app.actor,
        modified_at=now,
    )  # fmt: skip
    return account, password


@click.command("authenticate")
@click.argument("name")
@click.option(
    "--refresh-token-stdin", "from_stdin", is_flag=True, required=True,
    help="read the refresh token the provider issued (its consent flow) from standard input",
)  # fmt: skip
@click.pass_obj
def authenticate_command(app: App, name: str, from_stdin: bool) -> None:
    """Give an oauth2 account its refresh token, and check it by fetching an access token.

    The token is stored encrypted; access tokens are refreshed from it when they run out.
    """
    from shared.accounts import audit
    from shared.oauth import TokenInstance

    del from_stdin  # the only way in: tokens never go on a command line
    refresh_token = read_password().strip()
    with app.accounts() as service:
        account = service.get(name)
    if account.auth_type != "oauth2":
        raise ConfigError("auth_type", f"{name} uses {account.auth_type}, not oauth2")
    had_token = bool(account.client_token_instance_encrypted)
    fresh = app.credentials.refresh(account, TokenInstance(refresh_token=refresh_token))
    with app.database.session() as session:
        audit.record(
            session, kind="account", name=name, action="authenticated", actor=app.actor,
            at=utcnow(), changes={"client_token_instance": [_held(had_token), "(changed)"]},
        )  # fmt: skip
    until = datetime.fromtimestamp(fresh.expires_at or 0, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    click.echo(f"authenticated: {name} (access token valid until {until})")


def _held(held: bool) -> str:
    return "(held)" if held else "(none)"
