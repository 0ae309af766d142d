"""Report requests: through the API and a real worker on Redis, one job per identical request,
a global ceiling, files opened back, progress, expiry, retries that end, and who may ask."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import redis
import sqlalchemy as sa
from dramatiq.middleware.time_limit import TimeLimitExceeded
from flask import Flask
from flask.testing import FlaskClient
from helpers import (
    World,
    auth,
    call,
    dramatiq_workers,
    free_port,
    gunicorn,
    http_up,
    queued_messages,
    running,
    service_env,
    wait_until,
)
from prometheus_client import REGISTRY
from reports_helpers import (
    app_storage,
    body,
    drain_reports,
    post_request,
    seed_receptions,
    stored_report_file,
    tcd,
    worker_settings,
)
from sqlalchemy.orm import Session, sessionmaker

import models.report_jobs
from kntc import broker
from models.base import utcnow
from models.form_export import FIRST_HEADER_ROW, TOTAL_LABEL
from models.form_sql import compute_form
from models.outbox import relay_once
from models.report_jobs import JobSettings, run
from models.report_requests import (
    MAX_ATTEMPTS,
    ReportRequest,
    _insert_unless_active,
    claim,
    request_report,
    sweep_expired,
)
from models.submissions import OutboxEntry

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def load(sessions: sessionmaker[Session], rid: str) -> ReportRequest:
    with sessions() as session:
        return session.get_one(ReportRequest, uuid.UUID(rid))


def outbox(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(sa.select(OutboxEntry.resource_id).where(OutboxEntry.queue == "reports")))


def job(app: Flask) -> JobSettings:
    return JobSettings(app_storage(app), dt.timedelta(minutes=5), dt.timedelta(days=7))


def deferrals() -> float:
    return REGISTRY.get_sample_value("kntc_rate_limit_deferrals_total", {"limiter": "reports"}) or 0.0


def test_a_request_is_computed_by_a_worker_and_its_files_show_the_figures(
    app: Flask, client: FlaskClient, world: World, runtime: Any, workers_running: Callable[..., Any]
) -> None:
    seed_receptions(client, world)
    token = world.tokens["p01-reporter"]
    created = post_request(client, token)
    assert created.status_code == 202
    assert body(created)["status"] == "queued"
    rid = body(created)["id"]
    assert created.headers["Location"] == f"/api/v1/report-requests/{rid}"

    with worker_settings(runtime, app):
        drain_reports(workers_running)

    status = body(client.get(f"/api/v1/report-requests/{rid}", headers=auth(token)))
    assert (status["status"], status["progress"], status["error"]) == ("done", 1.0, None)
    result = status["result"]
    # Hand-computed (reports_helpers.seed_receptions): X1 two turns of 1 and 3 people, X2 a crowd of 6.
    assert [c["unit"] for c in result["children"]] == ["P01.X1", "P01.X2"]
    x1, x2 = (c["columns"] for c in result["children"])
    assert (x1["1"], x1["2"], x1["4"], x1["5"], x1["8"]) == (2, 4, 2, 4, 0)
    assert (x2["1"], x2["2"], x2["4"], x2["5"], x2["8"], x2["9"]) == (1, 6, 1, 6, 1, 6)
    assert (result["columns"]["1"], result["columns"]["2"], result["columns"]["8"]) == (3, 10, 1)
    assert status["files"] == {
        "xlsx": f"/api/v1/report-requests/{rid}/files/xlsx",
        "csv": f"/api/v1/report-requests/{rid}/files/csv",
    }
    figures = {str(c.number): result["columns"][str(c.number)] for c in tcd().columns if c.numeric}
    assert tcd().check(figures) == []

    xlsx = client.get(status["files"]["xlsx"], headers=auth(token))
    xlsx_bytes = xlsx.get_data()
    xlsx.close()
    assert xlsx.status_code == 200
    assert xlsx.mimetype == XLSX
    disposition = xlsx.headers["Content-Disposition"]
    assert 'filename="Bieu_01-TCD_UBND_tinh_Tay_Ninh_2026-Q4.xlsx"' in disposition
    assert "filename*=UTF-8''Bi%E1%BB%83u%2001-TCD%20UBND%20t%E1%BB%89nh%20T%C3%A2y%20Ninh%202026-Q4.xlsx" in (
        disposition
    )
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes)).active
    form = tcd()
    assert sheet.cell(row=2, column=1).value == form.title.upper()
    assert sheet.cell(row=1, column=1).value == "Đơn vị báo cáo: UBND tỉnh Tây Ninh (P01)"
    first_column = form.columns[0]
    assert sheet.cell(row=FIRST_HEADER_ROW, column=3).value == first_column.group[0] == "Tổng số"
    assert sheet.cell(row=FIRST_HEADER_ROW + 1, column=3).value == first_column.label == "Tổng số lượt tiếp"
    first = FIRST_HEADER_ROW + form.header_depth + 1
    rows = {sheet.cell(row=r, column=1).value: r for r in range(first, first + 3)}
    assert sheet.cell(row=rows["P01.X1"], column=2).value == "UBND xã Hòa Hội"
    assert sheet.cell(row=first + 2, column=1).value == TOTAL_LABEL
    for code, figures in (("P01.X1", x1), ("P01.X2", x2), (TOTAL_LABEL, result["columns"])):
        for column in form.columns:
            if column.numeric:
                cell = sheet.cell(row=rows[code], column=column.number + 2).value
                assert cell == figures[str(column.number)], (code, column.number)
    assert sheet.cell(row=rows["P01.X2"], column=1 + 2).value == 1  # column 1 of X2: one turn

    csv_file = client.get(status["files"]["csv"], headers=auth(token))
    csv_bytes = csv_file.get_data()
    csv_file.close()
    assert csv_file.mimetype == "text/csv"
    assert csv_bytes.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    assert lines[0][2] == "(1) Tổng số > Tổng số lượt tiếp"
    assert [line[0] for line in lines[1:]] == ["P01.X1", "P01.X2", ""]
    assert (lines[3][1], lines[3][2], lines[3][3]) == (TOTAL_LABEL, "3", "10")


def test_identical_requests_share_one_job_and_a_new_one_follows_once_it_is_done(
    app: Flask,
    client: FlaskClient,
    world: World,
    sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    runtime: Any,
    workers_running: Callable[..., Any],
) -> None:
    tokens = [world.tokens[name] for name in ("p01-admin", "p01-reporter", "admin", "viewer")] * 3

    def ask(token: str) -> Any:
        answer = post_request(app.test_client(), token)
        return answer.status_code, body(answer)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(ask, tokens))

    assert {status for status, _ in answers} == {202}
    ids = {answer["id"] for _, answer in answers}
    assert len(ids) == 1
    assert sorted(answer["shared"] for _, answer in answers) == [False] + [True] * (len(tokens) - 1)
    (rid,) = ids
    assert outbox(sessions) == [rid]
    assert [m.args for m in queued_messages(redis_client, "reports")] == [(rid,)]
    other_unit = body(post_request(client, world.tokens["p01-admin"], unit="P01.X1"))["id"]
    assert other_unit != rid

    with worker_settings(runtime, app):
        drain_reports(workers_running)
    again = body(post_request(client, world.tokens["p01-admin"]))

    assert load(sessions, rid).status == "done"
    assert again["id"] != rid
    assert again["shared"] is False


def test_the_ceiling_on_report_jobs_holds_and_defers_without_spending_retries(
    app: Flask,
    client: FlaskClient,
    world: World,
    sessions: sessionmaker[Session],
    runtime: Any,
    workers_running: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.4)  # latency injection: long enough for the other threads to find the limiter full
        return compute_form(*args, **kwargs)

    monkeypatch.setattr(models.report_jobs, "compute_form", slow)
    token = world.tokens["admin"]
    ids = [body(post_request(client, token, unit=unit))["id"] for unit in ("VN", "P01", "P02", "P01.X1")]
    before = deferrals()

    with worker_settings(runtime, app, report_concurrency=1):
        drain_reports(workers_running, threads=4)

    rows = sorted((load(sessions, rid) for rid in ids), key=lambda r: r.started_at or utcnow())
    assert [r.status for r in rows] == ["done"] * 4
    assert [r.attempts for r in rows] == [1] * 4
    for earlier, later in itertools.pairwise(rows):
        assert earlier.finished_at is not None and later.started_at is not None
        assert earlier.finished_at <= later.started_at, "two report jobs ran at once under a ceiling of 1"
    assert deferrals() > before


def test_a_done_request_is_not_computed_again_when_its_message_comes_twice(
    app: Flask,
    client: FlaskClient,
    world: World,
    sessions: sessionmaker[Session],
    runtime: Any,
    workers_running: Callable[..., Any],
) -> None:
    rid = body(post_request(client, world.tokens["p01-admin"]))["id"]
    with worker_settings(runtime, app):
        drain_reports(workers_running)
        done = load(sessions, rid)
        xlsx = stored_report_file(app, done.id, "report.xlsx")
        written = xlsx.stat().st_mtime_ns

        broker.send("reports", "compute_report", (rid,))
        broker.send("reports", "compute_report", (rid,))
        drain_reports(workers_running)

    again = load(sessions, rid)
    assert (again.status, again.finished_at, again.attempts) == ("done", done.finished_at, 1)
    assert xlsx.stat().st_mtime_ns == written
    assert outbox(sessions) == []


def test_a_lost_message_is_sent_again_by_the_relay(
    app: Flask,
    client: FlaskClient,
    world: World,
    sessions: sessionmaker[Session],
    runtime: Any,
    workers_running: Callable[..., Any],
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as m:
        m.setattr(broker, "send", _refuse)  # fault injection: Redis unreachable at the POST
        created = post_request(client, world.tokens["p01-admin"])
    rid = body(created)["id"]
    assert created.status_code == 202
    assert queued_messages(redis_client, "reports") == []
    assert outbox(sessions) == [rid]

    with sessions() as session:
        sent = relay_once(session, broker.send, utcnow() + dt.timedelta(minutes=2), dt.timedelta(seconds=60))
    with worker_settings(runtime, app):
        drain_reports(workers_running)

    assert sent == 1
    assert load(sessions, rid).status == "done"
    assert outbox(sessions) == []


def test_progress_is_stored_while_the_job_runs(
    app: Flask,
    client: FlaskClient,
    world: World,
    sessions: sessionmaker[Session],
    runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = world.tokens["p01-admin"]
    rid = body(post_request(client, token))["id"]
    seen: list[dict[str, Any]] = []

    def observed(*args: Any, progress: Callable[[float], None], **kwargs: Any) -> Any:
        progress(0.25)
        seen.append(body(client.get(f"/api/v1/report-requests/{rid}", headers=auth(token))))
        return compute_form(*args, progress=progress, **kwargs)

    monkeypatch.setattr(models.report_jobs, "compute_form", observed)
    outcome = run(sessions, runtime.forms, uuid.UUID(rid), job(app))

    assert outcome.value == "done"
    assert [(s["status"], s["progress"], s["result"], s["files"]) for s in seen] == [("running", 0.25, None, None)]
    final = body(client.get(f"/api/v1/report-requests/{rid}", headers=auth(token)))
    assert (final["status"], final["progress"]) == ("done", 1.0)


def test_a_job_that_keeps_failing_is_failed_with_its_error_after_the_last_attempt(
    app: Flask,
    client: FlaskClient,
    world: World,
    sessions: sessionmaker[Session],
    runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = world.tokens["p01-admin"]
    rid = body(post_request(client, token))["id"]

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("statement timeout (injected)")

    monkeypatch.setattr(models.report_jobs, "compute_form", broken)
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(RuntimeError):
            run(sessions, runtime.forms, uuid.UUID(rid), job(app))
        assert body(client.get(f"/api/v1/report-requests/{rid}", headers=auth(token)))["status"] == "queued"
    outcome = run(sessions, runtime.forms, uuid.UUID(rid), job(app))

    status = body(client.get(f"/api/v1/report-requests/{rid}", headers=auth(token)))
    assert outcome.value == "failed"
    assert status["status"] == "failed"
    assert status["error"] == "gave up after 3 attempts; last error: RuntimeError: statement timeout (injected)"
    assert (status["result"], status["files"]) == (None, None)
    assert outbox(sessions) == []
    # A failed request no longer blocks a new one.
    assert body(post_request(client, token))["id"] != rid


def test_an_expired_request_says_so_and_its_files_are_removed(
    app: Flask,
    client: FlaskClient,
    world: World,
    sessions: sessionmaker[Session],
    runtime: Any,
) -> None:
    token = world.tokens["p01-admin"]
    old = body(post_request(client, token))["id"]
    run(sessions, runtime.forms, uuid.UUID(old), job(app))
    folder = stored_report_file(app, uuid.UUID(old), "report.xlsx").parent
    assert {path.name for path in folder.iterdir()} == {"report.xlsx", "report.csv", "result.json"}
    with sessions() as session:
        session.get_one(ReportRequest, uuid.UUID(old)).expires_at = utcnow() - dt.timedelta(seconds=1)
        session.commit()

    shown = body(client.get(f"/api/v1/report-requests/{old}", headers=auth(token)))
    gone = client.get(f"/api/v1/report-requests/{old}/files/xlsx", headers=auth(token))
    assert (shown["status"], shown["result"], shown["files"]) == ("expired", None, None)
    assert gone.status_code == 410
    assert "ask for it again" in body(gone)["detail"]

    # The next job sweeps what has expired.
    new = body(post_request(client, token, unit="P01.X1"))["id"]
    run(sessions, runtime.forms, uuid.UUID(new), job(app))
    assert not folder.exists()
    assert load(sessions, old).status == "expired"
    with sessions() as session:
        assert sweep_expired(session, app_storage(app), utcnow()) == 0


def test_any_role_covering_the_unit_may_ask_and_read_others_get_403(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    viewer = post_request(client, world.tokens["viewer"], unit="P01")
    rid = body(viewer)["id"]
    outside = post_request(client, world.tokens["x1-reporter"], unit="P01")
    other_province = client.get(f"/api/v1/report-requests/{rid}", headers=auth(world.tokens["p02-admin"]))
    own = client.get(f"/api/v1/report-requests/{rid}", headers=auth(world.tokens["p01-reporter"]))
    file_outside = client.get(f"/api/v1/report-requests/{rid}/files/xlsx", headers=auth(world.tokens["p02-admin"]))
    anonymous = post_request(client, None)

    assert viewer.status_code == 202
    assert outside.status_code == 403
    assert "P01 is outside your unit P01.X1" in body(outside)["detail"]
    assert (other_province.status_code, file_outside.status_code) == (403, 403)
    assert own.status_code == 200
    assert body(own)["status"] == "queued"
    assert anonymous.status_code == 401
    assert len(outbox(sessions)) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"form": "99/XYZ"}, "form"),
        ({"period": "1999-Q1"}, "period"),
        ({"unit": "NOWHERE"}, "unit"),
        ({"form": ""}, "form"),
        ({"extra": 1}, "extra"),
    ],
)
def test_unknown_form_period_or_unit_is_a_422_naming_it(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], changes: dict[str, Any], field: str
) -> None:
    payload = {"form": "01/TCD", "period": "2026-Q4", "unit": "P01", **changes}
    response = client.post("/api/v1/report-requests", json=payload, headers=auth(world.tokens["admin"]))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in {e["field"] for e in body(response)["errors"]}
    assert outbox(sessions) == []


def test_unknown_ids_files_and_files_not_yet_made_are_404(client: FlaskClient, world: World) -> None:
    token = world.tokens["admin"]
    rid = body(post_request(client, token))["id"]
    answers = [
        client.get(path, headers=auth(token)).status_code
        for path in (
            f"/api/v1/report-requests/{uuid.uuid4()}",
            "/api/v1/report-requests/not-a-uuid",
            f"/api/v1/report-requests/{rid}/files/pdf",
            f"/api/v1/report-requests/{rid}/files/xlsx",
        )
    ]
    assert answers == [404, 404, 404, 404]


def _refuse(*_args: Any, **_kwargs: Any) -> None:
    raise ConnectionError("Redis is unreachable (injected)")


def test_a_claimed_job_is_not_taken_twice_until_its_lease_runs_out(
    app: Flask, client: FlaskClient, world: World, sessions: sessionmaker[Session], runtime: Any
) -> None:
    rid = uuid.UUID(body(post_request(client, world.tokens["p01-admin"]))["id"])
    lease = dt.timedelta(minutes=5)
    now = utcnow()
    with sessions() as session:
        first = claim(session, rid, now, lease)
    with sessions() as session:
        twin = claim(session, rid, now + dt.timedelta(minutes=1), lease)
    # The first worker was killed: once its lease has run out, the relay's message takes the job.
    with sessions() as session:
        again = claim(session, rid, now + lease + dt.timedelta(seconds=1), lease)

    assert first is not None and first.status == "running"
    assert twin is None
    assert again is not None
    assert (again.status, again.attempts) == ("running", 2)
    assert run(sessions, runtime.forms, rid, job(app)).value == "duplicate"  # its lease is live
    assert run(sessions, runtime.forms, uuid.uuid4(), job(app)).value == "missing"


def test_a_job_stopped_by_its_time_limit_is_released_for_the_retry(
    app: Flask,
    client: FlaskClient,
    world: World,
    sessions: sessionmaker[Session],
    runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rid = body(post_request(client, world.tokens["p01-admin"]))["id"]

    def too_long(*_args: Any, **_kwargs: Any) -> Any:
        raise TimeLimitExceeded("time limit exceeded (injected)")

    monkeypatch.setattr(models.report_jobs, "compute_form", too_long)
    with pytest.raises(TimeLimitExceeded):
        run(sessions, runtime.forms, uuid.UUID(rid), job(app))
    released = load(sessions, rid)
    monkeypatch.undo()
    retried = run(sessions, runtime.forms, uuid.UUID(rid), job(app))

    assert (released.status, released.lease_until, released.error) == (
        "queued",
        None,
        "TimeLimitExceeded: time limit exceeded (injected)",
    )
    assert (retried.value, load(sessions, rid).status, load(sessions, rid).attempts) == ("done", "done", 2)


def test_gunicorn_and_a_dramatiq_process_serve_a_request_end_to_end(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_receptions(client, world)
    headers = auth(world.tokens["p01-reporter"])
    port = free_port()
    env = service_env(tmp_path)  # web and workers share KNTC_DATA_DIR, as compose's volume does
    with (
        running(gunicorn(port, 1), env, tmp_path / "gunicorn.log") as web,
        running(dramatiq_workers(threads=2), env, tmp_path / "workers.log") as workers_process,
    ):
        wait_until(lambda: http_up(port), 60, "gunicorn answers", web)
        status, _, created = call(port, "POST", "/api/v1/report-requests", {"form": "01-TCD", "period": "2026-Q4",
                                                                           "unit": "P01"}, headers)  # fmt: skip
        assert (status, created.get("shared")) == (202, False), created
        path = f"/api/v1/report-requests/{created['id']}"
        wait_until(lambda: call(port, "GET", path, None, headers)[2]["status"] == "done", 60, "done", workers_process)
        shown = call(port, "GET", path, None, headers)[2]
        csv_status, csv_headers, csv_text = call(port, "GET", shown["files"]["csv"], None, headers)
        xlsx_status, xlsx_headers, _ = call(port, "GET", shown["files"]["xlsx"], None, headers)

    assert shown["result"]["columns"]["1"] == 3
    assert (csv_status, xlsx_status) == (200, 200)
    assert csv_headers["Content-Type"] == "text/csv; charset=utf-8"
    assert xlsx_headers["Content-Type"] == XLSX
    assert csv_text.splitlines()[-1].startswith(f",{TOTAL_LABEL},3,10,")
    assert (tmp_path / "data" / "attachments" / "reports" / created["id"] / "report.xlsx").is_file()


def test_the_loser_of_a_race_between_identical_requests_shares_the_winners_row(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], runtime: Any
) -> None:
    from models.auth import principal_for_token
    from models.periods import Period
    from models.units import Unit

    with sessions() as session:
        who = principal_for_token(session, world.tokens["p01-admin"])
        period = session.scalars(sa.select(Period)).one()
        unit = session.scalars(sa.select(Unit).where(Unit.code == "P01")).one()
    assert who is not None
    form = tcd()
    winner = sessions()
    # The winner has inserted but not committed: the loser's insert waits on the unique index.
    winner_id = uuid.uuid4()
    row = {"id": winner_id, "form_code": form.code, "form_version": form.version, "period_id": period.id,
           "unit_id": unit.id, "requested_by": who.account_id, "status": "queued", "progress": 0.0, "attempts": 0,
           "created_at": utcnow()}  # fmt: skip
    assert _insert_unless_active(winner, row)
    with ThreadPoolExecutor(max_workers=1) as pool, sessions() as loser:
        pending = pool.submit(request_report, loser, who, form, period, unit, dt.timedelta(seconds=60))
        time.sleep(0.3)
        assert not pending.done()
        winner.commit()
        winner.close()
        shared = pending.result(timeout=10)

    assert (shared.new, shared.request.id) == (False, winner_id)
