"""gunicorn settings for the intake: ``gunicorn -c deploy/gunicorn.conf.py 'web:create_app()'``.

Sync workers: measured here, gthread's keep-alive gave a 3-4x worse p99 for intake
(../shared/PITFALLS.md). Metrics use prometheus_client's multiprocess mode; its
directory must be set before any worker imports prometheus_client, and wiped at start.
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


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
