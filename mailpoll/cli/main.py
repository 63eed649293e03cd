"""The `mailpoll` command: one entry point, subcommands grouped by what they work on."""

from __future__ import annotations

import sys

import click

from mailpoll.cli.lazy import LazyGroup
from mailpoll.cli.output import fail, unexpected_failure
from shared.errors import ConfigError, MailpollError, NotFoundError

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
# Each command's module is imported when that command runs: see mailpoll/cli/lazy.py.
COMMANDS = {
    "accounts": "mailpoll.cli.accounts:group",
    "settings": "mailpoll.cli.system:group",
    "db": "mailpoll.cli.admin:db",
    "secret-key": "mailpoll.cli.admin:secret_key",
    "scheduler": "mailpoll.cli.pipeline:scheduler_command",
    "worker": "mailpoll.cli.pipeline:worker_command",
    "run": "mailpoll.cli.pipeline:run_command",
    "watcher": "mailpoll.cli.watcher:watcher_command",
    "poll": "mailpoll.cli.pipeline:poll_command",
    "status": "mailpoll.cli.status:status_command",
    "events": "mailpoll.cli.events:group",
    "dead-letters": "mailpoll.cli.deadletters:group",
    "send": "mailpoll.cli.send:send_command",
    "feedback": "mailpoll.cli.send:feedback_command",
    "web": "mailpoll.cli.web:web_command",
    "admins": "mailpoll.cli.admins:group",
    "tokens": "mailpoll.cli.tokens:group",
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="mailpoll")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """mailpoll: polls IMAP and POP3 accounts, saves every message, publishes an event for it,
    and sends mail through one outbound SMTP account.

    Configuration comes from MAILPOLL_* environment variables (see the README); with none set,
    everything lives in ./mailpoll-data. Exit codes: 0 ok, 1 failure, 2 bad input.
    """
    from pydantic import ValidationError  # here, not above: `--help` needs neither

    from mailpoll import logs
    from mailpoll.app import App
    from shared.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "MAILPOLL_" + str(first["loc"][0]).upper() if first["loc"] else "MAILPOLL_*"
        raise ConfigError(name, f"{first['msg']} (got {first.get('input')!r})") from None
    logs.configure(settings)
    ctx.obj = App(settings)
    ctx.call_on_close(ctx.obj.data_dir.note_if_new)  # whichever part made it (events, ...)


def main(argv: list[str] | None = None) -> int:
    """Run the command; every error ends as one line on stderr and a named exit code."""
    try:
        code = cli.main(args=argv, prog_name="mailpoll", standalone_mode=False)
    except click.exceptions.Abort:
        return fail("aborted", EXIT_FAILURE)
    except click.ClickException as error:
        return fail(error.format_message(), error.exit_code)
    except (ConfigError, NotFoundError) as error:
        return fail(str(error), EXIT_BAD_INPUT)
    except MailpollError as error:
        return fail(str(error), EXIT_FAILURE)
    except Exception as error:
        failure = unexpected_failure(error)
        if failure is None:
            raise
        return fail(*failure)
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
