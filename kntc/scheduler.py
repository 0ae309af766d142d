"""``kntc scheduler``: the periodic jobs, as their own process, sending dramatiq messages.

Each job runs once per interval slot across every scheduler process and host: before
sending, a scheduler claims the slot in Redis (SET NX with an expiry), so two schedulers
(a rolling deploy, a second replica) never send the same job twice. The work itself is
done by the workers; a slot that a crashed scheduler claimed but did not send is sent in
the next slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
import structlog

from kntc import broker
from kntc.settings import Settings

log = structlog.get_logger(__name__)
CLAIM_PREFIX = "kntc:scheduler:"


@dataclass(frozen=True)
class Job:
    name: str
    queue: str
    actor: str
    interval_seconds: int


def jobs(settings: Settings) -> list[Job]:
    """Every periodic job; an interval of 0 turns a job off."""
    overdue = Job("flag_overdue", "maintenance", "flag_overdue", settings.overdue_interval_seconds)
    reconcile = Job(
        "reconcile_submissions", "maintenance", "reconcile_submissions", settings.reconcile_interval_seconds
    )
    figures = Job("refresh_form_figures", "maintenance", "refresh_form_figures", settings.form_refresh_interval_seconds)
    return [job for job in (overdue, reconcile, figures) if job.interval_seconds > 0]


def claim(client: redis.Redis, job: Job, now: float) -> bool:
    """True for the one scheduler that claims this job's current slot."""
    slot = int(now // job.interval_seconds)
    key = f"{CLAIM_PREFIX}{job.name}:{slot}"
    return bool(client.set(key, "1", nx=True, ex=job.interval_seconds * 2))


def tick(client: redis.Redis, job_list: list[Job], send: Callable[[Job], None], now: float | None = None) -> list[str]:
    """Send every job whose current slot this scheduler claims; returns their names."""
    now = time.time() if now is None else now
    sent = []
    for job in job_list:
        if claim(client, job, now):
            send(job)
            sent.append(job.name)
    return sent


def _send(job: Job) -> None:
    broker.send(job.queue, job.actor, ())
    log.info("scheduled job sent", job=job.name, queue=job.queue)


def run(settings: Settings, stop: threading.Event, poll_seconds: float = 5.0) -> None:
    """Tick until ``stop`` is set; a Redis outage is logged and retried at the next poll."""
    if settings.embedded:
        raise RuntimeError("kntc scheduler needs REDIS_URL: the workers it feeds read from Redis")
    broker.setup_broker(settings)
    client = broker.redis_client(settings)
    job_list = jobs(settings)
    log.info("scheduler started", jobs=[(j.name, j.interval_seconds) for j in job_list])
    while not stop.is_set():
        try:
            tick(client, job_list, _send)
        except redis.RedisError as error:
            log.warning("scheduler tick failed; retrying", error=str(error))
        stop.wait(poll_seconds)
