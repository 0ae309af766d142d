"""Intake benchmark: a deadline surge on the production processes, ours against a naive intake.

    .venv/bin/python bench/intake.py [-n 20000] [-c 32] [--database NAME] [--redis-db N]

It recreates the database ``kntc_bench`` (migrated, the national tree, one reporter
token per unit, a period), flushes Redis db 12 (give each concurrent run its own db:
a worker of another run on the same db takes messages, which then wait for the outbox
relay), then for each intake starts gunicorn with ``deploy/gunicorn.conf.py`` and
``dramatiq workers --processes 2 --threads 4`` (8 threads = the DB-job ceiling), sends
N valid 01/TCD reports at C connections (report i from unit i mod 4,039, each with its
own Idempotency-Key) and waits until the workers have processed all of them.

- ours: ``web:create_app()`` and ``workers``: authentication, checks, idempotency,
  signed receipt, outbox, all committed in one statement, then the enqueue.
- naive: ``bench/naive_app.py``: parse JSON, INSERT one row, enqueue one message.

Printed for each: accepted/s, latency p50/p90/p99, the time from the first request to
the last report processed, lost (a 202 whose report is not stored and processed), and
the CPU time per report of the web, PostgreSQL, the workers and the load generator
(read from /proc: the figure that holds when other work shares the machine); then
ours/naive and every target next to its figure. The figures are also saved in
bench/results/. The load comes from wrk with ``bench/intake.lua`` (``apt-get install
wrk``), else from the much costlier ``bench/loadgen.py``. ``--profile DIR`` samples the
web and worker processes with py-spy (``pip install py-spy``); ``--only ours`` skips the
naive run; ``--gunicorn-args '-k gthread --threads 4'`` measures another worker class;
``--worker-nice 10`` runs the workers at a lower CPU priority; ``--keep`` keeps the logs.

A backlog (workers down at a deadline): ``--only ours --workers-after 90 --relay-delay 30``
starts the workers 90 s after the surge, past the relay's delay, and prints how long they
took to decide it, how many messages the relay sent again and how many found nothing
left to decide (read from the workers' metrics).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loadgen
import naive_app
import procs
import psycopg
import redis
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from kntc.migrate import upgrade
from kntc.seed import Seeded, seed
from kntc.settings import Settings
from kntc.stack import HOST, dramatiq_command, free_port, gunicorn_command, processes, service_env, wait_healthy
from kntc.surge import valid_figures

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"  # ignored by git
PG = "postgresql://postgres@127.0.0.1:5432"
TARGETS = {"accepted_per_s": 1000.0, "ratio": 0.75, "p99_ms": 50.0, "processed_s": 60.0}
console = Console()


@dataclass(frozen=True)
class Case:
    name: str
    app: str  # for gunicorn
    workers: str  # for dramatiq
    path: str


OURS = Case("ours", "web:create_app()", "workers", "/api/v1/submissions")
NAIVE = Case("naive", "bench.naive_app:create_app()", "bench.naive_app", naive_app.PATH)


@dataclass
class Measured:
    case: Case
    load: dict[str, Any]  # the generator's summary
    stored: int = 0
    processed: int = 0
    processed_seconds: float | None = None  # first request received -> last report processed
    lost: int = 0
    load_average: float = 0.0
    cpu: dict[str, float] | None = None  # CPU seconds by role, from the first request to all processed
    surge_cpu: dict[str, float] | None = None  # CPU seconds by role and of the machine, while the load ran
    workers_started: dt.datetime | None = None  # with --workers-after
    drained_seconds: float | None = None  # with --workers-after: workers started -> last report processed
    workers_said: dict[str, float] | None = None  # worker_metrics()

    @property
    def accepted_per_s(self) -> float:
        return float(self.load["accepted"]) / self.load["seconds"] if self.load["seconds"] else 0.0


def main() -> int:
    args = parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="kntc-bench-"))
    try:
        settings = prepare(args, run_dir)
        seeded = seed(settings, communes=None, period_code="BENCH", due_in=dt.timedelta(hours=1))
        write_tokens(seeded, run_dir)
        console.print(f"kntc_bench: {seeded.units:,} units, one reporter token each, period {seeded.period}")
        cases = [case for case in (OURS, NAIVE) if args.only in (None, case.name)]
        results = [measure(case, args, settings, seeded, run_dir) for case in cases]
        report(results, args)
    finally:
        if args.keep:
            console.print(f"logs and metric files kept in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    return 1 if any(m.lost for m in results) else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=20_000, help="reports to send to each intake")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("--database", default="kntc_bench", help="recreated at start")
    parser.add_argument("--redis-db", type=int, default=12, help="flushed at start")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=4,
        help="per process; 2 x 4 = KNTC_DB_JOB_CONCURRENCY (8): threads beyond the ceiling only defer",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="run the workers at this niceness (e.g. 10: the web first when both share the cores)",
    )
    parser.add_argument(
        "--workers-after",
        type=int,
        metavar="SECONDS",
        help="start the workers this long after the surge (workers down at a deadline: a backlog)",
    )
    parser.add_argument("--relay-delay", type=int, metavar="SECONDS", help="KNTC_RELAY_DELAY_SECONDS for the run")
    parser.add_argument(
        "--surge-rate",
        type=int,
        metavar="N",
        help="KNTC_SURGE_RATE for the run (0: the workers decide at once, alongside the surge)",
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="one is plenty, and leaves the cores to the server")
    parser.add_argument("--generator", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--only", choices=("ours", "naive"), help="measure one intake only (default: both)")
    parser.add_argument("--profile", metavar="DIR", help="sample the web and worker processes with py-spy into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (process logs) at the end")
    parser.add_argument("--gunicorn-args", default="", help="extra gunicorn flags, e.g. '-k gthread --threads 4'")
    return parser.parse_args()


def prepare(args: argparse.Namespace, run_dir: Path) -> Settings:
    """A fresh, migrated database and an empty Redis db; returns the settings for both."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    settings = Settings(
        data_dir=run_dir / "data",
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.database}",
        redis_url=redis_url,
    )
    upgrade(settings)
    engine = sa.create_engine(settings.sqlalchemy_url)
    naive_app.metadata.create_all(engine)
    engine.dispose()
    return settings


def write_tokens(seeded: Seeded, run_dir: Path) -> None:
    lines = [f"{unit} {token}\n" for unit, token in sorted(seeded.tokens.items())]
    (run_dir / "tokens.txt").write_text("".join(lines))


def measure(case: Case, args: argparse.Namespace, settings: Settings, seeded: Seeded, run_dir: Path) -> Measured:
    case_dir = run_dir / case.name
    (case_dir / "out").mkdir(parents=True)
    logs = case_dir / "logs"
    port = free_port()
    extra = {"KNTC_RELAY_DELAY_SECONDS": args.relay_delay, "KNTC_SURGE_RATE": args.surge_rate}
    env = service_env(settings, case_dir, {name: str(value) for name, value in extra.items() if value is not None})
    workers_command = {
        "workers": _niced(args.worker_nice, dramatiq_command(case.workers, args.worker_processes, args.worker_threads))
    }
    with ExitStack() as stack:
        started = stack.enter_context(
            processes({"gunicorn": gunicorn_command(port, case.app) + shlex.split(args.gunicorn_args)}, env, logs)
        )
        wait_healthy(port, started, logs)

        def start_workers() -> None:
            started.extend(stack.enter_context(processes(workers_command, env, logs)))
            wait_workers_ready(logs / "workers.log", args.worker_processes)

        if args.workers_after is None:
            start_workers()
        measured = Measured(case, {}, load_average=os.getloadavg()[0])
        console.print(f"[bold]{case.name}[/]: {args.requests:,} reports at {args.connections} connections …")
        before = cpu_by_role(started, args.database)
        machine_before = procs.machine_cpu()
        with profiling(args, case, started):
            measured.load = generate(case, args, seeded, port, case_dir, run_dir / "tokens.txt")
        measured.surge_cpu = _surge_cpu(before, cpu_by_role(started, args.database), machine_before)
        if args.workers_after is not None:
            console.print(f"workers start in {args.workers_after} s: the surge waits in Redis meanwhile")
            time.sleep(args.workers_after)
            measured.workers_started = dt.datetime.now(dt.UTC)
            start_workers()
        wait_processed(measured, settings, seeded)
        after = cpu_by_role(started, args.database)
        measured.cpu = {role: procs.cpu_spent(before[role], after[role]) for role in before}
        measured.cpu["load generator"] = measured.load.pop("generator_cpu")
        measured.workers_said = worker_metrics(int(env["dramatiq_prom_port"]))
    return measured


def _surge_cpu(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], machine_before: dict[str, float]
) -> dict[str, float]:
    """While the load ran: each role's CPU seconds, and the machine's busy, idle and stolen seconds."""
    machine_after = procs.machine_cpu()
    spent = {role: procs.cpu_spent(before[role], after[role]) for role in before}
    return spent | {f"machine {what}": machine_after[what] - machine_before[what] for what in machine_after}


def worker_metrics(port: int) -> dict[str, float]:
    """What the workers counted (ours only): re-sends by the relay, and messages that found nothing to decide."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    wanted = {
        "relay re-sends": ("kntc_outbox_relay_resent_total", {}),
        "duplicates": ("kntc_worker_messages_total", {"outcome": "duplicate"}),
        "held back (s)": ("kntc_worker_held_back_seconds_total", {}),
    }
    said = dict.fromkeys(wanted, 0.0) if "kntc_" in text else {}  # naive's workers count none of ours
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for what, (name, labels) in wanted.items():
                if sample.name == name and labels.items() <= sample.labels.items():
                    said[what] = said.get(what, 0.0) + sample.value
    return said


def _niced(niceness: int, command: list[str]) -> list[str]:
    return ["nice", "-n", str(niceness), *command] if niceness else command


def cpu_by_role(started: list[subprocess.Popen[bytes]], database: str) -> dict[str, dict[int, float]]:
    web, *workers = started  # no workers yet with --workers-after
    return {
        "web": procs.cpu_seconds(procs.tree(web.pid)),
        "workers": procs.cpu_seconds([pid for process in workers for pid in procs.tree(process.pid)]),
        "postgres": procs.cpu_seconds(procs.postgres_backends(database)),
    }


@contextmanager
def profiling(args: argparse.Namespace, case: Case, started: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """With --profile: py-spy on every gunicorn and dramatiq worker process while the load runs."""
    if not args.profile:
        yield
        return
    out = Path(args.profile) / case.name
    web, *workers = started
    pids = {"gunicorn": procs.children(web.pid), "workers": [p for w in workers for p in procs.children(w.pid)]}
    with procs.sampling(pids, out):
        yield
    for name in pids:
        console.print(f"[bold]{case.name}, {name}[/] ({out}/{name}-*):")
        console.print(procs.summarise(sorted(out.glob(f"{name}-*"))), markup=False, highlight=False)


def wait_workers_ready(log: Path, worker_processes: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text(errors="replace").count("is ready for action") >= worker_processes:
            return
        time.sleep(0.2)
    raise RuntimeError(f"dramatiq workers did not start within {timeout:.0f} s; see {log}")


def generate(case: Case, args: argparse.Namespace, seeded: Seeded, port: int, case_dir: Path, tokens: Path) -> dict:
    figures = json.dumps(valid_figures(random.Random(1)), separators=(",", ":"))
    if args.generator == "python":
        units = [(unit, token) for unit, token in (line.split() for line in tokens.read_text().splitlines())]
        return loadgen.run(
            loadgen.Load(port, case.path, seeded.period, figures, units, args.requests, args.connections)
        )
    return run_wrk(case, args, seeded, port, case_dir, tokens, figures)


def run_wrk(
    case: Case, args: argparse.Namespace, seeded: Seeded, port: int, case_dir: Path, tokens: Path, figures: str
) -> dict[str, Any]:
    env = dict(
        os.environ,
        BENCH_TOKENS=str(tokens),
        BENCH_PERIOD=seeded.period,
        BENCH_PATH=case.path,
        BENCH_FIGURES=figures,
        BENCH_TOTAL=str(args.requests),
        BENCH_THREADS=str(args.wrk_threads),
        BENCH_OUT=str(case_dir / "out"),
    )
    duration = max(120, args.requests // 20)  # a ceiling: wrk is interrupted once every thread is done
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{duration}s"]
    command += ["--timeout", "30s", "--latency", "-s", str(BENCH / "intake.lua"), f"http://127.0.0.1:{port}"]
    out = case_dir / "out"
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as wrk:
        while wrk.poll() is None and len(list(out.glob("done-*.txt"))) < args.wrk_threads:
            time.sleep(0.05)
        generator_cpu = sum(procs.cpu_seconds([wrk.pid]).values())
        wrk.send_signal(signal.SIGINT)  # wrk prints its summary and the script's done() on SIGINT
        output = wrk.communicate(timeout=60)[0]
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
    spans = [tuple(map(float, f.read_text().split())) for f in out.glob("done-*.txt")]
    if len(spans) == args.wrk_threads:  # else wrk hit its ceiling and its own duration stands
        result["seconds"] = max(end for _, end in spans) - min(start for start, _ in spans)
    result["ids"] = [i for f in sorted(out.glob("ids-*.txt")) for i in f.read_text().split()]
    result["generator_cpu"] = generator_cpu
    return result


POLL_SECONDS = 1.0


def wait_processed(measured: Measured, settings: Settings, seeded: Seeded, stall_seconds: float = 60) -> None:
    """Poll until every stored report is processed (or nothing moves for a minute); count the lost."""
    engine = sa.create_engine(settings.sqlalchemy_url)
    query, decided_ids = _queries(measured.case, seeded)
    last, last_change = -1, time.monotonic()
    try:
        while time.monotonic() - last_change < stall_seconds:
            with engine.connect() as conn:
                stored, processed, first, final = conn.execute(query).one()
            if processed != last:
                last, last_change = processed, time.monotonic()
            if stored and processed == stored:
                break
            # Each look reads the whole table (24 ms and 3,455 pages at 20,000 reports): every
            # quarter second it took a tenth of a core from the workers it waits for. The
            # time to process comes from the rows' own timestamps, not from when it looks.
            time.sleep(POLL_SECONDS)
        measured.stored, measured.processed = stored, processed
        if processed == stored and first and final:
            measured.processed_seconds = (final - first).total_seconds()
            if measured.workers_started:
                measured.drained_seconds = (final - measured.workers_started).total_seconds()
        with engine.connect() as conn:
            done = {str(row[0]) for row in conn.execute(decided_ids)}
        measured.lost = len(set(measured.load["ids"]) - done)
    finally:
        engine.dispose()


def _queries(case: Case, seeded: Seeded) -> tuple[sa.TextClause, sa.TextClause]:
    if case is OURS:
        where = f"period_id = {seeded.period_id}"
        final = "status IN ('accepted', 'rejected')"
        return (
            sa.text(
                f"SELECT count(*), count(*) FILTER (WHERE {final}), min(received_at), max(processed_at) "
                f"FROM submissions WHERE {where}"
            ),
            sa.text(f"SELECT id FROM submissions WHERE {where} AND {final}"),
        )
    return (
        sa.text("SELECT count(*), count(processed_at), min(received_at), max(processed_at) FROM naive_submissions"),
        sa.text("SELECT id FROM naive_submissions WHERE processed_at IS NOT NULL"),
    )


def report(results: list[Measured], args: argparse.Namespace) -> None:
    title = f"Intake surge at {code_version()}: {args.requests:,} reports, {args.connections} connections"
    table = Table(title=f"{title}, load from {args.generator}")
    table.add_column("")
    for m in results:
        table.add_column(m.case.name, justify="right")
    if len(results) == 2:
        table.add_column("ours/naive", justify="right")
    for label, value, fmt in ROWS:
        cells = [fmt.format(value(m)) if value(m) is not None else "n/a" for m in results]
        if len(results) == 2 and label in RATIO_ROWS and value(results[1]):
            cells.append(f"{value(results[0]) / value(results[1]):.0%}")
        table.add_row(label, *cells)
    console.print(table)
    print_targets(results, args)
    RESULTS.mkdir(exist_ok=True)
    saved = RESULTS / f"intake-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json"
    figures = {"argv": sys.argv[1:], "code": code_version(), **{m.case.name: summary(m) for m in results}}
    saved.write_text(json.dumps(figures, indent=1))
    console.print(f"figures saved in {saved.relative_to(BENCH.parent)}")


ROWS = (
    ("accepted/s", lambda m: m.accepted_per_s, "{:,.0f}"),
    ("latency p50 (ms)", lambda m: m.load["p50_ms"], "{:.1f}"),
    ("latency p90 (ms)", lambda m: m.load["p90_ms"], "{:.1f}"),
    ("latency p99 (ms)", lambda m: m.load["p99_ms"], "{:.1f}"),
    ("latency max (ms)", lambda m: m.load["max_ms"], "{:.1f}"),
    ("answered 202", lambda m: m.load["accepted"], "{:,}"),
    ("refused / socket errors", lambda m: f"{m.load['refused']} / {m.load['socket_errors']}", "{}"),
    ("stored (incl. in flight at stop)", lambda m: m.stored, "{:,}"),
    ("processed", lambda m: m.processed, "{:,}"),
    ("first request → all processed (s)", lambda m: m.processed_seconds, "{:.1f}"),
    ("lost", lambda m: m.lost, "{}"),
    ("workers started → all processed (s)", lambda m: m.drained_seconds, "{:.1f}"),
    ("relay re-sends", lambda m: (m.workers_said or {}).get("relay re-sends"), "{:,.0f}"),
    ("messages with nothing left to decide", lambda m: (m.workers_said or {}).get("duplicates"), "{:,.0f}"),
    ("thread-seconds held back for the intake", lambda m: (m.workers_said or {}).get("held back (s)"), "{:,.0f}"),
    ("CPU ms/report: web (gunicorn)", lambda m: _cpu_ms(m, "web"), "{:.2f}"),
    ("CPU ms/report: PostgreSQL (web's and workers')", lambda m: _cpu_ms(m, "postgres"), "{:.2f}"),
    ("CPU ms/report: workers (dramatiq)", lambda m: _cpu_ms(m, "workers"), "{:.2f}"),
    ("CPU ms/report: load generator", lambda m: _cpu_ms(m, "load generator"), "{:.2f}"),
    ("during the load: CPU ms/report web / PG / workers", lambda m: _surge_split(m), "{}"),  # noqa: PLW0108
    ("during the load: cores busy / idle / stolen", lambda m: _cores(m), "{}"),  # noqa: PLW0108
    ("2-core ceiling, stored and processed", lambda m: _ceiling(m), "{:,.0f}/s"),  # noqa: PLW0108 (defined below)
    ("load average before", lambda m: m.load_average, "{:.2f}"),
)
RATIO_ROWS = {"accepted/s", "CPU ms/report: web (gunicorn)", "2-core ceiling, stored and processed"}


def _cpu_ms(m: Measured, role: str) -> float | None:
    return m.cpu[role] * 1000 / m.stored if m.cpu and m.stored else None


def _surge_split(m: Measured) -> str | None:
    if not m.surge_cpu or not m.load["accepted"]:
        return None
    return " / ".join(f"{m.surge_cpu[role] * 1000 / m.load['accepted']:.2f}" for role in ("web", "postgres", "workers"))


def _cores(m: Measured) -> str | None:
    """How many of the cores, on average, were busy, idle or taken by the hypervisor while the load ran."""
    if not m.surge_cpu or not m.load["seconds"]:
        return None
    return " / ".join(f"{m.surge_cpu[f'machine {what}'] / m.load['seconds']:.2f}" for what in ("busy", "idle", "steal"))


def _ceiling(m: Measured) -> float | None:
    """Reports per second two cores could take in and process if they did nothing else (Redis not counted)."""
    spent = [_cpu_ms(m, role) for role in ("web", "postgres", "workers", "load generator")]
    return 2000 / sum(ms for ms in spent if ms) if all(spent) else None


def print_targets(results: list[Measured], args: argparse.Namespace) -> None:
    if results[0].case is not OURS:
        return
    ours = results[0]
    processed = f"{ours.processed_seconds:.1f} s" if ours.processed_seconds is not None else "not all processed"
    checks = [
        (
            f"≥ {TARGETS['accepted_per_s']:,.0f} accepted/s (measured {ours.accepted_per_s:,.0f})",
            ours.accepted_per_s >= TARGETS["accepted_per_s"],
        ),
        (
            f"p99 ≤ {TARGETS['p99_ms']:.0f} ms at {args.connections} connections"
            f" (measured {ours.load['p99_ms']:.0f} ms)",
            ours.load["p99_ms"] <= TARGETS["p99_ms"],
        ),
        (
            f"all {ours.stored:,} processed within {TARGETS['processed_s']:.0f} s of the first request"
            f" (measured {processed})",
            ours.processed_seconds is not None and ours.processed_seconds <= TARGETS["processed_s"],
        ),
        (f"0 lost (measured {ours.lost})", ours.lost == 0),
    ]
    if len(results) == 2:
        ratio = ours.accepted_per_s / results[1].accepted_per_s if results[1].accepted_per_s else 0.0
        checks.insert(1, (f"≥ {TARGETS['ratio']:.0%} of naive (measured {ratio:.0%})", ratio >= TARGETS["ratio"]))
    for what, ok in checks:
        console.print(("[green]MET   [/] " if ok else "[red]MISSED[/] ") + what)


def code_version() -> str:
    """The commit measured, with "+changes" when the working tree differs from it."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=BENCH.parent, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+changes" if dirty else "")


def summary(m: Measured) -> dict[str, Any]:
    load = {k: v for k, v in m.load.items() if k != "ids"}
    return {
        **load,
        "accepted_per_s": round(m.accepted_per_s, 1),
        "stored": m.stored,
        "processed": m.processed,
        "processed_seconds": m.processed_seconds,
        "lost": m.lost,
        "load_average": m.load_average,
        "cpu_seconds": m.cpu,
        "cpu_seconds_during_load": m.surge_cpu,
    }


if __name__ == "__main__":
    sys.exit(main())
