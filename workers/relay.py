"""Runs the outbox relay in a background thread of worker processes.

Only one relay works at a time across all processes and hosts (a Redis lock), so that a
hundred worker processes do not all scan the outbox.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import Middleware

from kntc import broker as kntc_broker
from kntc import metrics
from models.base import utcnow
from models.outbox import relay_once
from workers.context import Runtime, runtime

log = structlog.get_logger(__name__)
LOCK_KEY = "kntc:outbox-relay"


def _send(queue: str, actor: str, args: tuple[str, ...]) -> None:
    kntc_broker.send(queue, actor, args)
    metrics.relay_resent.labels(queue=queue).inc()


def relay_round(rt: Runtime) -> int:
    """Send every due entry, batch after batch; returns how many were sent."""
    delay = dt.timedelta(seconds=rt.settings.relay_delay_seconds)
    total = 0
    while True:
        with rt.sessions() as session:
            sent = relay_once(session, _send, utcnow(), delay, waiting=kntc_broker.waiting)
        total += sent
        if sent == 0:
            return total


class OutboxRelay(Middleware):
    """Starts the relay thread when a worker boots and stops it when the worker stops."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._owner = str(uuid.uuid4())

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        if runtime().settings.relay_interval_seconds <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outbox-relay", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        rt = runtime()
        interval = rt.settings.relay_interval_seconds
        while not self._stop.wait(interval):
            try:
                if self._lead(rt, interval):
                    sent = relay_round(rt)
                    if sent:
                        log.info("outbox relay re-sent messages", count=sent)
            except Exception:  # the relay must outlive a database or Redis outage
                log.exception("outbox relay round failed")

    def _lead(self, rt: Runtime, interval: int) -> bool:
        if rt.settings.embedded:
            return True
        client = kntc_broker.redis_client(rt.settings)
        # Whoever holds the lock keeps it by renewing it; a dead holder's lock expires.
        if client.set(LOCK_KEY, self._owner, nx=True, px=interval * 3000):
            return True
        if client.get(LOCK_KEY) == self._owner.encode():
            client.pexpire(LOCK_KEY, interval * 3000)
            return True
        return False
