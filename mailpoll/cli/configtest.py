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
    from shared.oauth import TokenInstance


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
    from shared.accounts.trial import unsaved_account

    try:
        document = json.load(file)
    except json.JSONDecodeError as error:
        raise ConfigError(file.name, f"not valid JSON: {error}") from None
    return unsaved_account(
        document, lambda: app.secrets, source=file.name, actor=app.actor, default_name="file"
    )


@click.command("authenticate")
@click.argument("name")
@click.option(
    "--device", is_flag=True,
    help="consent on any other device: prints a web address and a code to enter there (RFC 8628)",
)  # fmt: skip
@click.option(
    "--refresh-token-stdin", "from_stdin", is_flag=True,
    help="read a refresh token the provider issued elsewhere from standard input",
)  # fmt: skip
@click.pass_obj
def authenticate_command(app: App, name: str, device: bool, from_stdin: bool) -> None:
    """Give an oauth2 account its refresh token: by consent with --device, or by hand.

    The token is stored encrypted; access tokens are refreshed from it when they run out.
    In a browser, the admin API's Authenticate does the same (authorization code with PKCE).
    """
    from shared import oauth

    if device == from_stdin:
        raise click.UsageError("give one of --device and --refresh-token-stdin")
    refresh_token = read_password().strip() if from_stdin else None
    with app.accounts() as service:
        account = service.get(name)
    if account.auth_type != "oauth2":
        raise ConfigError("auth_type", f"{name} uses {account.auth_type}, not oauth2")
    if refresh_token is not None:
        instance = oauth.TokenInstance(refresh_token=refresh_token)
        fresh = app.credentials.refresh(account, instance, actor=app.actor)
    else:
        fresh = _device_grant(app, account)
    who = f" as {fresh.who}" if fresh.who else ""
    until = datetime.fromtimestamp(fresh.expires_at or 0, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    click.echo(f"authenticated: {name}{who} (access token valid until {until})")


def _device_grant(app: App, account: Account) -> TokenInstance:
    """RFC 8628: show where to go and what to enter, then wait for the person's answer."""
    from shared import oauth, oauth_store
    from shared.oauth_device import DeviceFlow
    from shared.properties import Properties

    config, secret = oauth_store.client_of(account, app.secrets)
    timeout = Properties.of(account.properties, account.type).timeout
    flow = DeviceFlow(config, secret, timeout=timeout)
    code = flow.start()
    click.echo(f"To authenticate {account.name}, open {code.verification_uri}")
    click.echo(f"and enter the code: {code.user_code}")
    if code.verification_uri_complete:
        click.echo(f"(or open {code.verification_uri_complete})")
    minutes = max(1, round(code.expires_in / 60))
    click.echo(f"waiting for approval (the code runs out in {minutes} min) ...", err=True)
    instance = flow.wait(code)
    status = oauth.status_of(instance)
    oauth_store.save(app.database, app.secrets, account, instance, status, actor=app.actor)
    return instance
