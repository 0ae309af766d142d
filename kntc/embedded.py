"""Embedded mode: dramatiq workers as threads inside the web process (no Redis needed)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import dramatiq

if TYPE_CHECKING:
    from web.services import Services

_started = threading.Lock()
_worker: dramatiq.Worker | None = None


def start_embedded_workers(services: Services) -> dramatiq.Worker:
    """Start the in-process workers once; they share the web's engine and settings."""
    global _worker
    with _started:
        if _worker is None:
            from workers.context import Runtime, install

            install(Runtime(services.settings, services.engine, services.sessions, services.forms))
            import workers  # registers the actors on the in-process broker

            _worker = dramatiq.Worker(workers.broker, worker_threads=services.settings.embedded_worker_threads)
            _worker.start()
    return _worker


def stop_embedded_workers() -> None:
    global _worker
    with _started:
        if _worker is not None:
            _worker.stop()
            _worker = None
