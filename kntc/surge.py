"""A deadline surge over real HTTP: every unit submits its 01/TCD report at once.

The plan is seeded, so two runs send the same figures: most reports are valid, some
break an identity of the form (the workers must reject them), some are sent twice with
the same ``Idempotency-Key`` (the second answer must be the first one again), and some
arrive late, after the deadline but within the grace.

The load comes from a thread pool, each thread with its own keep-alive connection.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from models.forms import FormVersion

FORM = "01/TCD"
SHARE_LATE = 0.05
SHARE_BROKEN = 0.03
SHARE_REPLAY = 0.10
RETRIES = 3  # after a broken connection; the Idempotency-Key makes a resend safe


@dataclass(frozen=True)
class Job:
    """One unit's report, and what the plan expects to become of it."""

    unit: str
    token: str
    body: bytes
    key: str
    broken: bool
    replay: bool
    late: bool


@dataclass
class Outcome:
    job: Job
    status: int = 0
    latency: float = 0.0
    submission_id: str | None = None
    receipt: dict[str, Any] | None = None
    problem: str | None = None
    replay_status: int | None = None
    replay_latency: float | None = None
    replay_matched: bool | None = None

    @property
    def latencies(self) -> list[float]:
        return [self.latency] + ([self.replay_latency] if self.replay_latency is not None else [])


class Client:
    """JSON over HTTP/1.1 with one keep-alive connection per thread."""

    def __init__(self, host: str, port: int, timeout: float = 60) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._local = threading.local()

    def call(
        self, method: str, path: str, body: bytes | None = None, token: str | None = None, key: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        for attempt in range(RETRIES + 1):
            try:
                return self._send(method, path, body, headers)
            except (OSError, http.client.HTTPException):
                self._drop()
                if attempt == RETRIES:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self._drop()
        return response.status, json.loads(raw) if raw else None

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None


def valid_figures(rng: random.Random) -> dict[str, int]:
    """Figures of 01/TCD that satisfy every identity of the form."""
    figures: dict[int, int] = {}
    # Regular desk (4-11), the head's sessions (12-20), delegated sessions (21-29).
    for first, sessions in ((4, None), (13, 12), (22, 21)):
        if sessions is not None:
            figures[sessions] = rng.randint(0, 6)
        figures.update(_block(first, rng, scale=40 if sessions is None else 8))
    figures[1] = figures[4] + figures[13] + figures[22]
    figures[2] = figures[5] + figures[14] + figures[23]
    figures[3] = sum(figures[c] for c in (6, 7, 15, 16, 24, 25))
    return {str(c): figures[c] for c in sorted(figures)}


def _block(first: int, rng: random.Random, scale: int) -> dict[int, int]:
    """Turns, people, cases first-time / repeat, and their crowd-group subset."""
    turns = rng.randint(0, scale)
    groups = rng.randint(0, turns // 6)
    crowd_people = 5 * groups + rng.randint(0, 3 * groups)
    people = (turns - groups) + rng.randint(0, turns // 3) + crowd_people
    new_cases = rng.randint(0, turns)
    repeat_cases = rng.randint(0, turns - new_cases)
    crowd_new = rng.randint(0, min(new_cases, groups))
    crowd_repeat = rng.randint(0, min(repeat_cases, groups - crowd_new))
    values = (turns, people, new_cases, repeat_cases, groups, crowd_people, crowd_new, crowd_repeat)
    return {first + i: v for i, v in enumerate(values)}


def break_identity(figures: dict[str, int], rng: random.Random) -> dict[str, int]:
    """The same report with its total of turns off by a few (breaks 1 = 4 + 13 + 22)."""
    return {**figures, "1": figures["1"] + rng.randint(1, 5)}


def plan(tokens: Mapping[str, str], period: str, form: FormVersion, seed: int = 2026) -> tuple[list[Job], list[Job]]:
    """The on-time wave and the late wave: one job per unit, in a shuffled order."""
    rng = random.Random(seed)
    units = sorted(tokens)
    late = set(rng.sample(units, round(len(units) * SHARE_LATE)))
    broken = set(rng.sample([u for u in units if u not in late], round(len(units) * SHARE_BROKEN)))
    replay = set(rng.sample(units, round(len(units) * SHARE_REPLAY)))
    jobs = []
    for unit in units:
        figures = valid_figures(rng)
        if unit in broken:
            figures = break_identity(figures, rng)
        assert bool(form.check(figures)) == (unit in broken), f"the plan's figures for {unit} are wrong"
        body = {"period": period, "unit": unit, "form": FORM, "figures": figures, "note": f"Báo cáo kỳ {period}"}
        raw = json.dumps(body, ensure_ascii=False).encode()
        jobs.append(Job(unit, tokens[unit], raw, f"{period}/{unit}/1", unit in broken, unit in replay, unit in late))
    rng.shuffle(jobs)
    return [j for j in jobs if not j.late], [j for j in jobs if j.late]


def submit(client: Client, job: Job) -> Outcome:
    """Send the report; send it again with the same key when the plan says so."""
    outcome = Outcome(job)
    started = time.perf_counter()
    status, payload = client.call("POST", "/api/v1/submissions", job.body, job.token, job.key)
    outcome.latency = time.perf_counter() - started
    outcome.status = status
    if status != 202:
        outcome.problem = (payload or {}).get("detail", f"HTTP {status}")
        return outcome
    outcome.submission_id, outcome.receipt = payload["id"], payload["receipt"]
    if job.replay:
        started = time.perf_counter()
        again_status, again = client.call("POST", "/api/v1/submissions", job.body, job.token, job.key)
        outcome.replay_latency = time.perf_counter() - started
        outcome.replay_status = again_status
        outcome.replay_matched = again_status == 202 and again == payload
    return outcome


@dataclass
class Wave:
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        return self.finished - self.started


def run_wave(
    client: Client, jobs: Iterable[Job], concurrency: int, on_done: Callable[[Outcome], None] = lambda _: None
) -> Wave:
    wave = Wave(started=time.perf_counter())
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="surge") as pool:
        futures = [pool.submit(submit, client, job) for job in jobs]
        for future in as_completed(futures):
            outcome = future.result()
            wave.outcomes.append(outcome)
            on_done(outcome)
    wave.finished = time.perf_counter()
    return wave


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def receipt_count(wave: Wave) -> int:
    """Distinct submissions the wave got a receipt for."""
    return len({o.submission_id for o in wave.outcomes if o.submission_id})
