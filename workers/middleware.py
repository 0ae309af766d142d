"""Worker middleware: the log context of each message, and intake first during a surge."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

from kntc import metrics
from kntc.intake_rate import hold_back_during_surge
from models.intake import ACTOR as SUBMISSION_ACTOR
from workers.context import direct_connections, intake_rate_for, runtime


class LogContext(Middleware):
    """Binds ``message_id`` and ``actor`` to every log line of a message, and clears them after."""

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(message_id=message.message_id, actor=message.actor_name)

    def after_process_message(
        self, broker: dramatiq.Broker, message: MessageProxy, *, result: Any = None, exception: Any = None
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()


class IntakeFirst(Middleware):
    """Holds a report back while reports pour in (kntc/intake_rate.py), before it is processed.

    Runs before dramatiq's TimeLimit, so that the wait does not count against the actor's
    time limit, and ends at once when the worker shuts down.
    """

    def __init__(self) -> None:
        self._stopping = threading.Event()

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if message.actor_name != SUBMISSION_ACTOR:
            return
        settings = runtime().settings
        rate = intake_rate_for(settings)
        if rate is None or settings.surge_rate <= 0:
            return
        held = hold_back_during_surge(
            rate,
            settings.surge_rate,
            message.message_timestamp / 1000,
            settings.max_decision_lag_seconds,
            sleep=self._stopping.wait,
        )
        if held:
            metrics.held_back_for_intake.inc(held)

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        self._stopping.clear()  # a process may start a worker again (the embedded demo, tests)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        self._stopping.set()


class ThreadConnections(Middleware):
    """Closes a worker thread's own database connection when the thread stops."""

    def before_worker_thread_shutdown(self, broker: dramatiq.Broker, thread: Any) -> None:
        direct = direct_connections(runtime().engine)
        if direct is not None:
            direct.close_this_thread()
