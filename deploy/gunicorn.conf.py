"""gunicorn settings for the intake: ``gunicorn -c deploy/gunicorn.conf.py 'web:create_app()'``.

Sync workers, one per core and one more: a sync worker waits, doing nothing, while
PostgreSQL commits its report, and the extra one uses those waits. Measured with
``bench/intake.py`` (20,000 reports, 32 connections, 2 cores shared with PostgreSQL,
Redis, the workers and wrk; README, Performance): 3 workers 1,044-1,186 accepted/s with
0.15-0.17 cores idle during the load, against 989-1,065/s and 0.35-0.39 idle with 2; 4
gave nothing more (1,085-1,128/s, the CPU per report higher). On an earlier machine, 3
were no better than 2. KNTC_WEB_WORKERS overrides it. Sync workers answer
``Connection: close``, so there is no keep-alive to tune.

Each worker loads and connects before its first request (``post_worker_init``).
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
workers = int(os.environ.get("KNTC_WEB_WORKERS", str((os.cpu_count() or 1) + 1)))
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
    import gc

    from web import warm_up

    warm_up(worker.wsgi)
    # The app is loaded and warm: what it holds for good (the units, the forms,
    # SQLAlchemy's mappings) leaves the garbage collector's view, so that a full
    # collection during a surge no longer walks all of it while requests queue behind it.
    gc.freeze()
