"""A worker process SIGKILLed in the middle of a surge loses nothing: the outbox relay sees to it."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import (
    INVALID_TCD,
    VALID_TCD,
    World,
    call,
    dramatiq_workers,
    running,
    service_env,
    stop,
    submission,
    submit,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.orm import Session, sessionmaker

from models.submissions import OutboxEntry, Submission
from models.units import Unit

UNITS = 50
VERSIONS = 4  # 200 submissions


def scrape(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def statuses(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(sa.select(Submission.status, sa.func.count()).group_by(Submission.status)).all()
    return {status: int(n) for status, n in rows}


def decided(sessions: sessionmaker[Session]) -> int:
    counts = statuses(sessions)
    return counts.get("accepted", 0) + counts.get("rejected", 0)


@pytest.mark.slow
def test_killing_a_worker_mid_surge_loses_nothing(
    make_app: Any, world: World, sessions: sessionmaker[Session], redis_client: Any, tmp_path: Path
) -> None:
    app: Flask = make_app(relay_delay_seconds=1)
    world.app = app
    client = app.test_client()
    rows = "".join(f"P01.K{i:02d},UBND xã Thử Nghiệm {i},P01,commune\n" for i in range(UNITS))
    world.units("code,name,parent_code,level\n" + rows)
    token = world.tokens["p01-admin"]

    # Round after round, as units send corrections: v1 of every unit, then v2, ...
    expected: dict[tuple[str, int], str] = {}
    for version in range(1, VERSIONS + 1):
        for i in range(UNITS):
            unit = f"P01.K{i:02d}"
            bad = (i + version) % 5 == 0
            status, body, _ = submit(client, token, submission(unit=unit, figures=INVALID_TCD if bad else VALID_TCD))
            assert status == 202
            assert body["receipt"]["version"] == version
            expected[(unit, version)] = "rejected" if bad else "accepted"
    total = UNITS * VERSIONS

    # Hold the last round's rows: the worker's threads block on them mid-job, so the kill
    # below lands while jobs are in flight and not everything has been decided.
    blocker = sessions()
    blocker.execute(sa.select(Submission.id).where(Submission.version == VERSIONS).with_for_update())

    def unacked() -> int:
        """Messages fetched by a worker and not yet acknowledged (Redis keeps them per worker)."""
        return sum(redis_client.scard(key) for key in redis_client.scan_iter("dramatiq:__acks__.*"))

    # No relay in the first process: recovering its messages is the new process's job.
    env = service_env(tmp_path, dramatiq_prom_db=str(tmp_path / "prom-1"), KNTC_RELAY_INTERVAL_SECONDS="0")
    try:
        with running(dramatiq_workers(threads=2), env, tmp_path / "workers-1.log") as first:
            wait_until(
                lambda: decided(sessions) == total - UNITS and unacked() >= 2,
                60,
                "every earlier version is decided and the last round is in the worker's hands",
                first,
            )
            stop(first, signal.SIGKILL)
            assert first.returncode == -signal.SIGKILL
        # Killed mid-job: the last round undecided, some of its messages fetched and never
        # acknowledged. Redis gives those back only after a 60 s heartbeat timeout.
        assert decided(sessions) == total - UNITS
        assert unacked() >= 2
    finally:
        blocker.rollback()
        blocker.close()

    env = service_env(tmp_path, dramatiq_prom_db=str(tmp_path / "prom-2"))
    with running(dramatiq_workers(threads=2), env, tmp_path / "workers-2.log") as second:
        # Bounded below the broker's 60 s heartbeat timeout: Redis alone would not requeue them in time.
        wait_until(lambda: decided(sessions) == total, 45, "every report is decided", second)
        prom_port = int(env["dramatiq_prom_port"])
        status, _, text = call(prom_port, "GET", "/")
        assert status == 200
        samples = {(s.name, s.labels.get("queue"), s.labels.get("outcome")): s.value for s in scrape(text)}
        assert samples[("kntc_outbox_relay_resent_total", "submissions", None)] > 0
        assert samples[("kntc_worker_messages_total", None, "accepted")] > 0

    with sessions() as session:
        rows_found = session.execute(
            sa.select(Unit.code, Submission.version, Submission.status, Submission.processed_at).join(Unit)
        ).all()
        outbox = session.scalar(sa.select(sa.func.count()).select_from(OutboxEntry))
    assert len(rows_found) == total
    assert {(code, version): status for code, version, status, _ in rows_found} == expected
    assert all(processed_at is not None for *_, processed_at in rows_found)
    assert statuses(sessions).keys() <= {"accepted", "rejected"}
    assert outbox == 0
