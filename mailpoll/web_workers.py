"""What the web app reaches in `workers`, as the plain callables `WebServices` carries:
Test Configuration (each step handed over as it finishes) and sending mail."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any

from mailpoll.app import App
from shared.db.models import Account
from web.services import ConfigTest, FollowEvents, SendMail

if TYPE_CHECKING:
    from workers.send import SendDeps

log = logging.getLogger(__name__)


def config_test(app: App) -> ConfigTest:
    """Test Configuration in a thread of its own, each step handed over as it finishes."""

    def steps(account: Account, password: str | None) -> Iterator[dict[str, Any]]:
        from shared.clock import utcnow
        from workers.configtest import run_config_test

        with app.system_settings() as store:
            sender = store.get("system_email_address")
        finished: queue.Queue[dict[str, Any] | None] = queue.Queue()

        def run() -> None:
            try:
                run_config_test(
                    account, password=password, credentials=app.credentials, clock=utcnow,
                    sender=sender, on_step=lambda step: finished.put(asdict(step)),
                )  # fmt: skip
            except Exception as error:  # a bug: the stream still ends, as a failed step
                log.exception("%s: Test Configuration failed unexpectedly", account.name)
                detail = f"unexpected error: {type(error).__name__}"
                finished.put({"name": "test", "ok": False, "seconds": 0.0, "detail": detail,
                              "hint": "see the web process's log"})  # fmt: skip
            finally:
                finished.put(None)

        threading.Thread(target=run, name=f"config-test-{account.name}", daemon=True).start()
        while (step := finished.get()) is not None:
            yield step

    return steps


def send_mail(app: App) -> SendMail:
    """Mail through the outbound account now, publishing message.sent as `mailpoll send` does."""

    def send(to: list[str], subject: str, body: str) -> dict[str, Any]:
        from workers.send import SendRequest
        from workers.send import send_mail as send_now

        result = send_now(SendRequest(to=to, subject=subject, body=body), _send_deps(app))
        refused = {address: [code, words] for address, (code, words) in result.refused.items()}
        return {"message_id": result.message_id, "refused": refused}

    return send


def follow_events(app: App) -> FollowEvents:
    """Received-message events from now on, from where this process's events are published."""

    def follow(
        on_event: Callable[[dict[str, Any]], None],
        stop: threading.Event,
        on_ready: Callable[[], None],
    ) -> None:
        from mailpoll.runtime import events_target
        from shared.event_consumer import EventConsumer

        with EventConsumer(events_target(app.settings)) as consumer:
            on_ready()
            while not stop.is_set():
                consumer.drain(on_event, timeout=0.5)

    return follow


@cache
def _send_deps(app: App) -> SendDeps:
    from mailpoll.runtime import events_target
    from shared import eventbus
    from shared.clock import utcnow
    from workers.send import SendDeps

    publishers = eventbus.PublisherPerThread(events_target(app.settings))
    return SendDeps(
        database=app.database, settings=app.settings, credentials=app.credentials,
        publish=lambda batch: publishers.get().publish_many(batch), clock=utcnow,
    )  # fmt: skip
