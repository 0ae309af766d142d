"""The intake's CPU per report in process: ours and the naive intake, called alternately.

    .venv/bin/python bench/intake_cpu.py [-n 12000] [--database NAME] [--redis-db N]

``bench/intake.py`` measures the whole surge, where the web shares two cores with
PostgreSQL, Redis and the load generator, and its figures move by a fifth from one run
to the next on a shared machine. This one calls each Flask app's WSGI callable directly,
in one process, against the same PostgreSQL and Redis, and reads this process's CPU
time around each request: what the web's own code costs, without gunicorn's HTTP
parsing or the sockets. The two apps take turns request by request, so that a slower
minute of the machine slows both alike; ours/naive is the figure to compare between
commits.

Both receive the same reports as in ``bench/intake.py`` (report i from unit i mod 4,039,
each with its own Idempotency-Key): ours authenticates the token, checks, signs a
receipt and stores the report with its outbox and idempotency rows in one statement,
then enqueues; the naive one inserts one row and enqueues. No worker runs: the messages
stay in Redis.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# A metrics directory of its own before anything imports prometheus_client's multiprocess mode.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="kntc-bench-metrics-"))

import intake as surge_bench
import naive_app
from rich.console import Console
from rich.table import Table
from werkzeug.test import EnvironBuilder

from kntc.seed import Seeded, seed
from kntc.settings import Settings
from kntc.surge import valid_figures
from web import create_app

console = Console()
WARM_UP = 200  # requests per app before measuring: imports, caches, prepared statements

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def main() -> int:
    # Ours sends each message in its request, as the naive intake does: the thread that sends
    # them in batches (kntc/send_batches.py) would spend its CPU during whichever app's
    # request happens to run. bench/intake.py measures the batches.
    args, settings, seeded = in_process(__doc__, 12_000, "reports to send to each intake", send_batch_ms=0)
    reports = list(_reports(seeded.period, sorted(seeded.tokens.items()), args.requests))
    apps: dict[str, tuple[Wsgi, str]] = {
        "ours": (create_app(settings), "/api/v1/submissions"),
        "naive": (naive_app.create_app(), naive_app.PATH),
    }
    environs = {name: [_environ(path, *report) for report in reports] for name, (_, path) in apps.items()}
    spent = _alternate({name: app for name, (app, _) in apps.items()}, environs)
    _report(spent, args.requests - WARM_UP)
    return 0


def in_process(doc: str, requests: int, what: str, **changes: Any) -> tuple[argparse.Namespace, Settings, Seeded]:
    """The command line (-n, --database, --redis-db), the settings with ``changes`` and the
    seeded database of a benchmark that calls the apps in this process."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=requests, help=what)
    parser.add_argument("--database", default="kntc_bench_cpu", help="recreated at start")
    parser.add_argument("--redis-db", type=int, default=14, help="flushed at start")
    args = parser.parse_args()
    settings = surge_bench.prepare(args, Path(tempfile.mkdtemp(prefix="kntc-bench-cpu-")))
    settings = dataclasses.replace(settings, **changes)
    os.environ["DATABASE_URL"], os.environ["REDIS_URL"] = settings.sqlalchemy_url, str(settings.redis_url)
    return args, settings, seed(settings, communes=None, period_code="BENCH", due_in=dt.timedelta(hours=1))


def _reports(period: str, tokens: list[tuple[str, str]], n: int) -> Iterable[tuple[str, str, str, str]]:
    figures = valid_figures(random.Random(1))
    for i in range(n):
        unit, token = tokens[i % len(tokens)]
        body = {"period": period, "unit": unit, "form": "01/TCD", "figures": figures}
        yield json.dumps(body, separators=(",", ":")), token, f"bench-{i}", unit


def _environ(path: str, body: str, token: str, key: str, _unit: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    builder = EnvironBuilder(path=path, method="POST", data=body, content_type="application/json", headers=headers)
    return builder.get_environ()


def _alternate(apps: dict[str, Wsgi], environs: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Each app's CPU seconds over its requests after the warm-up, the apps taking turns."""
    statuses: dict[str, set[str]] = {name: set() for name in apps}
    spent = dict.fromkeys(apps, 0.0)
    for i in range(len(next(iter(environs.values())))):
        # Who goes first changes every request: neither always follows the other.
        for name in sorted(apps, reverse=bool(i % 2)):

            def start_response(status: str, _headers: Any, _exc: Any = None, name: str = name) -> None:
                statuses[name].add(status.split(maxsplit=1)[0])

            started = time.process_time()
            for _ in apps[name](environs[name][i], start_response):
                pass
            if i >= WARM_UP:
                spent[name] += time.process_time() - started
    for name, seen in statuses.items():
        if seen != {"202"}:
            raise RuntimeError(f"{name} answered {sorted(seen)}, not only 202")
    return spent


def _report(spent: dict[str, float], measured: int) -> None:
    table = Table(title=f"Intake CPU per report in process, {measured:,} reports each, apps taking turns")
    table.add_column("")
    table.add_column("µs/report", justify="right")
    for name, seconds in spent.items():
        table.add_row(name, f"{seconds * 1e6 / measured:,.0f}")
    table.add_row("ours/naive", f"{spent['ours'] / spent['naive']:.0%}")
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
