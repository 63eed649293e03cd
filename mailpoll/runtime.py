"""The pipeline's parts for one process: backend, schedule, publisher, poll collaborators."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dramatiq
from sqlmodel import Session

from mailpoll.app import App
from scheduler.loop import Scheduler
from shared import eventbus, events, jobs, metrics, poll_requests
from shared.clock import utcnow
from shared.errors import ConfigError
from shared.event_connection import EventsURL, describe
from shared.event_transport_local import local_events_url
from shared.mail.parse_pool import Parser, make_parser
from shared.schedule import Schedule
from shared.settings import Settings
from shared.store import MessageStore
from workers import actors, broker
from workers.mailbox import opener
from workers.poll import PollDeps
from workers.send import SendDeps, SendRequest, outbound_account, send_mail

if TYPE_CHECKING:
    from watcher.loop import Watcher, WatcherOptions

log = logging.getLogger(__name__)
Published = Callable[[str, dict[str, Any]], None]  # (routing key, event)


def events_target(settings: Settings) -> str | EventsURL:
    """MAILPOLL_EVENTS_URL, else MAILPOLL_REDIS_URL, else the local store in the data dir."""
    if settings.events_url:
        return settings.events_url
    if settings.redis_url:
        return settings.redis_url
    return local_events_url(settings.data_dir)


class Runtime:
    """Built once per process; `on_published` lets `mailpoll run` print each event."""

    def __init__(
        self,
        app: App,
        *,
        allow_embedded: bool,
        on_published: Published | None = None,
        send_reports_now: bool = False,
    ) -> None:
        """`send_reports_now`: this process runs no worker (`mailpoll poll`), so an error
        report is sent at once instead of queued on a broker that nothing reads."""
        self.app = app
        self._send_reports_now = send_reports_now
        # Set when the process is stopping: polls hand over after their current chunk.
        self.stopping = threading.Event()
        self.backend = broker.connect(app.settings, allow_embedded=allow_embedded)
        dramatiq.set_broker(self.backend.broker)
        self.schedule = Schedule(self.backend.redis)
        self._on_published = on_published
        actors.register(self.backend.broker, self.poll_deps, self.send_deps)

    @cached_property
    def events_url(self) -> str | EventsURL:
        return events_target(self.app.settings)

    def describe_events(self) -> str:
        """Where events go, for people: a URL without its password, or the local store."""
        return describe(self.events_url)

    @cached_property
    def _publishers(self) -> eventbus.PublisherPerThread:
        return eventbus.PublisherPerThread(self.events_url)

    @property
    def publisher(self) -> eventbus.EventPublisher:
        """This thread's publisher: Dramatiq's worker threads publish at the same time."""
        return self._publishers.get()

    @cached_property
    def upload_dir(self) -> Path:
        with self.app.system_settings() as store:
            configured = store.get("upload_directory")
        return Path(configured) if configured else self.app.settings.effective_upload_dir

    @cached_property
    def poll_deps(self) -> PollDeps:
        return PollDeps(
            database=self.app.database,
            redis=self.backend.redis,
            store=MessageStore(self.upload_dir),
            publish=self._publish,
            open_mailbox=opener(self.app.credentials),
            clock=utcnow,
            enqueue_next=self.enqueue_poll,
            postpone=self.schedule.postpone,
            lock_ttl=self.app.settings.lock_ttl_seconds,
            notify=self.report,
            parser=self.parser,
            host_locks=self.host_locks,
            stopping=self.stopping.is_set,
        )

    @property
    def host_locks(self) -> Path | None:
        """Embedded mode: the lock files that keep other processes on this data dir (a
        `mailpoll poll` beside `mailpoll run`) off the account a poll holds."""
        return self.app.settings.data_dir / "locks" if self.backend.embedded else None

    @cached_property
    def parser(self) -> Parser:
        return make_parser(self.app.settings.parse_processes)

    @cached_property
    def send_deps(self) -> SendDeps:
        return SendDeps(
            database=self.app.database,
            settings=self.app.settings,
            credentials=self.app.credentials,
            publish=self._publish,
            clock=utcnow,
        )

    def report(self, subject: str, body: str) -> None:
        """Mail the error-reporting address through the outbound account, or log instead."""
        with self.app.system_settings() as store:
            address = store.get("error_reporting_email_address")
        with self.app.database.session() as session:
            has_outbound = _has_outbound(session)
        if not address or not has_outbound:
            log.warning("%s (no error-reporting address or outbound account: logged only)", subject)
            return
        request = SendRequest(to=[address], subject=subject, body=body)
        if self._send_reports_now:
            send_mail(request, self.send_deps)
        else:
            jobs.enqueue_send(self.backend.broker, request.payload())

    def enqueue_poll(self, account_id: int) -> None:
        jobs.enqueue_poll(self.backend.broker, account_id)

    def scheduler(self) -> Scheduler:
        return Scheduler(
            database=self.app.database,
            schedule=self.schedule,
            enqueue=self._enqueue_scheduled,
            default_interval=self.app.settings.default_poll_interval,
            housekeeping=lambda: jobs.enqueue_housekeeping(self.backend.broker),
        )

    def _enqueue_scheduled(self, account_ids: Sequence[int]) -> None:
        """The scheduler's due polls, less those whose (push) poll already waits."""
        poll_requests.enqueue_scheduled(
            self.backend.redis, account_ids,
            lambda fresh: jobs.enqueue_polls(self.backend.broker, fresh),
        )  # fmt: skip

    def watcher(self, options: WatcherOptions | None = None) -> Watcher:
        """The push watcher (IMAP IDLE) of this process; it asks for polls on this broker."""
        from mailpoll.watching import build_watcher

        return build_watcher(
            self.app.database,
            self.app.credentials,
            self.backend.redis,
            self.enqueue_poll,
            self.schedule,
            options,
        )

    def worker(self, *, threads: int) -> dramatiq.Worker:
        return dramatiq.Worker(self.backend.broker, worker_threads=threads, worker_timeout=100)

    def _publish(self, batch: Sequence[dict[str, Any]]) -> None:
        with metrics.publishing(batch):
            self.publisher.publish_many(batch)
        if self._on_published is not None:
            for event in batch:
                self._on_published(events.routing_key(event), event)

    def close(self) -> None:
        if "parser" in self.__dict__:
            self.parser.close()
        if "_publishers" in self.__dict__:
            self._publishers.close()
        self.backend.broker.close()


def _has_outbound(session: Session) -> bool:
    try:
        outbound_account(session)
    except ConfigError:
        return False
    return True
