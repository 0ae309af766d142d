"""Overdue and stuck petitions: the actor flags them idempotently; filters and gauges read the flags."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import dramatiq
import pytest
import redis
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World, auth
from prometheus_client.parser import text_string_to_metric_families
from records_helpers import act, handling, make_petition
from sqlalchemy.orm import Session, sessionmaker

from kntc import broker
from kntc.scheduler import Job, claim, jobs, run, tick
from models.base import utcnow
from models.handling import PetitionHandling
from models.overdue import flag
from models.workflow import today
from web.ops import _overdue_counts


def set_handling(sessions: sessionmaker[Session], pid: int, **values: Any) -> None:
    with sessions() as session:
        session.execute(sa.update(PetitionHandling).where(PetitionHandling.petition_id == pid).values(**values))
        session.commit()


@pytest.fixture
def desk(world: World, sessions: sessionmaker[Session]) -> dict[str, int]:
    """Petitions in every situation the job must tell apart."""
    world.account("x1-officer", "P01.X1", "officer")
    world.account("x1-leader", "P01.X1", "leader")
    with sessions() as session:
        officer = session.scalar(sa.text("SELECT id FROM accounts WHERE username = 'x1-officer'"))
    yesterday, tomorrow = today() - dt.timedelta(days=1), today() + dt.timedelta(days=1)
    long_ago = utcnow() - dt.timedelta(days=30)
    pids = {
        "overdue": make_petition(sessions),
        "due_tomorrow": make_petition(sessions),
        "resolved_late": make_petition(sessions),
        "draft": make_petition(sessions, status="draft"),
        "stuck": make_petition(sessions),
        "idle_unassigned": make_petition(sessions),
        "other_province": make_petition(sessions, "P02.X1"),
        "no_handling": make_petition(sessions, received_on=today() - dt.timedelta(days=60), start=False),
    }
    set_handling(sessions, pids["overdue"], state="accepted", due_on=yesterday)
    set_handling(sessions, pids["due_tomorrow"], state="accepted", due_on=tomorrow)
    set_handling(sessions, pids["resolved_late"], state="resolved", due_on=yesterday)
    set_handling(sessions, pids["draft"], due_on=yesterday)
    set_handling(
        sessions, pids["stuck"], state="assigned", due_on=tomorrow, assignee_id=officer, last_activity_at=long_ago
    )
    set_handling(sessions, pids["idle_unassigned"], due_on=tomorrow, last_activity_at=long_ago)
    set_handling(sessions, pids["other_province"], state="assigned", due_on=yesterday)
    return pids


def flags(sessions: sessionmaker[Session]) -> dict[int, tuple[Any, Any]]:
    with sessions() as session:
        rows = session.execute(
            sa.select(PetitionHandling.petition_id, PetitionHandling.overdue_since, PetitionHandling.stuck_since)
        )
        return {pid: (o, s) for pid, o, s in rows}


def run_job(workers_running: Callable[..., Any]) -> None:
    """Send the actor a message through Redis and let a real worker take it."""
    import workers

    broker.send("maintenance", "flag_overdue", ())
    with workers_running():
        workers.broker.join("maintenance", timeout=30_000)


def test_the_actor_flags_overdue_and_stuck_and_a_second_run_changes_nothing(
    desk: dict[str, int], sessions: sessionmaker[Session], workers_running: Callable[..., Any]
) -> None:
    run_job(workers_running)
    first = flags(sessions)
    overdue = {pid for pid, (o, _) in first.items() if o is not None}
    stuck = {pid for pid, (_, s) in first.items() if s is not None}
    # The petition stored without a handling row got one (received 60 days ago: overdue too).
    assert desk["no_handling"] in first
    assert overdue == {desk["overdue"], desk["other_province"], desk["no_handling"]}
    assert stuck == {desk["stuck"]}
    run_job(workers_running)
    assert flags(sessions) == first
    with sessions() as session:
        result = flag(session, utcnow(), dt.timedelta(days=10))
        session.commit()
    assert result.__dict__ == dict.fromkeys(result.__dict__, 0)


def test_flags_clear_when_the_situation_ends(
    client: FlaskClient, desk: dict[str, int], world: World, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        flag(session, utcnow(), dt.timedelta(days=10))
        session.commit()
    # Acting on the stuck petition un-sticks it at once; the job then agrees.
    assert act(client, world, "x1-officer", desk["stuck"], "start")[0] == 200
    assert handling(sessions, desk["stuck"]).stuck_since is None
    # A deadline moved later clears the overdue flag on the next run.
    set_handling(sessions, desk["overdue"], due_on=today() + dt.timedelta(days=5))
    with sessions() as session:
        result = flag(session, utcnow(), dt.timedelta(days=10))
        session.commit()
    assert result.overdue_cleared == 1 and result.stuck_cleared == 0
    assert handling(sessions, desk["overdue"]).overdue_since is None


def test_stuck_days_come_from_the_settings(desk: dict[str, int], sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        result = flag(session, utcnow(), dt.timedelta(days=31))
        session.commit()
    assert result.stuck_flagged == 0


def test_list_filters_overdue_and_stuck(
    client: FlaskClient, desk: dict[str, int], world: World, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        flag(session, utcnow(), dt.timedelta(days=10))
        session.commit()

    def ids(query: str, who: str = "p01-admin") -> set[int]:
        response = client.get(f"/api/v1/petitions?{query}", headers=auth(world.tokens[who]))
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()["items"]}

    assert ids("overdue=true") == {desk["overdue"], desk["no_handling"]}
    assert ids("overdue=true", "admin") == {desk["overdue"], desk["no_handling"], desk["other_province"]}
    assert ids("stuck=true") == {desk["stuck"]}
    assert desk["overdue"] not in ids("overdue=false")
    response = client.get("/api/v1/petitions?overdue=maybe", headers=auth(world.tokens["p01-admin"]))
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "overdue"


def gauge(text: str, name: str) -> dict[str, float]:
    return {
        s.labels["province"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_gauges_per_province_at_scrape_time(
    client: FlaskClient, desk: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    _overdue_counts.clear()
    text = client.get("/metrics").get_data(as_text=True)
    assert gauge(text, "kntc_overdue_petitions") == {"P01": 0, "P02": 0}
    with sessions() as session:
        flag(session, utcnow(), dt.timedelta(days=10))
        session.commit()
    text = client.get("/metrics").get_data(as_text=True)
    assert gauge(text, "kntc_overdue_petitions") == {"P01": 0, "P02": 0}  # kept for a minute
    _overdue_counts.clear()
    text = client.get("/metrics").get_data(as_text=True)
    assert gauge(text, "kntc_overdue_petitions") == {"P01": 2, "P02": 1}
    assert gauge(text, "kntc_stuck_petitions") == {"P01": 1, "P02": 0}


# --- the scheduler ---------------------------------------------------------------------


def test_two_schedulers_send_each_slot_once(redis_client: redis.Redis, database: sa.Engine) -> None:
    job = Job("flag_overdue", "maintenance", "flag_overdue", 60)
    sent: list[str] = []
    now = 1_800_000_000.0
    for _ in range(2):  # two scheduler processes, same instant
        tick(redis_client, [job], lambda j: sent.append(j.name), now)
    assert sent == ["flag_overdue"]
    tick(redis_client, [job], lambda j: sent.append(j.name), now + 30)  # same slot
    tick(redis_client, [job], lambda j: sent.append(j.name), now + 60)  # the next one
    assert sent == ["flag_overdue", "flag_overdue"]
    assert not claim(redis_client, job, now + 61)


def test_the_scheduler_process_sends_to_the_maintenance_queue(
    redis_client: redis.Redis, runtime: Any, database: sa.Engine
) -> None:
    from conftest import base_settings

    settings = base_settings(
        overdue_interval_seconds=3600, reconcile_interval_seconds=0, form_refresh_interval_seconds=0
    )
    assert [j.name for j in jobs(settings)] == ["flag_overdue"]
    assert jobs(settings.with_changes(overdue_interval_seconds=0)) == []
    every = jobs(settings.with_changes(reconcile_interval_seconds=60, form_refresh_interval_seconds=120))
    assert [(j.name, j.queue, j.interval_seconds) for j in every] == [
        ("flag_overdue", "maintenance", 3600),
        ("reconcile_submissions", "maintenance", 60),
        ("refresh_form_figures", "maintenance", 120),
    ]
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(settings, stop, 0.05))
    thread.start()
    try:
        deadline = threading.Event()
        for _ in range(100):
            if redis_client.llen("dramatiq:maintenance"):
                break
            deadline.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    messages = redis_client.hvals("dramatiq:maintenance.msgs")
    assert len(messages) == 1  # polled many times, sent once for the slot

    assert dramatiq.Message.decode(messages[0]).actor_name == "flag_overdue"


def test_the_scheduler_refuses_the_embedded_mode() -> None:
    from kntc.settings import Settings

    with pytest.raises(RuntimeError, match="REDIS_URL"):
        run(Settings(), threading.Event())


@pytest.mark.slow
def test_kntc_scheduler_runs_as_its_own_process(redis_client: redis.Redis, database: sa.Engine, tmp_path: Any) -> None:
    import signal
    import time

    from helpers import BIN, running, service_env, wait_until

    env = service_env(
        tmp_path,
        KNTC_OVERDUE_INTERVAL_SECONDS="3600",
        KNTC_RECONCILE_INTERVAL_SECONDS="3600",
        KNTC_FORM_REFRESH_INTERVAL_SECONDS="3600",
    )
    with running([str(BIN / "kntc"), "scheduler", "--poll", "0.1"], env, tmp_path / "scheduler.log") as proc:
        wait_until(lambda: redis_client.hlen("dramatiq:maintenance.msgs") >= 3, 30, "the scheduler sends", proc)
        time.sleep(0.5)  # several more polls in the same slot
        sent = [dramatiq.Message.decode(m).actor_name for m in redis_client.hvals("dramatiq:maintenance.msgs")]
        assert sorted(sent) == ["flag_overdue", "reconcile_submissions", "refresh_form_figures"], "once per slot"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    log = (tmp_path / "scheduler.log").read_text(encoding="utf-8")
    assert "scheduled job sent" in log
