"""gunicorn settings for the intake: ``gunicorn -c deploy/gunicorn.conf.py 'web:create_app()'``.

Sync workers, one per core. Measured with ``bench/intake.py --gunicorn-args`` (4,000
reports, 32 connections, same run against the naive intake; README, Performance): the
CPU per report was lowest with 2 sync workers (2.25 ms) against 3 (2.47), 4 (3.10) and
2 gthread workers x 4 threads (2.32), and throughput no better with more: with the web,
PostgreSQL and the workers on the same cores the intake is CPU-bound, and more processes
only add switching. On a host of its own, raise KNTC_WEB_WORKERS to its cores. Sync
workers answer ``Connection: close``, so there is no keep-alive to tune.
Metrics use prometheus_client's multiprocess mode; its directory must be set before any
worker imports prometheus_client, and wiped at start. The master also maps the table of
version guesses that its workers share.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

bind = os.environ.get("KNTC_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("KNTC_WEB_WORKERS", str(max(2, (os.cpu_count() or 1)))))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
backlog = 4096
# No max_requests: every restart leaves metric files behind and slows scrapes
# (prometheus_client #275, #568).
max_requests = 0
accesslog = None

_prom_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / "kntc-prom-web"))


def on_starting(server: Any) -> None:
    shutil.rmtree(_prom_dir, ignore_errors=True)
    Path(_prom_dir).mkdir(parents=True, exist_ok=True)
    # Before the fork: every worker guesses a unit's next report version from one table
    # (models/version_guesses.py), whichever worker stored the previous one.
    from models.version_guesses import share_between_forks

    share_between_forks()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    # The app is loaded: what it holds for good (the units, the forms, SQLAlchemy's
    # mappings) leaves the garbage collector's view, so that a full collection during
    # a surge no longer walks all of it while requests queue behind it.
    import gc

    gc.freeze()
