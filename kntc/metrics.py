"""Every Prometheus metric the system exports, named with its unit.

Under gunicorn and ``dramatiq workers`` these live in prometheus_client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR`` is set before this module is imported: by
``deploy/gunicorn.conf.py`` for the web, by :mod:`workers` for worker processes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_requests = Counter(
    "kntc_http_requests_total", "HTTP requests answered, by route and status.", ["method", "route", "status"]
)
http_duration = Histogram(
    "kntc_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
submissions_received = Counter(
    "kntc_submissions_received_total", "Reports stored at intake, by timeliness.", ["timeliness"]
)
intake_retries = Counter(
    "kntc_intake_retries_total",
    "Intake statements run again because the version guessed for the report was taken "
    "(its unit's previous report stored by another process, or a twin at the same moment).",
)
idempotent_replays = Counter(
    "kntc_idempotent_replays_total", "Requests answered from an earlier one with the same Idempotency-Key."
)
enqueue_failures = Counter(
    "kntc_enqueue_failures_total", "Messages that could not be sent after commit (the relay sends them later)."
)
worker_messages = Counter(
    "kntc_worker_messages_total", "Messages handled by workers, by actor and outcome.", ["actor", "outcome"]
)
worker_duration = Histogram(
    "kntc_worker_message_duration_seconds",
    "Time spent handling a message, by actor.",
    ["actor"],
    buckets=(*LATENCY_BUCKETS, 30.0, 60.0),
)
held_back_for_intake = Counter(
    "kntc_worker_held_back_seconds_total",
    "Seconds worker threads held reports back while the intake surged (KNTC_SURGE_RATE).",
)
rate_limit_deferrals = Counter(
    "kntc_rate_limit_deferrals_total", "Messages put back for later because a rate limit was full.", ["limiter"]
)
relay_resent = Counter("kntc_outbox_relay_resent_total", "Messages the outbox relay sent again.", ["queue"])
attachment_bytes_received = Counter(
    "kntc_attachment_bytes_received_total", "Bytes of attachments received (a repeated upload counts again)."
)
attachment_processing = Histogram(
    "kntc_attachment_processing_seconds",
    "Time to process an attachment (sniff, parse, thumbnail; build a bundle), by kind.",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
attachments_rejected = Counter(
    "kntc_attachments_rejected_total", "Attachments refused, at upload or by a worker, by reason.", ["reason"]
)


@contextmanager
def periodic_job(actor: str) -> Iterator[None]:
    """Count one run of a scheduler's job as done or failed, and time the runs that finish."""
    started = time.perf_counter()
    try:
        yield
    except Exception:
        worker_messages.labels(actor=actor, outcome="failed").inc()
        raise
    worker_messages.labels(actor=actor, outcome="done").inc()
    worker_duration.labels(actor=actor).observe(time.perf_counter() - started)
