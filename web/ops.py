"""Health, readiness and metrics: what operators and Prometheus look at."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
import structlog
from flask import Blueprint, Flask, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kntc import metrics
from kntc.broker import setup_broker
from models.base import utcnow
from models.directory import TTLCache
from models.form_cache import FormChange
from models.submissions import Status, Submission
from web.errors import problem
from web.services import Services, services

bp = Blueprint("ops", __name__)
log = structlog.get_logger(__name__)
QUEUES = ("submissions", "attachments", "reports")


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Response | dict[str, str]:
    svc = services()
    try:
        with svc.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as error:
        return problem(503, "Service unavailable", f"the database does not answer: {type(error).__name__}")
    if svc.redis is not None:
        try:
            svc.redis.ping()
        except Exception as error:
            return problem(503, "Service unavailable", f"the broker (Redis) does not answer: {type(error).__name__}")
    return {"status": "ready"}


class BacklogCollector(Collector):
    """Queue depth and the oldest undecided submission, read at scrape time.

    Multiprocess mode has no callback gauges, and these belong to the system rather
    than to any one process, so they are computed here from Redis and the database.
    """

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "kntc_queue_depth", "Messages waiting in a queue (delayed ones included).", labels=["queue"]
        )
        for queue in QUEUES:
            depth.add_metric([queue], self._depth(queue))
        yield depth
        yield GaugeMetricFamily(
            "kntc_oldest_queued_submission_age_seconds",
            "Age of the oldest submission not yet accepted or rejected (0 when none).",
            value=self._oldest_age(),
        )
        yield GaugeMetricFamily(
            "kntc_form_changes_pending",
            "Logged record writes the refresh_form_figures job has not compacted yet (growing: it does not run).",
            value=self._changes_pending(),
        )

    def _depth(self, queue: str) -> float:
        if self.svc.redis is None:
            stub = setup_broker(self.svc.settings)
            return float(sum(stub.queues[q].qsize() for q in (queue, f"{queue}.DQ") if q in stub.queues))
        names = [f"dramatiq:{queue}", f"dramatiq:{queue}.DQ"]
        return float(sum(self.svc.redis.llen(name) for name in names))

    def _oldest_age(self) -> float:
        with self.svc.sessions() as session:
            oldest = session.scalar(
                sa.select(sa.func.min(Submission.received_at)).where(
                    Submission.status.in_([Status.QUEUED.value, Status.PROCESSING.value])
                )
            )
        return max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0

    def _changes_pending(self) -> float:
        with self.svc.sessions() as session:
            return float(session.scalar(sa.select(sa.func.count()).select_from(FormChange)) or 0)


# Counting the flags takes 0.2-0.5 s with 20k flagged of 1M petitions (0.8 s with 650k): kept
# a minute per process, well within how fast the flags change (the job runs every 10 min).
_overdue_counts: TTLCache[str, dict[str, tuple[int, int]]] = TTLCache(seconds=60)


class OverdueCollector(Collector):
    """Overdue and stuck petitions per province (top-level unit), read at scrape time.

    The flags are set by the overdue job (workers/overdue.py); every province is listed,
    with 0 when it has none, so that a rise from nothing shows on the dashboards.
    """

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def _counts(self, _key: str) -> dict[str, tuple[int, int]]:
        from models.overdue import counts_by_province

        with self.svc.sessions() as session:
            return counts_by_province(session)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = _overdue_counts.get("counts", self._counts)
        overdue = GaugeMetricFamily(
            "kntc_overdue_petitions", "Open petitions past their legal deadline, by province.", labels=["province"]
        )
        stuck = GaugeMetricFamily(
            "kntc_stuck_petitions",
            "Open petitions idle longer than KNTC_STUCK_DAYS in one account, by province.",
            labels=["province"],
        )
        for province, (n_overdue, n_stuck) in sorted(counts.items()):
            overdue.add_metric([province], n_overdue)
            stuck.add_metric([province], n_stuck)
        yield overdue
        yield stuck


def _scrape_time(collector: Collector, what: str) -> bytes:
    registry = CollectorRegistry()
    registry.register(collector)
    try:
        return generate_latest(registry)
    except Exception as error:  # a scrape must still answer when Redis or the database is down
        log.warning(f"{what} unavailable", error=repr(error))
        return b""


@bp.get("/metrics")
def metrics_view() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    text += _scrape_time(BacklogCollector(services()), "backlog gauges")
    text += _scrape_time(OverdueCollector(services()), "overdue gauges")
    return Response(text, mimetype="text/plain; version=0.0.4; charset=utf-8")


def instrument(app: Flask) -> None:
    """Count every request and time it, labelled by route template (not by raw path)."""

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id[:64])

    @app.after_request
    def _observe(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        metrics.http_requests.labels(method=request.method, route=route, status=str(response.status_code)).inc()
        metrics.http_duration.labels(method=request.method, route=route).observe(elapsed)
        return response
