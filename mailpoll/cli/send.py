"""`mailpoll send` and `mailpoll feedback`: mail through the outbound account."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from mailpoll.app import App
    from mailpoll.runtime import Runtime
    from workers.send import SendRequest


@click.command("send")
@click.option("--to", "to", multiple=True, required=True, help="recipient (repeatable)")
@click.option("--cc", "cc", multiple=True, help="copy recipient (repeatable)")
@click.option("--subject", required=True, help="subject line")
@click.option("--body", help="the text of the mail")
@click.option(
    "--body-file", type=click.File("r", encoding="utf-8"), help="read the text from a file"
)
@click.option(
    "--attach", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="attach a file (repeatable)",
)  # fmt: skip
@click.option("--from", "sender", help="sender [default: the system email address]")
@click.option("--no-wait", is_flag=True, help="queue it for a worker and return at once")
@click.pass_obj
def send_command(
    app: App, to: tuple[str, ...], cc: tuple[str, ...], subject: str, body: str | None,
    body_file: TextIO | None, attach: tuple[Path, ...], sender: str | None,
    no_wait: bool,
) -> None:  # fmt: skip
    """Send a mail through the enabled outbound account; waits for the server's answer
    unless --no-wait (then a worker sends it, retrying what is worth retrying)."""
    from mailpoll.runtime import Runtime
    from shared import jobs
    from workers.send import SendRequest, send_mail

    if (body is None) == (body_file is None):
        raise click.UsageError("give one of --body and --body-file")
    text = body if body is not None else body_file.read()  # type: ignore[union-attr]
    request = SendRequest(
        to=list(to), cc=list(cc), subject=subject, body=text, sender=sender,
        attachments=[str(path.resolve()) for path in attach],
    )  # fmt: skip
    runtime = Runtime(app, allow_embedded=not no_wait)
    try:
        if no_wait:
            request = _share_attachments(runtime, request)
            job = jobs.enqueue_send(runtime.backend.broker, request.payload())
            click.echo(f"queued: job {job}")
            return
        result = send_mail(request, runtime.send_deps)
    finally:
        runtime.close()
    click.echo(f"sent: {result.message_id}")
    for address, (code, words) in result.refused.items():
        click.echo(f"refused: {address}: {code} {words}", err=True)


def _share_attachments(runtime: Runtime, request: SendRequest) -> SendRequest:
    """Copy attachments where every worker can read them: the shared upload directory."""
    from workers.send import SendRequest

    if not request.attachments:
        return request
    folder = runtime.upload_dir / "default" / "out" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    copies = []
    for path in request.attachments:
        target = folder / Path(path).name
        shutil.copyfile(path, target)
        copies.append(str(target.resolve()))
    return SendRequest(**{**request.payload(), "attachments": copies})


@click.command("feedback")
@click.argument("text")
@click.pass_obj
def feedback_command(app: App, text: str) -> None:
    """Send TEXT to the feedback address (logged instead when there is none)."""
    from mailpoll.runtime import Runtime
    from shared.feedback import send_feedback
    from workers.send import SendRequest, send_mail

    with app.system_settings() as store:
        address = store.get("feedback_email_address")
    runtimes: list[Runtime] = []

    def send(to: str, subject: str, body: str) -> str:
        runtimes.append(Runtime(app, allow_embedded=True))
        request = SendRequest(to=[to], subject=subject, body=body)
        return send_mail(request, runtimes[0].send_deps).message_id

    try:
        outcome = send_feedback(text, address, send)
    finally:
        for runtime in runtimes:
            runtime.close()
    click.echo(outcome.detail, err=not outcome.sent)
