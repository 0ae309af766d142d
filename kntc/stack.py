"""Running the web and the workers for the demo and the benchmark.

Two ways: everything inside this process (the embedded defaults: werkzeug's threaded
server over the app, dramatiq workers as threads on the StubBroker), or the production
processes (gunicorn with ``deploy/gunicorn.conf.py`` and ``dramatiq workers``) started
as children in their own sessions and stopped, with their children, at the end.
"""

from __future__ import annotations

import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from kntc.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
HOST = "127.0.0.1"


class StackError(Exception):
    """A process did not start or died; the message says which and where its log is."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class _KeepAliveHandler(WSGIRequestHandler):
    # HTTP/1.1 keeps connections open between requests (werkzeug's default is 1.0).
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silent: thousands of access lines would bury the demo's progress bar."""


@contextmanager
def embedded_stack(settings: Settings) -> Iterator[int]:
    """The app and its in-process workers on a free port; yields the port."""
    from kntc.embedded import stop_embedded_workers
    from kntc.logs import configure_logging
    from web import create_app

    app = create_app(settings)
    configure_logging(logging.WARNING)
    logging.getLogger("dramatiq").setLevel(logging.WARNING)  # its start and stop lines would cut the table
    server = make_server(HOST, 0, app, threaded=True, request_handler=_KeepAliveHandler)
    thread = threading.Thread(target=server.serve_forever, name="demo-web", daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        stop_embedded_workers()
        app.extensions["kntc"].engine.dispose()


def service_env(settings: Settings, run_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the child processes: this settings' URLs and data dir, private metric dirs."""
    env = dict(os.environ)
    env.update(
        KNTC_DATA_DIR=str(settings.data_dir.resolve()),
        PROMETHEUS_MULTIPROC_DIR=str(run_dir / "prom-web"),
        dramatiq_prom_db=str(run_dir / "prom-workers"),
        dramatiq_prom_host=HOST,
        dramatiq_prom_port=str(free_port()),
    )
    for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    env.update(extra or {})
    return env


def gunicorn_command(port: int, app: str = "web:create_app()", conf: Path = GUNICORN_CONF) -> list[str]:
    return [str(BIN / "gunicorn"), "-c", str(conf), "--bind", f"{HOST}:{port}", app]


def dramatiq_command(module: str = "workers", processes: int = 2, threads: int = 8) -> list[str]:
    return [str(BIN / "dramatiq"), module, "--processes", str(processes), "--threads", str(threads)]


@contextmanager
def processes(
    commands: Mapping[str, Sequence[str]], env: Mapping[str, str], log_dir: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start each named command in its own session, logging to ``log_dir/NAME.log``; stop all at the end."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        stack.callback(_stop_all, started)
        for name, argv in commands.items():
            log = stack.enter_context((log_dir / f"{name}.log").open("wb"))
            started.append(
                subprocess.Popen(  # noqa: S603 (our own binaries, from this virtualenv)
                    list(argv), cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        yield started


@contextmanager
def service_stack(
    settings: Settings, run_dir: Path, *, worker_processes: int = 2, worker_threads: int = 8
) -> Iterator[int]:
    """gunicorn and ``dramatiq workers`` as in production; yields the web's port once it answers."""
    if not GUNICORN_CONF.exists():
        raise StackError(f"{GUNICORN_CONF} is missing; run from a checkout of the project")
    port = free_port()
    commands = {
        "gunicorn": gunicorn_command(port),
        "workers": dramatiq_command(processes=worker_processes, threads=worker_threads),
    }
    with processes(commands, service_env(settings, run_dir), run_dir / "logs") as started:
        wait_healthy(port, started, run_dir / "logs")
        yield port


def wait_healthy(port: int, started: Sequence[subprocess.Popen[bytes]], log_dir: Path, timeout: float = 60) -> None:
    """Wait for ``GET /healthz`` to answer 200; fail early when a process has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p for p in started if p.poll() is not None]
        if dead:
            raise StackError(f"process {dead[0].pid} exited with {dead[0].returncode}; see its log in {log_dir}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise StackError(f"the web did not answer on port {port} within {timeout:.0f} s; see {log_dir}")


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 20) -> None:
    """Stop a process started in its own session, and everything in its group."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout_s)
    # Whatever the group leader left behind (forked children) goes too.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _stop_all(started: list[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    for proc in started:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in started:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # Each child leads its own session: the signal reaches its workers too, and nothing else.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
