"""A burst of received events through mailpoll's own publish path, in a process of its own.

    python -m tests.support.publish_events FIRST COUNT [--threads N] [--batch N]

Settings come from the environment, as for `mailpoll run`; without MAILPOLL_EVENTS_URL and
MAILPOLL_REDIS_URL the events go to the local event store in MAILPOLL_DATA_DIR. Worker threads
publish at once, each through its own publisher, as Dramatiq's threads do. Prints one line
per batch: the wall-clock time it started and its event ids.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from mailpoll.app import App
from mailpoll.runtime import Runtime
from shared.events import build_received_event, event_id
from shared.mail.parse import MessageMetadata
from shared.settings import Settings

METADATA = MessageMetadata(message_id="<burst@example.com>", subject="burst", from_=["a@b.c"])


def received(uid: int) -> dict[str, Any]:
    account = f"acct{uid % 3}"
    return build_received_event(
        id=event_id(account, "INBOX", 1, uid), account=account, protocol="imap",
        folder="INBOX", uidvalidity=1, uid=uid, metadata=METADATA, size=100,
        sha256="00" * 32, raw_path=f"default/in/INBOX/{uid}.eml",
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("first", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=25)
    args = parser.parse_args()
    runtime = Runtime(App(Settings()), allow_embedded=True)
    lock = threading.Lock()
    uids = list(range(args.first, args.first + args.count))
    shares = [uids[n :: args.threads] for n in range(args.threads)]

    failed: list[BaseException] = []

    def publish(share: list[int]) -> None:
        try:
            publish_share(share)
        except BaseException as error:  # reported, and the exit status says so
            failed.append(error)
            raise

    def publish_share(share: list[int]) -> None:
        for start in range(0, len(share), args.batch):
            batch = [received(uid) for uid in share[start : start + args.batch]]
            started = time.time()
            runtime.poll_deps.publish(batch)
            with lock:
                print(json.dumps([started, [e["id"] for e in batch]]), flush=True)

    threads = [threading.Thread(target=publish, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runtime.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
