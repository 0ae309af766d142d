"""A small KNTC cluster on one machine, for the scale-out test and the scale benchmark.

Used by ``tests/test_scale_out.py`` and ``bench/scale.py``. Two layouts:

- namespaces (root and iproute2): every host is a Linux network namespace with its own
  address on a private bridge that lives in a namespace of its own. The data host runs a
  throwaway PostgreSQL cluster (initdb into a temporary directory) and a redis-server;
  the web host runs gunicorn; each worker host runs ``dramatiq workers``. The addresses
  (``10.213.X.0/24``, X random) exist only inside the namespaces created here: the root
  namespace gets no interface, address or route, so nothing can leak to a real network.
  This process talks to the cluster from the ``client`` host: a thread enters a namespace
  with setns(2) before it opens any socket (:meth:`Host.pool`).
- local: every host is this machine's own network (127.0.0.1), on the system PostgreSQL
  and Redis (a database and a Redis db given by the caller).

Every process is started in its own session and stopped with its whole group; the
namespaces, the PostgreSQL data directory and the logs go when the context manager ends,
failure or not.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import http.client
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import redis
from prometheus_client.parser import text_string_to_metric_families

from kntc.stack import stop_group as stop

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
POSTGRES_VERSIONS = Path("/usr/lib/postgresql")
FORM = "01/TCD"
# 01/TCD figures that satisfy every identity of the form (as tests/helpers.py VALID_TCD).
VALID_TCD = {
    "1": 10, "4": 6, "13": 3, "22": 1,
    "2": 25, "5": 15, "14": 8, "23": 2,
    "3": 7, "6": 3, "7": 1, "15": 2, "24": 1,
    "8": 1, "9": 6,
}  # fmt: skip
FINAL = ("accepted", "rejected")

T = TypeVar("T")


class ClusterError(Exception):
    """Something in the cluster did not start or did not finish; the message says what and where the log is."""


# --- can this machine do it? ----------------------------------------------------------


def _postgres_user() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


def netns_unavailable() -> str | None:
    """Why the namespaces layout cannot run here (naming the package to install), or None."""
    checks: list[tuple[Callable[[], bool], str]] = [
        (lambda: os.geteuid() == 0, "network namespaces need root (run as root)"),
        (lambda: shutil.which("ip") is not None, "the `ip` command is missing (apt-get install iproute2)"),
        (
            lambda: any(POSTGRES_VERSIONS.glob("*/bin/initdb")),
            "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)",
        ),
        (lambda: shutil.which("redis-server") is not None, "redis-server is missing (apt-get install redis-server)"),
        (lambda: shutil.which("runuser") is not None, "runuser is missing (apt-get install util-linux)"),
        (_postgres_user, "no `postgres` system user for the throwaway PostgreSQL (apt-get install postgresql)"),
    ]
    for ok, reason in checks:
        if not ok():
            return reason
    probe = f"kntc-probe-{secrets.token_hex(3)}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"cannot create a network namespace (CAP_SYS_ADMIN needed): {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True, check=False)
    return None


# --- hosts ------------------------------------------------------------------------------


_libc: ctypes.CDLL | None = None


def _setns(path: Path) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Host:
    """A machine of the cluster: its address, and its network namespace (None: this machine's own network)."""

    name: str
    address: str
    netns: str | None = None

    def command(self, args: Sequence[str]) -> list[str]:
        """The command line that runs ``args`` on this host."""
        return ["ip", "netns", "exec", self.netns, *args] if self.netns else list(args)

    def enter(self) -> None:
        """Move the calling thread into this host's network; the sockets it opens afterwards live there."""
        if self.netns is not None:
            _setns(NETNS_DIR / self.netns)

    def pool(self, threads: int) -> ThreadPoolExecutor:
        """Threads that open their sockets from this host (the network namespace is per thread)."""
        return ThreadPoolExecutor(threads, thread_name_prefix=f"on-{self.name}", initializer=self.enter)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in a fresh thread on this host's network; its result."""
        with self.pool(1) as pool:
            return pool.submit(fn, *args).result()


def _ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise ClusterError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


@contextmanager
def namespaces(names: Sequence[str]) -> Iterator[dict[str, Host]]:
    """One network namespace per name, all on a private bridge; deleted at the end.

    Names carry a random tag (``kntc-<hex>-<name>``) so that parallel runs never meet. Each
    host has ``lo`` up and one veth, ``eth0``, whose peer is a port of bridge ``br0`` in
    the ``kntc-<hex>-net`` namespace. Both ends are created directly in their namespaces,
    so nothing ever appears in the root namespace.
    """
    tag = f"kntc-{secrets.token_hex(3)}"
    subnet = f"10.213.{random.randint(1, 254)}"
    bridge = f"{tag}-net"
    created: list[str] = []
    hosts: dict[str, Host] = {}
    try:
        _ip("netns", "add", bridge)
        created.append(bridge)
        _ip("-n", bridge, "link", "set", "lo", "up")
        _ip("-n", bridge, "link", "add", "br0", "type", "bridge")
        _ip("-n", bridge, "link", "set", "br0", "up")
        for number, name in enumerate(names, start=2):
            ns = f"{tag}-{name}"
            _ip("netns", "add", ns)
            created.append(ns)
            port = f"p{number}"
            _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", bridge)
            _ip("-n", bridge, "link", "set", port, "master", "br0")
            _ip("-n", bridge, "link", "set", port, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{subnet}.{number}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            hosts[name] = Host(name, f"{subnet}.{number}", ns)
        yield hosts
    finally:
        # The veths and the bridge go with their namespaces.
        for ns in reversed(created):
            _ip("netns", "delete", ns, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_hosts(names: Sequence[str]) -> dict[str, Host]:
    """Every "host" on this machine's own network."""
    return {name: Host(name, "127.0.0.1") for name in names}


# --- processes --------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its live descendants, from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for child in _children(pid):
        total += cpu_seconds(child)
    with suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.popen.pid)

    def tail(self, lines: int = 30) -> str:
        with suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise ClusterError(f"{self.name} exited ({self.popen.returncode}); log {self.log}, its end:\n{self.tail()}")


class Processes:
    """Every process the cluster started, stopped (in reverse order, with their groups) at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[Process] = []

    def start(self, name: str, host: Host, args: Sequence[str], env: dict[str, str] | None = None) -> Process:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                host.command(args), env=env, cwd=ROOT, start_new_session=True, stdout=out, stderr=subprocess.STDOUT
            )
        process = Process(name, popen, log)
        self.running.append(process)
        return process

    def stop(self, process: Process, sig: int = signal.SIGTERM) -> None:
        stop(process.popen, sig)
        with suppress(ValueError):
            self.running.remove(process)

    def stop_all(self) -> None:
        """Stop everything, the clients first; PostgreSQL with a fast shutdown (SIGINT)."""
        errors = []
        for process in reversed(list(self.running)):
            try:
                self.stop(process, signal.SIGINT if process.name == "postgres" else signal.SIGTERM)
            except (OSError, subprocess.SubprocessError) as error:
                errors.append(f"{process.name}: {error!r}")
        if errors:
            raise ClusterError(f"could not stop {'; '.join(errors)}")


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, *watch: Process) -> None:
    """Poll a condition (bounded); fail naming what never happened, or which process died."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        for process in watch:
            process.check_alive()
        try:
            if condition():
                return
        except (OSError, psycopg.Error, redis.RedisError, http.client.HTTPException) as error:
            last = f"; last error: {error!r}"
        time.sleep(0.1)
    logs = "; ".join(f"{p.name}: {p.log}" for p in watch)
    raise ClusterError(f"timed out after {timeout_s}s waiting until {what} (logs: {logs or 'none'}){last}")


def run(host: Host, args: Sequence[str], env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run a command to completion on a host; its stdout. Fails with its stderr."""
    done = subprocess.run(
        host.command(args), env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise ClusterError(f"`{' '.join(args)}` on {host.name} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


# --- the data host ----------------------------------------------------------------------


def _postgres_bin() -> Path:
    versions = sorted(POSTGRES_VERSIONS.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise ClusterError("no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)")
    return versions[-1].parent


def start_postgres(procs: Processes, host: Host, client: Host, workdir: Path, database: str) -> str:
    """A throwaway PostgreSQL cluster listening on the host's address; the SQLAlchemy URL of ``database``.

    initdb as the ``postgres`` user into ``workdir`` (removed by the caller), trust
    authentication, no fsync; commit timestamps on (:func:`install_probe` reads them).
    """
    bindir = _postgres_bin()
    user = pwd.getpwnam("postgres")
    data, sockets = workdir / "data", workdir / "sockets"
    for path in (workdir, data, sockets):
        path.mkdir(exist_ok=True)
        os.chown(path, user.pw_uid, user.pw_gid)
    initdb = [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]
    run(Host("local", "127.0.0.1"), ["runuser", "-u", "postgres", "--", *initdb, "--locale=C.UTF-8"])
    subnet = ".".join(host.address.split(".")[:3]) + ".0/24"
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {subnet} trust\n")
    settings = {
        "listen_addresses": host.address,
        "unix_socket_directories": str(sockets),
        "fsync": "off",
        "full_page_writes": "off",
        "track_commit_timestamp": "on",
        "max_connections": "200",
        "log_min_messages": "warning",
    }
    args = ["runuser", "-u", "postgres", "--", str(bindir / "postgres"), "-D", str(data), "-p", "5432"]
    for name, value in settings.items():
        args += ["-c", f"{name}={value}"]
    process = procs.start("postgres", host, args)
    admin = f"postgresql://postgres@{host.address}:5432/postgres"

    def create() -> bool:
        with psycopg.connect(admin, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return True

    wait_until(lambda: client.call(create), 60, f"PostgreSQL answers on {host.name} ({host.address}:5432)", process)
    return f"postgresql+psycopg://postgres@{host.address}:5432/{database}"


def start_redis(procs: Processes, host: Host, client: Host, workdir: Path) -> str:
    """A redis-server on the host's address, without persistence; its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["redis-server", "--bind", host.address, "--port", "6379", "--save", "", "--appendonly", "no"]
    args += ["--daemonize", "no", "--protected-mode", "no", "--dir", str(workdir)]
    process = procs.start("redis", host, args)
    url = f"redis://{host.address}:6379/0"

    def ping() -> bool:
        with redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) as client_:
            return bool(client_.ping())

    wait_until(lambda: client.call(ping), 30, f"Redis answers on {host.name} ({host.address}:6379)", process)
    return url


# --- the probe: when each job held its unit, from PostgreSQL's own clock ---------------

# Every decision is an UPDATE of submissions.processed_at in the worker's transaction,
# which runs entirely inside the limiter slots (workers/submissions.py). The trigger
# records that transaction's start (transaction_timestamp), its id and who ran it
# (application_name: each host's processes set PGAPPNAME); the commit time comes from
# track_commit_timestamp. Two jobs of one unit overlapped if and only if one transaction
# started before the other committed.
#
# It can also make every job wait: scale_settings.job_latency_ms, slept once per
# transaction while it holds its row locks and limiter slots. On one small machine every
# round trip is a few microseconds and the jobs are CPU-bound; the sleep stands for the
# time a job waits on a real database over a real network, the regime where adding
# worker hosts adds throughput (see tests/test_scale_out.py).
PROBE_SQL = """
CREATE TABLE scale_settings (job_latency_ms integer NOT NULL);
INSERT INTO scale_settings VALUES (0);
CREATE TABLE scale_probe (
    submission_id uuid PRIMARY KEY,
    unit_id integer NOT NULL,
    period_id integer NOT NULL,
    txid bigint NOT NULL,
    started timestamptz NOT NULL,
    app text NOT NULL
);
CREATE INDEX scale_probe_txid ON scale_probe (txid);
CREATE FUNCTION scale_probe_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    latency integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM scale_probe WHERE txid = txid_current()) THEN
        SELECT job_latency_ms INTO latency FROM scale_settings;
        IF latency > 0 THEN
            PERFORM pg_sleep(latency / 1000.0);
        END IF;
    END IF;
    INSERT INTO scale_probe VALUES (NEW.id, NEW.unit_id, NEW.period_id, txid_current(), transaction_timestamp(),
                                    current_setting('application_name'))
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER scale_probe AFTER UPDATE OF processed_at ON submissions FOR EACH ROW
    WHEN (OLD.processed_at IS NULL AND NEW.processed_at IS NOT NULL) EXECUTE FUNCTION scale_probe_record();
"""

WINDOWS_SQL = """
SELECT p.unit_id, p.app, p.txid, min(p.started), max(pg_xact_commit_timestamp(s.xmin)), count(*)
FROM scale_probe p JOIN submissions s ON s.id = p.submission_id JOIN periods pe ON pe.id = p.period_id
WHERE pe.code = %s
GROUP BY p.unit_id, p.app, p.txid
"""


@dataclass(frozen=True)
class Window:
    """One worker transaction that decided submissions of one unit: from its start to its commit."""

    unit_id: int
    app: str
    txid: int
    started: dt.datetime
    committed: dt.datetime
    decided: int


def unit_overlaps(windows: Sequence[Window]) -> list[tuple[Window, Window]]:
    """Pairs of windows of the same unit where the later one started before the earlier one committed."""
    by_unit: dict[int, list[Window]] = {}
    for window in windows:
        by_unit.setdefault(window.unit_id, []).append(window)
    found = []
    for group in by_unit.values():
        group.sort(key=lambda w: w.started)
        latest = group[0]
        for window in group[1:]:
            if window.started < latest.committed:
                found.append((latest, window))
            if window.committed > latest.committed:
                latest = window
    return found


def max_concurrency(windows: Sequence[Window], apps: set[str] | None = None) -> int:
    """The most windows open at one instant (a commit at t closes before a start at t opens)."""
    events = sorted(
        [(w.started, 1) for w in windows if apps is None or w.app in apps]
        + [(w.committed, -1) for w in windows if apps is None or w.app in apps]
    )
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def cross_host_overlap(windows: Sequence[Window]) -> bool:
    """True when, at some instant, windows of two different hosts were open at once."""
    events = sorted([(w.started, 1, w.app) for w in windows] + [(w.committed, -1, w.app) for w in windows])
    open_by_app: Counter[str] = Counter()
    for _, step, app in events:
        open_by_app[app] += step
        if sum(1 for n in open_by_app.values() if n > 0) >= 2:
            return True
    return False


# --- the limiter keys in Redis ----------------------------------------------------------


@dataclass
class LimiterWatch:
    """Samples the ConcurrentRateLimiter counters in Redis while a surge runs.

    dramatiq's ConcurrentRateLimiter keeps one integer per key (``SET key n PX ttl``),
    with no namespace: ``unit:<id>`` (KNTC_UNIT_CONCURRENCY) and ``db-jobs``
    (KNTC_DB_JOB_CONCURRENCY), see workers/limits.py. Each sample is one MGET of them all.
    """

    client: Host
    redis_url: str
    unit_ids: Sequence[int]
    interval_s: float = 0.01
    samples: int = 0
    max_unit: int = 0
    max_global: int = 0
    samples_at: Counter[int] = field(default_factory=Counter)  # global value -> how many samples saw it
    units_seen_busy: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def __enter__(self) -> LimiterWatch:
        self._thread = threading.Thread(target=self._run, name="limiter-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._error is not None and exc[0] is None:
            raise ClusterError(f"sampling the limiter keys failed: {self._error!r}")

    def _run(self) -> None:
        try:
            self.client.enter()
            keys = ["db-jobs", *(f"unit:{u}" for u in self.unit_ids)]
            with redis.Redis.from_url(self.redis_url, socket_timeout=5, single_connection_client=True) as conn:
                while not self._stop.is_set():
                    values = [int(v) if v is not None else 0 for v in conn.mget(keys)]
                    self.samples += 1
                    self.max_global = max(self.max_global, values[0])
                    self.samples_at[values[0]] += 1
                    for unit_id, value in zip(self.unit_ids, values[1:], strict=True):
                        if value:
                            self.units_seen_busy.add(unit_id)
                            self.max_unit = max(self.max_unit, value)
                    time.sleep(self.interval_s)
        except BaseException as error:
            self._error = error


# --- the cluster ------------------------------------------------------------------------


@dataclass(frozen=True)
class Surge:
    """What the client saw: its timing and the answers by status."""

    started: float
    seconds: float
    statuses: Counter[int]
    refusals: list[str]

    @property
    def per_second(self) -> float:
        return sum(self.statuses.values()) / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Drained:
    """A pre-filled queue decided by some worker hosts."""

    submissions: int
    spread_s: float  # first to last processed_at, from the database
    wall_s: float  # from starting the workers to all decided, as polled
    by_app: dict[str, int]
    worker_cpu_s: float  # CPU time of the worker processes (boot included)
    data_cpu_s: float  # CPU time of PostgreSQL and Redis meanwhile (0 when not ours)

    @property
    def per_second(self) -> float:
        return self.submissions / self.spread_s if self.spread_s else 0.0


@dataclass
class WorkerHost:
    host: Host
    process: Process
    prom_port: int


def unit_tree(units: int) -> tuple[str, list[str]]:
    """A units CSV: the root ``VN``, ten provinces, and communes under them up to ``units`` reporting units."""
    rows = ["code,name,parent_code,level", "VN,Thanh tra Chính phủ,,central"]
    provinces = [f"P{i:02d}" for i in range(1, 11)]
    rows += [f"{p},UBND tỉnh Thử Nghiệm {p},VN,province" for p in provinces]
    communes = [f"{provinces[i % 10]}.X{i:04d}" for i in range(units)]
    rows += [f"{c},UBND xã Thử Nghiệm {c},{c.split('.')[0]},commune" for c in communes]
    return "\n".join(rows) + "\n", communes


class Cluster:
    """The processes of one run and the calls this process makes to them (from the client host)."""

    def __init__(self, workdir: Path, hosts: dict[str, Host], procs: Processes, free_ports: bool = False) -> None:
        self.workdir = workdir
        self.hosts = hosts
        self.procs = procs
        self.client = hosts["client"]
        self.database_url = ""
        self.redis_url = ""
        self.token = ""
        self.unit_ids: dict[str, int] = {}
        self.web_address = ""
        self.web_port = 0
        self._next_prom_port = 9191
        self._free_ports = free_ports  # hosts that share an address (local) need ports nobody uses

    @property
    def dsn(self) -> str:
        return self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)

    # --- setup ---

    def env(self, host: Host, role: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            KNTC_DATA_DIR=str(self.workdir / host.name / "data"),
            PATH=f"{BIN}:{env.get('PATH', '')}",
            PGAPPNAME=f"kntc-{host.name}-{role}",
        )
        env.update(extra)
        return env

    def kntc(self, host: Host, *args: str) -> str:
        return run(host, [str(BIN / "kntc"), *args], self.env(host, "cli"))

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run SQL on the cluster's database from the client host (several statements: no params)."""

        def go() -> list[tuple[Any, ...]]:
            for attempt in range(3):  # a busy machine can be slow to start a backend
                try:
                    conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
                    break
                except psycopg.OperationalError:
                    if attempt == 2:
                        raise
                    time.sleep(1)
            with conn:
                cursor = conn.execute(sql.encode(), params)
                return cursor.fetchall() if cursor.description else []

        return self.client.call(go)

    def setup(self, ops: Host, units: int, periods: Sequence[str]) -> list[str]:
        """Migrations, the unit tree, one reporter at the root, the periods; from ``ops``. The commune codes."""
        self.kntc(ops, "db", "upgrade")
        csv_text, communes = unit_tree(units)
        csv_path = self.workdir / "units.csv"
        csv_path.write_text(csv_text, encoding="utf-8")
        self.kntc(ops, "units", "import", str(csv_path))
        self.token = self.kntc(
            ops, "accounts", "create", "--username", "scale", "--unit", "VN", "--role", "reporter", "--token"
        ).strip()
        today = dt.date.today()
        due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat(timespec="seconds")
        for code in periods:
            dates = ["--starts", str(today - dt.timedelta(days=90)), "--ends", str(today), "--due", due]
            self.kntc(ops, "periods", "create", "--code", code, *dates, "--forms", FORM)
        rows = self.query("SELECT code, id FROM units")
        self.unit_ids = {str(code): int(unit_id) for code, unit_id in rows}
        return communes

    # --- processes ---

    def start_web(self, host: Host, workers: int = 2, port: int = 8000) -> Process:
        env = self.env(host, "web", PROMETHEUS_MULTIPROC_DIR=str(self.workdir / host.name / "prom"))
        args = [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", f"{host.address}:{port}"]
        args += ["--workers", str(workers), "web:create_app()"]
        process = self.procs.start(f"web-{host.name}", host, args, env)
        self.web_address, self.web_port = host.address, port
        wait_until(lambda: self.http("GET", "/readyz")[0] == 200, 60, f"the web on {host.name} is ready", process)
        return process

    def start_workers(self, host: Host, processes: int, threads: int, **extra: str) -> WorkerHost:
        """``dramatiq workers`` on a host, with its own metrics port and multiprocess directory."""
        port = free_port() if self._free_ports else self._next_prom_port
        self._next_prom_port += 1
        prom = Path(tempfile.mkdtemp(prefix=f"prom-{host.name}-", dir=self.workdir))
        env = self.env(
            host,
            "workers",
            dramatiq_prom_host=host.address,
            dramatiq_prom_port=str(port),
            dramatiq_prom_db=str(prom),
            PROMETHEUS_MULTIPROC_DIR=str(prom),
            **extra,
        )
        args = [str(BIN / "dramatiq"), "workers", "--processes", str(processes), "--threads", str(threads)]
        process = self.procs.start(f"workers-{host.name}-{port}", host, args, env)
        return WorkerHost(host, process, port)

    def wait_workers_ready(self, workers: Sequence[WorkerHost], processes: int, timeout_s: float = 60) -> None:
        def ready(w: WorkerHost) -> bool:
            return w.process.log.read_text(errors="replace").count("Worker process is ready for action") >= processes

        wait_until(
            lambda: all(ready(w) for w in workers),
            timeout_s,
            "the worker processes are ready",
            *(w.process for w in workers),
        )

    # --- calls ---

    def http(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        def go() -> tuple[int, Any]:
            conn = http.client.HTTPConnection(self.web_address, self.web_port, timeout=30)
            try:
                data = None if body is None else json.dumps(body).encode()
                conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
                response = conn.getresponse()
                raw = response.read()
                return response.status, raw
            finally:
                conn.close()

        return self.client.call(go)

    def scrape(self, worker: WorkerHost) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The worker host's metrics (dramatiq's exposition server), by (name, sorted labels)."""

        def go() -> str:
            conn = http.client.HTTPConnection(worker.host.address, worker.prom_port, timeout=10)
            try:
                conn.request("GET", "/")
                return conn.getresponse().read().decode()
            finally:
                conn.close()

        text = self.client.call(go)
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def surge(self, jobs: Sequence[tuple[str, str]], threads: int = 16) -> Surge:
        """POST one 01/TCD report per (unit, period), ``threads`` at a time, from the client host."""
        figures = json.dumps(VALID_TCD)
        tag = secrets.token_hex(4)

        def send(item: tuple[int, tuple[str, str]]) -> tuple[int, str]:
            i, (unit, period) = item
            body = f'{{"period": "{period}", "unit": "{unit}", "form": "{FORM}", "figures": {figures}}}'
            headers = {
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"scale-{tag}-{i}",  # a resend after a broken connection is safe
            }
            for attempt in range(4):
                conn = http.client.HTTPConnection(self.web_address, self.web_port, timeout=60)
                try:
                    conn.request("POST", "/api/v1/submissions", body=body.encode(), headers=headers)
                    response = conn.getresponse()
                    text = response.read().decode(errors="replace")
                    return response.status, "" if response.status == 202 else text[:300]
                except (OSError, http.client.HTTPException) as error:
                    if attempt == 3:
                        return 0, repr(error)
                    time.sleep(0.2)
                finally:
                    conn.close()
            raise AssertionError("unreachable")

        started = time.time()
        with self.client.pool(threads) as pool:
            answers = list(pool.map(send, enumerate(jobs)))
        seconds = time.time() - started
        return Surge(started, seconds, Counter(s for s, _ in answers), [r for s, r in answers if s != 202][:5])

    def counts(self, period: str) -> tuple[int, int]:
        """(decided, stored) submissions of a period."""
        rows = self.query(
            "SELECT count(*) FILTER (WHERE s.status IN ('accepted', 'rejected')), count(*) "
            "FROM submissions s JOIN periods p ON p.id = s.period_id WHERE p.code = %s",
            (period,),
        )
        return int(rows[0][0]), int(rows[0][1])

    def wait_decided(self, period: str, total: int, timeout_s: float, *watch: Process) -> None:
        wait_until(
            lambda: self.counts(period) == (total, total), timeout_s, f"all {total} of {period} are decided", *watch
        )

    def queue_lengths(self) -> dict[str, int]:
        def go() -> dict[str, int]:
            with redis.Redis.from_url(self.redis_url, socket_timeout=5) as conn:
                keys = ["dramatiq:submissions", "dramatiq:submissions.DQ"]
                found = {k: int(conn.llen(k)) for k in keys}
                found |= {f"{k}.msgs": int(conn.hlen(f"{k}.msgs")) for k in keys}
                return found

        return self.client.call(go)

    def install_probe(self) -> None:
        self.query(PROBE_SQL)

    def set_job_latency(self, ms: int) -> None:
        self.query("UPDATE scale_settings SET job_latency_ms = %s", (ms,))

    def windows(self, period: str) -> list[Window]:
        return [Window(*row) for row in self.query(WINDOWS_SQL, (period,))]

    def decided_by(self, period: str) -> dict[str, int]:
        rows = self.query(
            "SELECT p.app, count(*) FROM scale_probe p JOIN periods pe ON pe.id = p.period_id "
            "WHERE pe.code = %s GROUP BY p.app",
            (period,),
        )
        return {str(app): int(n) for app, n in rows}

    def spread(self, period: str) -> float:
        rows = self.query(
            "SELECT extract(epoch FROM max(s.processed_at) - min(s.processed_at)) "
            "FROM submissions s JOIN periods p ON p.id = s.period_id WHERE p.code = %s",
            (period,),
        )
        return float(rows[0][0] or 0.0)

    def drain(
        self,
        period: str,
        total: int,
        hosts: Sequence[Host],
        processes: int,
        threads: int,
        timeout_s: float = 300,
        **extra: str,
    ) -> Drained:
        """Start worker hosts on a queue already full of ``period``; time them until all are decided; stop them."""
        data = [p for p in self.procs.running if p.name in ("postgres", "redis")]
        data_before = sum(p.cpu_seconds() for p in data)
        started = time.monotonic()
        workers = [self.start_workers(h, processes, threads, **extra) for h in hosts]
        try:
            self.wait_decided(period, total, timeout_s, *(w.process for w in workers))
            wall = time.monotonic() - started
            worker_cpu = sum(w.process.cpu_seconds() for w in workers)
            data_cpu = sum(p.cpu_seconds() for p in data) - data_before
        finally:
            for w in workers:
                self.procs.stop(w.process)
        return Drained(total, self.spread(period), wall, self.decided_by(period), worker_cpu, data_cpu)


def _keep(logs: Path, keep_logs: Path | None) -> None:
    if keep_logs is not None and logs.is_dir():
        with suppress(OSError):
            shutil.copytree(logs, keep_logs, dirs_exist_ok=True)


@contextmanager
def _workdir(keep_logs: Path | None) -> Iterator[tuple[ExitStack, Path]]:
    """A temporary directory, removed at the end (after its logs are copied to ``keep_logs``)."""
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="kntc-scale-"))
        workdir.chmod(0o711)  # the postgres user goes through it to its data directory
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        stack.callback(_keep, workdir / "logs", keep_logs)
        yield stack, workdir


def _processes(stack: ExitStack, workdir: Path) -> Processes:
    procs = Processes(workdir / "logs")
    stack.callback(procs.stop_all)
    return procs


@contextmanager
def namespace_cluster(
    names: Sequence[str], units: int, periods: Sequence[str], keep_logs: Path | None = None
) -> Iterator[tuple[Cluster, list[str]]]:
    """Namespaces ``data``, ``web``, ``client`` and ``names`` (the worker hosts): PostgreSQL and Redis on
    the data host, set up from the web host (migrations, units, a reporter, the periods), gunicorn on the
    web host. Everything is torn down at the end, failure or not; the logs are copied to ``keep_logs``."""
    with _workdir(keep_logs) as (stack, workdir):
        hosts = stack.enter_context(namespaces(["data", "web", "client", *names]))
        procs = _processes(stack, workdir)  # stopped first, then the namespaces go
        cluster = Cluster(workdir, hosts, procs)
        cluster.database_url = start_postgres(procs, hosts["data"], hosts["client"], workdir / "pg", "kntc")
        cluster.redis_url = start_redis(procs, hosts["data"], hosts["client"], workdir / "redis")
        communes = cluster.setup(hosts["web"], units, periods)
        cluster.start_web(hosts["web"])
        yield cluster, communes


@contextmanager
def local_cluster(
    names: Sequence[str],
    units: int,
    periods: Sequence[str],
    database: str,
    redis_db: int,
    keep_logs: Path | None = None,
) -> Iterator[tuple[Cluster, list[str]]]:
    """Every host on 127.0.0.1, on the system PostgreSQL (``database``, recreated) and Redis (db ``redis_db``,
    flushed). No root needed; no emulated network either."""
    assert database.replace("_", "").isalnum(), database
    with _workdir(keep_logs) as (stack, workdir):
        procs = _processes(stack, workdir)
        hosts = local_hosts(["web", "client", *names])
        cluster = Cluster(workdir, hosts, procs, free_ports=True)
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
        cluster.database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        cluster.redis_url = f"redis://127.0.0.1:6379/{redis_db}"
        with redis.Redis.from_url(cluster.redis_url) as conn:
            conn.flushdb()
        communes = cluster.setup(hosts["web"], units, periods)
        cluster.start_web(hosts["web"], port=free_port())
        yield cluster, communes
