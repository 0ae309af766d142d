"""The worker entry: ``dramatiq workers`` imports this package.

It configures the broker (before any actor is imported, as dramatiq requires) and then
imports every actor. In a ``dramatiq`` worker process the metrics go to dramatiq's own
multiprocess directory, served by its exposition server (port 9191 by default).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dramatiq.middleware import TimeLimit
from dramatiq.middleware.prometheus import DB_PATH, Prometheus

from kntc.broker import setup_broker
from kntc.logs import configure_logging
from workers.context import settings

# dramatiq's Prometheus middleware sets itself up in after_process_boot, which only the
# `dramatiq` command emits; in any other process (tests, the embedded demo) it would fail.
_argv0 = Path(sys.argv[0])
UNDER_DRAMATIQ_COMMAND = "dramatiq" in (_argv0.name, _argv0.parent.name)

if UNDER_DRAMATIQ_COMMAND and not settings().embedded:
    # Must precede the first import of prometheus_client (kntc.metrics, below).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = DB_PATH

configure_logging()
broker = setup_broker(settings())

from workers.middleware import IntakeFirst, LogContext, ThreadConnections  # noqa: E402  (the broker must exist first)
from workers.relay import OutboxRelay  # noqa: E402

if UNDER_DRAMATIQ_COMMAND and not settings().embedded and not any(isinstance(m, Prometheus) for m in broker.middleware):
    broker.add_middleware(Prometheus())
for middleware_class in (LogContext, OutboxRelay, ThreadConnections):
    if not any(isinstance(m, middleware_class) for m in broker.middleware):
        broker.add_middleware(middleware_class())
if not any(isinstance(m, IntakeFirst) for m in broker.middleware):
    broker.add_middleware(IntakeFirst(), before=TimeLimit)  # its wait is not the actor's time

from workers import attachments, form_figures, overdue, reconcile, reports, submissions  # noqa: E402,F401  (registers the actors)
