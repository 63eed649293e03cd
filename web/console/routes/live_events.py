"""Received-message events as they are published, to the Status page (server-sent events).

Bounded three ways: a few streams per process at once, a short queue per stream (a browser
that cannot keep up misses events, it does not grow the server), and each stream ends after a
few minutes (the browser's EventSource reconnects on its own, so a lost broker is bound anew).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from shared.errors import MailpollError
from web.auth import services_of
from web.console.guard import ViewerPage
from web.services import FollowEvents

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
MAX_STREAMS = 16
QUEUE = 100
LIFETIME = 300.0  # seconds a stream lasts before the browser reconnects
KEEP_ALIVE = 15.0
_streams = threading.BoundedSemaphore(MAX_STREAMS)


@router.get("/status/events")
async def live_events(request: Request, principal: ViewerPage) -> Response:
    follow = services_of(request).follow_events
    if follow is None:
        return Response(status_code=204)  # EventSource stops asking
    if not _streams.acquire(blocking=False):
        return Response("too many live views open", status_code=503, headers={"Retry-After": "30"})
    return StreamingResponse(
        _stream(follow), media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )  # fmt: skip


async def _stream(follow: FollowEvents) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    box: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=QUEUE)
    stop = threading.Event()

    def offer(kind: str, data: dict[str, Any]) -> None:
        def put() -> None:
            if not box.full():
                box.put_nowait((kind, data))

        loop.call_soon_threadsafe(put)

    thread = threading.Thread(
        target=_follow, args=(follow, offer, stop), name="console-live-events", daemon=True
    )
    thread.start()
    try:
        yield "retry: 3000\n\n"
        deadline = loop.time() + LIFETIME
        while loop.time() < deadline:
            try:
                kind, data = await asyncio.wait_for(box.get(), timeout=KEEP_ALIVE)
            except TimeoutError:
                yield ": still here\n\n"
                continue
            yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            if kind == "unavailable":
                return
    finally:
        stop.set()
        _streams.release()


def _follow(follow: FollowEvents, offer: Any, stop: threading.Event) -> None:
    try:
        follow(lambda event: offer("received", summary(event)), stop,
               lambda: offer("ready", {}))  # fmt: skip
    except MailpollError as error:
        log.warning("console live events: %s", error)
        offer("unavailable", {"reason": str(error)})
    except Exception:  # a bug must not leave the browser waiting without a word
        log.exception("console live events failed")
        offer("unavailable", {"reason": "the live view failed: see the web process's log"})


def summary(event: dict[str, Any]) -> dict[str, Any]:
    """What the Status page shows of a received event (no addresses beyond the sender)."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    assert isinstance(data, dict)
    sender = data.get("from") or []
    return {
        "time": str(event.get("time") or ""),
        "account": str(data.get("account") or ""),
        "where": str(data.get("folder") or data.get("uidl") or ""),
        "from": str(sender[0]) if isinstance(sender, list) and sender else "",
        "subject": str(data.get("subject") or ""),
        "size": data.get("size") if isinstance(data.get("size"), int) else None,
    }
