"""The intake's messages leave a web process in batches, from a thread of its own (kntc/send_batches.py)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from flask.testing import FlaskClient
from helpers import (
    World,
    auth,
    call,
    free_port,
    gunicorn,
    http_up,
    load_submission,
    queued_messages,
    running,
    service_env,
    submission,
    wait_until,
)
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from kntc import broker, send_batches
from kntc.send_batches import BatchSender
from kntc.settings import Settings

HELD = 60.0  # a window no test waits out: what leaves before it, left because of a flush or an exit
UNITS = ("P01.X1", "P01.X2", "P01")


def redis_broker() -> RedisBroker:
    configured = broker.setup_broker(Settings.from_env())
    assert isinstance(configured, RedisBroker)
    return configured


def failures() -> float:
    return REGISTRY.get_sample_value("kntc_enqueue_failures_total") or 0.0


def test_the_reports_of_a_window_leave_in_one_batch_that_the_workers_decide(
    client: FlaskClient,
    world: World,
    drain: Callable[..., None],
    sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[int] = []
    real = send_batches.enqueue_all

    def counted(to: RedisBroker, batch: list[send_batches.Outgoing]) -> None:
        batches.append(len(batch))
        real(to, batch)  # the real pipeline to the real Redis: only counted on the way

    monkeypatch.setattr(send_batches, "enqueue_all", counted)
    monkeypatch.setattr(broker, "_batches", BatchSender(redis_broker(), HELD))
    headers = auth(world.tokens["p01-reporter"])
    answers = [client.post("/api/v1/submissions", json=submission(unit=u), headers=headers) for u in UNITS]
    assert [answer.status_code for answer in answers] == [202] * 3
    ids = [answer.get_json()["id"] for answer in answers]

    assert redis_client.llen("dramatiq:submissions") == 0  # answered 202, messages still in hand
    assert broker.flush_sends()
    assert batches == [3]
    messages = sorted(queued_messages(redis_client), key=lambda m: ids.index(m.args[0]))
    assert [(m.actor_name, m.args, m.kwargs["version"]) for m in messages] == [
        ("process_submission", (sid,), 1) for sid in ids
    ]
    assert len({m.options["redis_message_id"] for m in messages}) == 3

    drain()
    assert [load_submission(sessions, sid).status for sid in ids] == ["accepted"] * 3


def _send_in_child(sender: BatchSender) -> None:
    sender.send("submissions", "process_submission", ("sent-by-child",), {})
    os._exit(0 if sender.flush(10) else 1)


def test_a_forked_process_sends_through_a_thread_of_its_own(redis_client: redis.Redis) -> None:
    sender = BatchSender(redis_broker(), HELD)
    sender.send("submissions", "process_submission", ("held-by-parent",), {})  # the parent's thread runs

    child = multiprocessing.get_context("fork").Process(target=_send_in_child, args=(sender,))
    child.start()
    child.join(30)

    # The child's thread sent the child's message; what the parent holds is the parent's.
    assert child.exitcode == 0
    assert [m.args for m in queued_messages(redis_client)] == [("sent-by-child",)]
    assert sender.flush()
    assert sorted(m.args for m in queued_messages(redis_client)) == [("held-by-parent",), ("sent-by-child",)]


def test_a_batch_redis_refuses_is_counted_and_the_next_one_still_goes(redis_client: redis.Redis) -> None:
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    sender = BatchSender(RedisBroker(client=unreachable), HELD)
    before = failures()
    for n in range(2):
        sender.send("submissions", "process_submission", (f"lost-{n}",), {})
        assert sender.flush()
    # Both counted: the thread outlived the first refusal. The outbox relay sends them later.
    assert failures() - before == 2


def test_with_no_window_the_message_leaves_in_the_request(
    client: FlaskClient, world: World, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings.from_env({}).send_batch_ms == 20
    assert Settings.from_env({"KNTC_SEND_BATCH_MS": "0"}).send_batch_ms == 0
    monkeypatch.setattr(broker, "_batches", None)  # what setup_broker leaves with KNTC_SEND_BATCH_MS=0

    answer = client.post("/api/v1/submissions", json=submission(), headers=auth(world.tokens["x1-reporter"]))

    sid = answer.get_json()["id"]
    assert [m.args for m in queued_messages(redis_client)] == [(sid,)]


@pytest.mark.slow
def test_a_web_process_stopping_sends_what_it_holds(world: World, tmp_path: Path, redis_client: redis.Redis) -> None:
    port = free_port()
    env = service_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-web"), KNTC_SEND_BATCH_MS="600000")
    headers = auth(world.tokens["p01-reporter"])
    with running(gunicorn(port, 2), env, tmp_path / "gunicorn.log") as proc:
        wait_until(lambda: http_up(port), 60, "gunicorn answers", proc)
        answers: list[Any] = [call(port, "POST", "/api/v1/submissions", submission(unit=u), headers) for u in UNITS]
        assert [status for status, _, _ in answers] == [202] * 3
        assert redis_client.llen("dramatiq:submissions") == 0  # held for the ten-minute window
    # SIGTERM: each gunicorn worker sent what it held before it exited.
    assert sorted(m.args[0] for m in queued_messages(redis_client)) == sorted(body["id"] for _, _, body in answers)
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log, log
