"""The benchmark's fallback load generator, for machines without ``wrk``.

The same requests as ``bench/intake.lua``: report i goes to unit i mod U with that
unit's token and its own Idempotency-Key. Several processes, each with a few threads,
each thread with a keep-alive ``http.client`` connection (re-opened when the server
closes it, as gunicorn's sync workers do). It costs far more CPU than wrk, and the load
generator shares the cores with what it measures: prefer wrk.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing as mp
import re
import resource
import threading
import time
from dataclasses import dataclass
from typing import Any

ID = re.compile(rb'"id":\s*"?([\w-]+)')


@dataclass(frozen=True)
class Load:
    port: int
    path: str
    period: str
    figures: str  # JSON
    units: list[tuple[str, str]]  # (unit, token)
    total: int
    connections: int
    processes: int = 2


def run(load: Load) -> dict[str, Any]:
    """Send ``load.total`` reports; the same summary as the wrk script's BENCH_RESULT line."""
    counter = mp.Value("q", 0)
    per_process = [
        load.connections // load.processes + (i < load.connections % load.processes) for i in range(load.processes)
    ]
    started, children_before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    with mp.get_context("fork").Pool(load.processes, initializer=_share, initargs=(counter,)) as pool:
        parts = pool.starmap(_process, [(load, n) for n in per_process if n])
    seconds, children = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    latencies = sorted(lat for part in parts for lat in part["latencies"])
    refusals = [r for part in parts for r in part["refusals"]]
    return {
        "seconds": seconds,
        "answered": len(latencies),
        "accepted": sum(len(part["ids"]) for part in parts),
        "refused": len(refusals),
        "refusal": refusals[0] if refusals else "",
        "socket_errors": sum(part["errors"] for part in parts),
        "timeouts": 0,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p90_ms": _percentile(latencies, 90) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] if latencies else 0) * 1000,
        "ids": [i for part in parts for i in part["ids"]],
        "generator_cpu": children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime,
    }


_counter: Any = None


def _share(counter: Any) -> None:
    global _counter
    _counter = counter


def _next() -> int:
    with _counter.get_lock():
        n = int(_counter.value)
        _counter.value += 1
    return n


def _process(load: Load, threads: int) -> dict[str, Any]:
    part: dict[str, Any] = {"latencies": [], "ids": [], "refusals": [], "errors": 0}
    lock = threading.Lock()
    workers = [threading.Thread(target=_thread, args=(load, part, lock)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return part


def _thread(load: Load, part: dict[str, Any], lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", load.port, timeout=30)
    while (n := _next()) < load.total:
        unit, token = load.units[n % len(load.units)]
        body = f'{{"period":{json.dumps(load.period)},"unit":"{unit}","form":"01/TCD","figures":{load.figures}}}'
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}", "Idempotency-Key": f"py-{n}"}
        started = time.perf_counter()
        try:
            conn.request("POST", load.path, body=body.encode(), headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            with lock:
                part["errors"] += 1
            continue
        elapsed = time.perf_counter() - started
        match = ID.search(raw) if response.status == 202 else None
        with lock:
            part["latencies"].append(elapsed)
            if match:
                part["ids"].append(match.group(1).decode())
            else:
                part["refusals"].append(f"{response.status} {raw[:300].decode(errors='replace')}")


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]
