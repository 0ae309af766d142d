"""The submission actor's CPU per report in process: what deciding a stored report costs.

    .venv/bin/python bench/worker_cpu.py [-n 3000] [--database NAME] [--redis-db N]

Stores ``-n`` reports through the intake (its Flask app, in this process), then calls the
``process_submission`` actor's function for each, as a worker thread would after taking
its message: the unit's and the global limiter on Redis, the read and the decision on
PostgreSQL, the metrics. It reads this process's CPU time around those calls, so
dramatiq's own fetching and acknowledging and the machine's other work stay out of it:
the figure to compare between commits (``bench/intake.py`` has the whole surge).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

# A metrics directory of its own before anything imports prometheus_client's multiprocess mode.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="kntc-bench-metrics-"))

import intake_cpu
import sqlalchemy as sa
from rich.console import Console

from web import create_app

console = Console()


def main() -> int:
    # No holding back for a surge: this measures the decision, not the wait.
    args, settings, seeded = intake_cpu.in_process(
        __doc__, 3_000, "reports to store, then decide", send_batch_ms=0, surge_rate=0
    )
    stored = _store(create_app(settings), seeded.period, sorted(seeded.tokens.items()), args.requests)

    from workers.context import runtime
    from workers.submissions import process_submission

    started = time.process_time()
    for sid, unit_id, version in stored:
        process_submission.fn(sid, unit_id, version)
    spent = time.process_time() - started
    with runtime().engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT status, count(*) FROM submissions GROUP BY 1")).all())
    console.print(f"{len(stored):,} reports decided {statuses}: {spent * 1e6 / len(stored):,.0f} µs of CPU a report")
    return 0


def _store(app: Any, period: str, tokens: list[tuple[str, str]], n: int) -> list[tuple[str, int, int]]:
    """(id, unit id, version) of each report stored, as the intake's message names them."""
    stored = []
    for report in intake_cpu._reports(period, tokens, n):
        answer = json.loads(b"".join(app(intake_cpu._environ("/api/v1/submissions", *report), _ignore)))
        stored.append((answer["id"], answer["receipt"]["version"]))
    with app.extensions["kntc"].engine.connect() as conn:
        units = dict(conn.execute(sa.text("SELECT id::text, unit_id FROM submissions")).all())
    return [(sid, units[sid], version) for sid, version in stored]


def _ignore(*_args: Any) -> None:
    pass


if __name__ == "__main__":
    sys.exit(main())
