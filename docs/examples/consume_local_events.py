"""Read mailpoll's events on a single machine through a durable queue of your own.

    python consume_local_events.py DATA_DIR [QUEUE_NAME]

Run it with the Python environment mailpoll is installed in. The queue is declared and bound
on the first start; from then on it keeps every event published while this program is
stopped, and delivers them when it starts again. Ctrl-C or SIGTERM stops it cleanly.
"""

import contextlib
import json
import signal
import sys
from pathlib import Path

from kombu import Connection, Exchange, Queue

data_dir = Path(sys.argv[1])
queue = Queue(
    sys.argv[2] if len(sys.argv) > 2 else "my-service",
    Exchange("mailpoll.events", type="topic", durable=True),
    routing_key="message.received.#",  # or message.received.<account>, message.#, ...
    durable=True,
)
running = True


def stop(*_: object) -> None:
    global running
    running = False


def handle(message):
    event = json.loads(message.body)
    print(event["id"], event["data"]["account"], flush=True)  # your work goes here
    message.ack()  # only once the work is done: an event not acknowledged comes back


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
with (
    Connection(
        transport="shared.event_transport_local:Transport",
        transport_options={"database": str(data_dir / "events.sqlite3")},
    ) as connection,
    connection.Consumer(queue, on_message=handle),
):
    while running:
        with contextlib.suppress(TimeoutError):  # no event within a second: look at `running`
            connection.drain_events(timeout=1)
