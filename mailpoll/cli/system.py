"""`mailpoll settings ...`: the system settings (addresses, default interval, upload dir)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailpoll.cli import output
from mailpoll.cli.views import print_history

if TYPE_CHECKING:
    from mailpoll.app import App


class _KeysInHelp(click.Command):
    """`settings set`: its help lists the keys, read from the settings module only when shown."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from shared import system_settings

        self.help = f"{self.short_help} Keys: {', '.join(system_settings.SPECS)}."
        super().format_help_text(ctx, formatter)


@click.group("settings")
def group() -> None:
    """Show and change the system settings shared by every mailpoll process."""


@group.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def show(app: App, as_json: bool) -> None:
    """Each setting with its value and where it comes from (database, environment, unset)."""
    with app.system_settings() as store:
        values = store.all()
    if as_json:
        output.emit_json({v.key: {"value": v.value, "source": v.source} for v in values})
        return
    output.table(("KEY", "VALUE", "SOURCE"), [(v.key, v.value, v.source) for v in values])


@group.command("set", cls=_KeysInHelp, short_help="Set KEY to VALUE (an empty VALUE removes it).")
@click.argument("key")
@click.argument("value")
@click.pass_obj
def set_command(app: App, key: str, value: str) -> None:
    with app.system_settings() as store:
        changed = store.set(key, value)
    click.echo(f"{'updated' if changed else 'unchanged'}: {key}")


@group.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def history(app: App, key: str, as_json: bool) -> None:
    """Who changed a setting, when, from what to what."""
    print_history(app, kind="setting", name=key, as_json=as_json)
