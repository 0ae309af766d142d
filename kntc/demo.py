"""``kntc demo``: deadline night for the whole country, end to end, over real HTTP.

It builds the national tree (34 provinces, their departments, 3,321 communes, the
ministries), gives every unit a reporter account, opens a period due in a few minutes
and lets every unit submit form 01/TCD at once. Some reports break an identity of the
form, some are sent twice with the same Idempotency-Key, and some come after the
deadline (moved to "now" for them) within the 48 h grace. Then it waits until the
workers have decided every report and prints what happened: above all, that every
receipt issued stands for a stored, decided report (lost = 0).

Embedded defaults (no ``DATABASE_URL``, no ``REDIS_URL``): a fresh SQLite database
under ``KNTC_DATA_DIR/demo`` and the app and its workers inside this process. With
``REDIS_URL`` set: gunicorn and ``dramatiq workers`` as child processes, on the
configured database, where the demo deletes nothing and opens a new period per run.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from kntc import surge
from kntc.settings import Settings

if TYPE_CHECKING:  # models are imported only when the demo runs, to keep the CLI quick
    from kntc.seed import Seeded
    from kntc.verdict import Result

DUE_IN = dt.timedelta(minutes=5)  # the on-time wave must end before it
CACHE_WAIT_SECONDS = 1.2  # the intake caches a period for 1 s
DECIDE_TIMEOUT_SECONDS = 90
# In one process the client, the server and the workers share one GIL and SQLite's one
# writer: more connections or worker threads only queue (measured: 2 and 2 finish first).
EMBEDDED_CONNECTIONS = 2
EMBEDDED_WORKER_THREADS = 2
SERVICE_CONNECTIONS = 32


def run_demo(settings: Settings, units_limit: int | None = None) -> None:
    """Run the surge and print the tables; raises CommandError when a check fails (lost > 0)."""
    from kntc.seed import seed
    from kntc.verdict import Findings, show

    console = Console()
    settings = _prepare(settings, console)
    started = time.perf_counter()
    seeded = seed(settings, communes=units_limit, period_code=_period_code(settings), due_in=DUE_IN, with_records=True)
    console.print(
        f"Imported {seeded.units:,} units, issued {len(seeded.tokens) + 1:,} tokens "
        f"({time.perf_counter() - started:.1f} s); period [bold]{seeded.period}[/] due {_vn(seeded.due_at)}, grace 48 h"
    )
    with _stack(settings) as port:
        result = _surge(surge.Client("127.0.0.1", port), seeded, console)
    found = Findings.of(result)
    show(console, seeded, result, found)
    if found.failures:
        from kntc.cli import CommandError

        raise CommandError("demo failed: " + "; ".join(found.failures))


def _prepare(settings: Settings, console: Console) -> Settings:
    """A fresh data dir for the embedded database, then the migrations; a real database is only migrated."""
    from kntc.migrate import upgrade

    if settings.database_url is None:
        demo_dir = settings.data_dir / "demo"
        shutil.rmtree(demo_dir, ignore_errors=True)
        settings = settings.with_changes(data_dir=demo_dir, embedded_worker_threads=EMBEDDED_WORKER_THREADS)
        console.print(f"[bold]Embedded mode[/]: a fresh SQLite database in {demo_dir.resolve()}")
    else:
        console.print(
            "[bold yellow]Using the configured database[/]: the demo deletes nothing there; it imports the "
            "national tree, adds demo.* accounts and tokens, and opens a period of its own."
        )
    upgrade(settings)
    return settings


def _period_code(settings: Settings) -> str:
    from kntc.seed import quarter_of

    now = dt.datetime.now(dt.UTC)
    code = quarter_of(now.date())[0]
    # A real database keeps the periods of earlier runs: each run needs its own.
    return code if settings.database_url is None else f"{code}-demo-{now:%Y%m%dT%H%M%S}"


def _vn(at: dt.datetime) -> str:
    from models.periods import describe_deadline

    return describe_deadline(at)


@contextmanager
def _stack(settings: Settings) -> Iterator[int]:
    """The web and the workers: in this process (embedded) or as gunicorn and dramatiq processes."""
    from kntc.stack import embedded_stack, service_stack

    if settings.embedded:
        with embedded_stack(settings) as port:
            yield port
        return
    with tempfile.TemporaryDirectory(prefix="kntc-demo-") as run_dir, service_stack(settings, Path(run_dir)) as port:
        yield port


def _surge(client: surge.Client, seeded: Seeded, console: Console) -> Result:
    from kntc.verdict import Result
    from models.forms import catalogue

    form = catalogue().version(surge.FORM, "TT02-2021")
    assert form is not None, "form 01/TCD TT02-2021 is missing from models/forms"
    on_time_jobs, late_jobs = surge.plan(seeded.tokens, seeded.period, form)
    connections = EMBEDDED_CONNECTIONS if seeded.settings.embedded else SERVICE_CONNECTIONS
    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), RateColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        waves = (("on-time wave", on_time_jobs), ("late wave (within grace)", late_jobs))
        tasks = [progress.add_task(name, total=len(jobs), start=False) for name, jobs in waves]
        watcher = DecidedWatcher(seeded, progress)
        with watcher.running():
            on_time = _wave(client, on_time_jobs, connections, progress, tasks[0])
            _pass_deadline(client, seeded)
            late = _wave(client, late_jobs, connections, progress, tasks[1])
            watcher.expect(surge.receipt_count(on_time) + surge.receipt_count(late))
            watcher.wait(DECIDE_TIMEOUT_SECONDS)
    where = "in-process" if seeded.settings.embedded else "gunicorn + dramatiq workers"
    result = Result(on_time, late, connections, where, _stored(seeded), watcher.decided_seconds)
    completeness = f"/api/v1/periods/{seeded.period}/completeness?unit=VN&form={surge.FORM}"
    result.completeness = client.call("GET", completeness, token=seeded.admin_token)[1]
    result.public_key = base64.b64decode(client.call("GET", "/api/v1/receipts/public-key")[1]["public_key"])
    return result


class RateColumn(ProgressColumn):
    """Completed per second since the task started."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        return Text(f"{task.completed / elapsed if elapsed else 0.0:,.0f}/s", style="cyan")


def _wave(
    client: surge.Client, jobs: list[surge.Job], connections: int, progress: Progress, task: TaskID
) -> surge.Wave:
    progress.start_task(task)
    return surge.run_wave(client, jobs, connections, lambda _: progress.advance(task))


def _pass_deadline(client: surge.Client, seeded: Seeded) -> None:
    """The deadline passes: an admin moves it to now; then wait out the intake's period cache."""
    body = json.dumps({"due": dt.datetime.now(dt.UTC).isoformat()}).encode()
    status, payload = client.call("PATCH", f"/api/v1/periods/{seeded.period}", body, seeded.admin_token)
    if status != 200:
        raise RuntimeError(f"could not move the deadline: HTTP {status} {payload}")
    time.sleep(CACHE_WAIT_SECONDS)


class DecidedWatcher:
    """Polls the database for how many reports the workers have decided, for the progress bar."""

    def __init__(self, seeded: Seeded, progress: Progress) -> None:
        from models.db import make_engine

        self.period_id = seeded.period_id
        self.progress = progress
        self.task = progress.add_task("decided by the workers", total=None)
        self.engine = make_engine(seeded.settings.sqlalchemy_url, pool_size=1)
        self.expected: int | None = None
        self.decided_seconds: float | None = None
        self._started = time.perf_counter()
        self._stop = threading.Event()
        self._done = threading.Event()

    @contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self._loop, name="demo-watcher", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self.engine.dispose()

    def expect(self, receipts: int) -> None:
        self.expected = receipts

    def wait(self, timeout: float) -> None:
        self._done.wait(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            try:
                stored, decided = self._counts()
            except sa.exc.OperationalError:  # a busy database: the next poll will do
                continue
            self.progress.update(self.task, total=self.expected or stored, completed=decided)
            if self.expected is not None and decided >= self.expected:
                self.decided_seconds = time.perf_counter() - self._started
                self._done.set()
                return

    def _counts(self) -> tuple[int, int]:
        from models.submissions import FINAL_STATUSES, Submission

        query = (
            sa.select(Submission.status, sa.func.count())
            .where(Submission.period_id == self.period_id)
            .group_by(Submission.status)
        )
        with self.engine.connect() as conn:
            counts: dict[str, int] = dict(conn.execute(query).tuples().all())
        return sum(counts.values()), sum(n for status, n in counts.items() if status in FINAL_STATUSES)


def _stored(seeded: Seeded) -> dict[str, tuple[str, bool, list[dict[str, str]]]]:
    """Every submission of the period: id -> (status, on_time, errors)."""
    from models.db import make_engine
    from models.submissions import Submission

    query = sa.select(Submission.id, Submission.status, Submission.on_time, Submission.errors).where(
        Submission.period_id == seeded.period_id
    )
    engine = make_engine(seeded.settings.sqlalchemy_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return {str(sid): (status, on_time, errors) for sid, status, on_time, errors in conn.execute(query)}
    finally:
        engine.dispose()
