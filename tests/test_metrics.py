"""/metrics: request, intake and backlog figures, and counts that add up across gunicorn workers."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import (
    World,
    auth,
    call,
    free_port,
    gunicorn,
    http_up,
    running,
    service_env,
    submission,
    submit,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.orm import Session, sessionmaker

from models.submissions import Submission


def scrape(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(found)


def metrics(client: FlaskClient) -> list[Sample]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return scrape(response.get_data(as_text=True))


def test_metrics_after_requests_and_worker_runs(
    client: FlaskClient, world: World, drain: Callable[..., None], sessions: sessionmaker[Session]
) -> None:
    world.period("LATE", due=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    token = world.tokens["x1-reporter"]
    before = metrics(client)

    first = submit(client, token, submission(), key="k")[1]
    submit(client, token, submission(), key="k")  # a replay
    submit(client, token, submission(period="LATE"))
    client.get(f"/api/v1/submissions/{first['id']}", headers=auth(token))
    with sessions() as session:
        session.execute(
            sa.update(Submission)
            .where(Submission.id == sa.cast(first["id"], sa.Uuid))
            .values(received_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
        )
        session.commit()
    queued = metrics(client)

    def delta(name: str, **labels: str) -> float:
        return value(queued, name, **labels) - value(before, name, **labels)

    assert delta("kntc_http_requests_total", method="POST", route="/api/v1/submissions", status="202") == 3
    assert delta("kntc_http_requests_total", method="GET", route="/api/v1/submissions/<submission_id>") == 1
    assert not any(first["id"] in str(s.labels) for s in queued)  # routes are templates, not raw paths
    assert delta("kntc_http_request_duration_seconds_count", method="POST", route="/api/v1/submissions") == 3
    buckets = [s for s in queued if s.name == "kntc_http_request_duration_seconds_bucket"]
    assert {s.labels["route"] for s in buckets} >= {"/api/v1/submissions", "/metrics"}
    assert delta("kntc_submissions_received_total", timeliness="late") == 1
    assert delta("kntc_submissions_received_total", timeliness="on_time") == 1
    assert delta("kntc_idempotent_replays_total") == 1
    assert value(queued, "kntc_queue_depth", queue="submissions") == 2
    assert value(queued, "kntc_oldest_queued_submission_age_seconds") >= 2 * 3600

    drain()
    done = metrics(client)
    assert value(done, "kntc_queue_depth", queue="submissions") == 0
    assert value(done, "kntc_oldest_queued_submission_age_seconds") == 0
    accepted = value(done, "kntc_worker_messages_total", actor="process_submission", outcome="accepted")
    assert accepted - value(before, "kntc_worker_messages_total", actor="process_submission", outcome="accepted") == 2


@pytest.mark.slow
def test_request_counter_is_exact_across_gunicorn_worker_processes(world: World, tmp_path: Path) -> None:
    port = free_port()
    access_log = tmp_path / "access.log"
    env = service_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-web"))
    args = gunicorn(port, 2, "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(U)s")
    sent = 0
    with running(args, env, tmp_path / "gunicorn.log") as proc:
        wait_until(lambda: http_up(port), 60, "gunicorn answers", proc)
        sent += 1  # the readiness probe that succeeded was a /healthz request too

        def pids() -> set[str]:
            lines = access_log.read_text().splitlines() if access_log.exists() else []
            return {line.split()[0] for line in lines if line.endswith(" /healthz")}

        with ThreadPoolExecutor(8) as pool:
            # Both workers must have answered some, or the test would prove nothing.
            for _ in range(20):
                statuses = list(pool.map(lambda _: call(port, "GET", "/healthz")[0], range(40)))
                assert statuses == [200] * 40
                sent += 40
                if len(pids()) >= 2:
                    break
        assert len(pids()) == 2, pids()

        for _ in range(4):  # whichever worker answers the scrape, the sum is the same
            status, _, text = call(port, "GET", "/metrics")
            assert status == 200
            samples = scrape(text)
            total = value(samples, "kntc_http_requests_total", method="GET", route="/healthz", status="200")
            assert total == sent
            assert value(samples, "kntc_queue_depth", queue="submissions") == 0
            assert any(s.name == "kntc_oldest_queued_submission_age_seconds" for s in samples)
    # Failures (with logs) show in the captured output of the test.
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log, log


@pytest.mark.slow
def test_concurrent_idempotent_requests_through_gunicorn(
    world: World, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    port = free_port()
    env = service_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-web"))
    headers = {**auth(world.tokens["x1-reporter"]), "Idempotency-Key": "gunicorn-1"}
    barrier = threading.Barrier(8)

    def send(_: int) -> tuple[int, dict[str, str], Any]:
        barrier.wait()
        return call(port, "POST", "/api/v1/submissions", submission(), headers)

    with running(gunicorn(port, 2), env, tmp_path / "gunicorn.log") as proc:
        wait_until(lambda: http_up(port), 60, "gunicorn answers", proc)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, range(8)))
        scraped, _, text = call(port, "GET", "/metrics")

    assert scraped == 200
    assert [status for status, _, _ in results] == [202] * 8
    assert len({body["id"] for _, _, body in results}) == 1
    assert len({repr(sorted(body["receipt"].items())) for _, _, body in results}) == 1
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1
    replays = re.search(r"^kntc_idempotent_replays_total (\S+)$", text, re.MULTILINE)
    assert replays is not None
    assert float(replays.group(1)) == 7


def test_record_writes_waiting_for_the_form_refresh(client: FlaskClient, world: World, db: Session) -> None:
    from form_reference import Store

    from models import form_cache
    from models.units import Unit

    assert value(metrics(client), "kntc_form_changes_pending") == 0
    store = Store(db)
    store.units = {u.code: u for u in db.scalars(sa.select(Unit))}
    store.reception("P01.X1", dt.date(2026, 7, 1))
    store.reception("P01.X2", dt.date(2026, 7, 1))
    db.commit()
    assert value(metrics(client), "kntc_form_changes_pending") >= 2  # one per statement and unit, or more
    form_cache.compact(db)
    db.commit()
    assert value(metrics(client), "kntc_form_changes_pending") == 0


def test_gunicorn_workers_share_their_version_guesses(
    world: World, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    # One unit's reports, one after the other, land on either worker: each guesses the
    # next version from the table both share, so no intake statement runs twice.
    port = free_port()
    access_log = tmp_path / "access.log"
    env = service_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-web"))
    args = gunicorn(port, 2, "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(U)s")
    headers = auth(world.tokens["x1-reporter"])

    def stored_by() -> Counter[str]:
        lines = access_log.read_text().splitlines() if access_log.exists() else []
        return Counter(line.split()[0] for line in lines if line.endswith(" /api/v1/submissions"))

    versions = []
    with running(args, env, tmp_path / "gunicorn.log") as proc:
        wait_until(lambda: http_up(port), 60, "gunicorn answers", proc)
        # Until each worker has stored several (a free worker often takes the next connection again).
        while len(versions) < 400 and (len(stored_by()) < 2 or min(stored_by().values()) < 5):
            versions.append(call(port, "POST", "/api/v1/submissions", submission(), headers))
        _, _, text = call(port, "GET", "/metrics")
    assert min(stored_by().values()) >= 5 and len(stored_by()) == 2, stored_by()
    assert {status for status, _, _ in versions} == {202}
    assert [body["receipt"]["version"] for _, _, body in versions] == list(range(1, len(versions) + 1))
    assert value(scrape(text), "kntc_intake_retries_total") == 0
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == len(versions)
