"""The intake's messages, sent from a thread of each web process, several to a Redis round trip.

A report's message used to go to Redis inside its request: one round trip through
redis-py and dramatiq's enqueue script, about a quarter of the view's CPU. Here the
request only hands the message over; a thread of the process sends what gathered during
``window`` seconds in one pipeline. ``bench/intake.py --only ours`` on 2 cores, alternate
runs: the web's CPU per report 2.52 and 2.41 ms against 3.00 and 2.74 sending in the
request (README, Performance).

The promise of the receipt does not depend on it: the report and its outbox entry are
committed before the 202, so a message that never reaches Redis (Redis down, the process
killed with messages still in hand) is sent by the outbox relay after its delay, as
before. A process exiting normally sends what it holds first.

The messages are dramatiq's own, written by dramatiq's enqueue script
(:meth:`RedisBroker.enqueue` does the same one message at a time); tests/test_send_batches.py
has a dramatiq worker consume them, so a dramatiq upgrade that changes the format fails there.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker

log = structlog.get_logger(__name__)

MAX_BATCH = 500  # messages in one pipeline; a surge of one process fills ~10 in 20 ms
EXIT_FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class Outgoing:
    queue: str
    actor: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class BatchSender:
    """Sends from a thread of the calling process, started at the first message after a fork."""

    def __init__(self, broker: RedisBroker, window: float) -> None:
        self._broker = broker
        self._window = window
        self._lock = threading.Lock()
        self._hurry = threading.Event()  # a flush does not wait out the window
        self._pid = -1
        self._pending: queue.SimpleQueue[Outgoing | threading.Event] = queue.SimpleQueue()

    def send(self, queue_name: str, actor: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Hand the message over; it leaves within ``window`` seconds. Never raises for Redis."""
        self._running().put(Outgoing(queue_name, actor, args, kwargs))

    def flush(self, timeout: float = EXIT_FLUSH_SECONDS) -> bool:
        """Wait until every message handed over before this call has been sent (or failed)."""
        if self._pid != os.getpid():
            return True  # nothing handed over in this process
        done = threading.Event()
        self._pending.put(done)
        self._hurry.set()
        return done.wait(timeout)

    def _running(self) -> queue.SimpleQueue[Outgoing | threading.Event]:
        if self._pid == os.getpid():
            return self._pending
        with self._lock:
            if self._pid != os.getpid():
                # A forked child (a gunicorn worker) has none of its parent's threads, and
                # what the parent still held is the parent's to send.
                self._pending = queue.SimpleQueue()
                threading.Thread(target=self._run, name="kntc-send-batches", daemon=True).start()
                atexit.register(self.flush)
                self._pid = os.getpid()
        return self._pending

    def _run(self) -> None:
        pending = self._pending
        while True:
            taken = [pending.get()]
            # Let the batch fill (one round trip for all of it), unless someone waits for it.
            self._hurry.wait(self._window)
            self._hurry.clear()
            while len(taken) < MAX_BATCH:
                try:
                    taken.append(pending.get_nowait())
                except queue.Empty:
                    break
            self._send([item for item in taken if isinstance(item, Outgoing)])
            for item in taken:
                if isinstance(item, threading.Event):
                    item.set()

    def _send(self, batch: list[Outgoing]) -> None:
        if not batch:
            return
        try:
            enqueue_all(self._broker, batch)
        except Exception as error:  # the thread must outlive Redis; the relay sends these later
            # Not imported at the top: kntc.broker imports this module before a dramatiq
            # worker has set prometheus_client's multiprocess directory (workers/__init__.py).
            from kntc import metrics

            metrics.enqueue_failures.inc(len(batch))
            log.warning("enqueue failed; the outbox relay will send them", messages=len(batch), error=str(error))


def enqueue_all(broker: RedisBroker, batch: list[Outgoing]) -> None:
    """``broker.enqueue`` for each message, in one pipeline (dramatiq's own dispatch script)."""
    # Each message gets an id of its own in Redis, as RedisBroker.enqueue gives it.
    messages: list[dramatiq.Message[Any]] = [
        dramatiq.Message(out.queue, out.actor, out.args, out.kwargs, {"redis_message_id": str(uuid4())})
        for out in batch
    ]
    dispatch = broker.scripts["dispatch"]
    with broker.client.pipeline(transaction=False) as pipe:
        for message in messages:
            broker.emit_before("enqueue", message, None)
            dispatch(keys=[broker.namespace], args=_enqueue_args(broker, message), client=pipe)
        pipe.execute()
    for message in messages:
        broker.emit_after("enqueue", message, None)


def _enqueue_args(broker: RedisBroker, message: dramatiq.Message[Any]) -> list[Any]:
    # The arguments of RedisBroker._dispatch("enqueue") (dramatiq 2.2, pinned in requirements.lock).
    return [
        "enqueue",
        int(time.time() * 1000),
        message.queue_name,
        broker.broker_id,
        broker.heartbeat_timeout,
        broker.dead_message_ttl,
        broker._should_do_maintenance("enqueue"),
        broker._max_unpack_size(),
        message.options["redis_message_id"],
        message.encode(),
    ]
