"""What each long-running role serves on MAILPOLL_METRICS_PORT, put together from its parts.

/healthz fails when the role has stopped working: a worker whose Dramatiq threads (with
`--processes N`, worker processes) ended, a scheduler that began no tick for a long while, a
watcher whose event loop stopped going round; the web never while it answers. /readyz needs
the database and Redis."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY

from mailpoll import health
from mailpoll.metrics_server import Check, MetricsServer, Probes
from shared.settings import Settings

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    import dramatiq

    from mailpoll.app import App
    from mailpoll.runtime import Runtime
    from watcher.loop import Watcher

STUCK_SCHEDULER_SECONDS = 120.0  # far longer than any tick: the slowest reconciles 100,000
STUCK_WATCHER_SECONDS = 30.0  # its loop goes round ten times a second


def serve(settings: Settings, probes: Probes) -> MetricsServer | None:
    """Serve `probes` when MAILPOLL_METRICS_PORT is set; ConfigError if the port is taken."""
    if settings.metrics_port is None:
        return None
    return MetricsServer(probes, host=settings.metrics_host, port=settings.metrics_port)


def _needs(runtime: Runtime) -> dict[str, Check]:
    return {
        "database": health.database_check(runtime.app.database),
        "redis": health.redis_check(runtime.backend.redis),
    }


def _ticking(tick: float) -> dict[str, Check]:
    def last_tick() -> float | None:
        return REGISTRY.get_sample_value("mailpoll_scheduler_last_tick_timestamp_seconds") or None

    within = max(STUCK_SCHEDULER_SECONDS, 10 * tick)
    return {"scheduler": health.recent("scheduler: ticks", last_tick, within)}


def _watching(watcher: Watcher) -> dict[str, Check]:
    beat = health.recent("watcher: event loop", lambda: watcher.beat, STUCK_WATCHER_SECONDS)
    return {"watcher": beat}


def _working(worker: dramatiq.Worker) -> dict[str, Check]:
    def threads() -> list[Any]:
        return [*worker.workers, *worker.consumers.values()]

    return {"worker": health.threads_alive("worker: Dramatiq threads", threads)}


def scheduler(runtime: Runtime, tick: float) -> Probes:
    cluster = health.ClusterCollector(runtime.app.database, runtime.backend.broker)
    return Probes(health.local_figures(cluster), _ticking(tick), _needs(runtime))


def worker(runtime: Runtime, worker: dramatiq.Worker) -> Probes:
    return Probes(health.local_figures(), _working(worker), _needs(runtime))


def worker_processes(
    app: App, children: Sequence[BaseProcess], figures: health.MultiprocessDir
) -> Probes:
    """The parent of `worker --processes N`: the sum of its children's figures."""
    import redis

    assert app.settings.redis_url is not None  # the children refuse to start without it
    client = redis.Redis.from_url(app.settings.redis_url, socket_timeout=5)
    live = {"worker": health.threads_alive("worker: processes", lambda: children)}
    ready = {
        "database": health.database_check(app.database), "redis": health.redis_check(client)
    }  # fmt: skip
    return Probes(figures.figures(), live, ready)


def watcher(runtime: Runtime, watcher: Watcher) -> Probes:
    figures = health.local_figures(health.WatcherCollector(lambda: watcher.watched))
    return Probes(figures, _watching(watcher), _needs(runtime))


def everything(
    runtime: Runtime, worker: dramatiq.Worker, watcher: Watcher, scheduler: threading.Thread
) -> Probes:
    """`mailpoll run`: scheduler, worker and watcher in one process."""
    cluster = health.ClusterCollector(runtime.app.database, runtime.backend.broker)
    figures = health.local_figures(cluster, health.WatcherCollector(lambda: watcher.watched))
    live = {
        **_ticking(1.0), **_watching(watcher), **_working(worker),
        "scheduler thread": health.threads_alive("scheduler: thread", lambda: [scheduler]),
    }  # fmt: skip
    return Probes(figures, live, _needs(runtime))


def web(app: Any) -> Probes:
    """`mailpoll web`: the app's own request figures and readiness checks."""
    return Probes(app.state.metrics.registry, {}, app.state.services.readiness)
