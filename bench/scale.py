"""Worker throughput as the workers scale out: 1, 2 and 4 worker processes, each on its own "host".

    .venv/bin/python bench/scale.py [--submissions 2000] [--processes 1,2,4] [--threads 2]
                                    [--job-latency-ms 0,50] [--local]

For each job latency and each count K: N valid 01/TCD reports go through the web (no
worker running, so they wait in the queue, as when intake outruns the workers on
deadline night), then K worker hosts, each ``dramatiq workers --processes 1 --threads T``,
drain that backlog. Printed for each run: reports decided per second (N over the time
from the first decision to the last, from ``processed_at``), the time from starting the
workers to all decided, and CPU per report of the workers and of PostgreSQL + Redis.

Layout (bench/cluster.py, the same as tests/test_scale_out.py):

- default, as root with iproute2: network namespaces on a private bridge: a throwaway
  PostgreSQL cluster and redis-server on a data host, gunicorn on a web host, one
  namespace per worker host; the reports are sent from a client namespace.
- ``--local`` (or without root): plain processes on 127.0.0.1, on the system PostgreSQL
  (database ``kntc_bench_scale``, recreated) and Redis (db 9, flushed).

Job latency: every worker transaction sleeps that long on the database while it holds its
locks and limiter slots (bench/cluster.py PROBE_SQL), standing for the wait on a real
database over a real network. At 0 the jobs are pure CPU and the figures say how the
workers share this machine's cores; hosts that share the same cores cannot add CPU, so
there the throughput is flat or falls. With a latency, a host's throughput is bounded by
its threads, and each added host adds threads that wait.

Results also go to bench/results/scale-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster import local_cluster, namespace_cluster, netns_unavailable

RESULTS = Path(__file__).resolve().parent / "results"  # ignored by git
UNITS = 500


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=2000, help="the backlog of each run (default 2000)")
    parser.add_argument("--processes", type=_ints, default=[1, 2, 4], help="worker processes, e.g. 1,2,4")
    parser.add_argument("--threads", type=int, default=2, help="threads of each worker process (default 2)")
    parser.add_argument("--job-latency-ms", type=_ints, default=[0, 50], help="database wait per job, e.g. 0,50")
    parser.add_argument("--local", action="store_true", help="plain processes on 127.0.0.1 (no root needed)")
    args = parser.parse_args()

    local = args.local
    if not local and (reason := netns_unavailable()) is not None:
        print(f"network namespaces unavailable ({reason}): running --local")
        local = True
    runs = [(latency, k) for latency in args.job_latency_ms for k in args.processes]
    periods = {run: f"SCALE-L{run[0]}-P{run[1]}" for run in runs}
    names = [f"w{i}" for i in range(1, max(args.processes) + 1)]
    units = min(UNITS, args.submissions)
    versions = math.ceil(args.submissions / units)
    layout = "127.0.0.1, kntc_bench_scale, Redis db 9" if local else "network namespaces, own PostgreSQL and Redis"
    print(
        f"{args.submissions} reports per run from {units} units; worker hosts of 1 process x {args.threads} threads; "
        f"{layout}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )

    cluster_cm = (
        local_cluster(names, units, list(periods.values()), "kntc_bench_scale", 9)
        if local
        else namespace_cluster(names, units, list(periods.values()))
    )
    results: list[dict[str, Any]] = []
    with cluster_cm as (cluster, communes):
        cluster.install_probe()
        header = (
            f"{'latency':>8} {'procs':>5} {'decided/s':>10} {'speed-up':>8} {'first-last s':>12} "
            f"{'start-all s':>11} {'worker CPU ms':>13} {'data CPU ms':>11} {'intake/s':>8}"
        )
        print(header)
        base: dict[int, float] = {}
        for latency, k in runs:
            period = periods[(latency, k)]
            cluster.set_job_latency(latency)
            jobs = [(unit, period) for _ in range(versions) for unit in communes][: args.submissions]
            surge = cluster.surge(jobs)
            if surge.statuses != {202: len(jobs)}:
                raise SystemExit(f"intake refused reports: {dict(surge.statuses)} {surge.refusals}")
            hosts = [cluster.hosts[name] for name in names[:k]]
            settings = {"KNTC_DB_JOB_CONCURRENCY": "256", "KNTC_RELAY_DELAY_SECONDS": "3600"}
            drained = cluster.drain(period, len(jobs), hosts, 1, args.threads, timeout_s=1800, **settings)
            base.setdefault(latency, drained.per_second)
            row = {
                "job_latency_ms": latency,
                "worker_processes": k,
                "threads": args.threads,
                "submissions": len(jobs),
                "decided_per_s": round(drained.per_second, 1),
                "speed_up": round(drained.per_second / base[latency], 2),
                "first_to_last_s": round(drained.spread_s, 2),
                "start_to_all_s": round(drained.wall_s, 2),
                "worker_cpu_ms_per_report": round(drained.worker_cpu_s / len(jobs) * 1000, 1),
                "data_cpu_ms_per_report": round(drained.data_cpu_s / len(jobs) * 1000, 1),
                "intake_per_s": round(surge.per_second, 1),
                "decided_by": drained.by_app,
                "load_average": os.getloadavg()[0],
            }
            results.append(row)
            print(
                f"{latency:>6}ms {k:>5} {row['decided_per_s']:>10} {row['speed_up']:>7}x {row['first_to_last_s']:>12} "
                f"{row['start_to_all_s']:>11} {row['worker_cpu_ms_per_report']:>13} "
                f"{row['data_cpu_ms_per_report']:>11} {row['intake_per_s']:>8}",
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scale-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"argv": sys.argv[1:], "local": local, "runs": results}, indent=1) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
