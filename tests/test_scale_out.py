"""Scale-out (issue #6, point 5): worker hosts share the limits, and two hosts decide faster than one.

The cluster (bench/cluster.py) is made of Linux network namespaces on a private bridge:
``data`` runs a throwaway PostgreSQL cluster and a redis-server, ``web`` runs gunicorn
(and the setup commands: migrations, units, a reporter token, the periods), ``w1`` and
``w2`` each run ``dramatiq workers --processes 1``, and this process sends the load
from ``client``. Every service is reached at the data host's or the web host's address.

1. The limits hold across hosts. A surge of 1,500 submissions (300 units, five versions
   each, a unit's versions sent together) with both hosts at 4 threads and a global
   ceiling of 3 (KNTC_DB_JOB_CONCURRENCY), so that it binds. Proved from data:
   - PostgreSQL records, for each decision, the worker transaction that made it: its
     start, its commit (track_commit_timestamp) and the host (application_name). No two
     transactions of one unit overlap, although the two hosts' transactions did overlap
     and units had jobs on both hosts; no more than 3 were ever open at once.
   - The limiter counters in Redis, sampled every ~10 ms during the run: a unit's
     never above 1, ``db-jobs`` never above 3 (and at 3 at times: it bound).
     (A counter alone cannot prove the absence of overlap, since a slot whose TTL ran
     out is taken again at 1; the transactions above can.)
   - Each host's metrics: both decided some, together all of them, exactly once, and
     the global limiter deferred messages (kntc_rate_limit_deferrals_total).
   - A control: with the per-unit limit raised to 5, the same measurement does find
     overlapping jobs of one unit, so its silence above means something.
2. Two hosts decide faster than one: the same backlog (400 submissions queued while no
   worker runs, as when intake outruns the workers on deadline night) is drained by
   one host, then by two, each ``--threads 2``; the time from the first decision to the
   last (from processed_at) is compared between the two runs, never to a threshold.

Why the jobs wait 50 ms: the hosts share this machine's cores. Without a wait a job is
pure CPU (about 12 ms of worker Python and 3 ms of PostgreSQL and Redis per report, over a
virtual bridge whose round trips cost microseconds), so what a second host gains depends
on what else the machine runs: measured on 2 cores, two hosts decided 1.76x as fast as one
when the machine was otherwise idle (one worker process is bound by its GIL) and 1.13x
under a neighbour's load, not a margin a test can rely on. A real worker host waits on
the database over a network, and that is where a second host adds throughput: it adds
threads that wait. The data host emulates that wait (bench/cluster.py PROBE_SQL: every
worker transaction sleeps 50 ms while it holds its locks and limiter slots), so that a
host's throughput is bounded by its threads (2 / ~62 ms, about 32 reports/s) and not by
the shared cores: two hosts then took 0.47-0.53 of one host's time, idle or loaded.
bench/scale.py prints the figures with and without the wait.

Needs root and iproute2 (``ip``), PostgreSQL server binaries and redis-server; without
them it is skipped, or fails when CI is set. Everything it starts is stopped, and the
namespaces and temporary directories removed, failure or not.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

# conftest.py puts the checkout first on sys.path: bench/ is importable from it.
from bench.cluster import (
    FINAL,
    Cluster,
    LimiterWatch,
    WorkerHost,
    cross_host_overlap,
    max_concurrency,
    namespace_cluster,
    netns_unavailable,
    unit_overlaps,
    wait_until,
)

UNITS = 300
VERSIONS = 5  # the limits surge: 1,500 submissions
CONTROL_UNITS = 50  # the control: 250 submissions with the unit limit raised
SPEED_UNITS, SPEED_VERSIONS = 200, 2  # the backlog of each speed run: 400 submissions
JOB_LATENCY_MS = 50
GLOBAL_CEILING = 3
# Two hosts must take at most this share of one host's time (ideal: 0.5).
SPEED_MARGIN = 0.8
ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "scale-out.json"


def _require_namespaces() -> None:
    reason = netns_unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the scale-out test cannot run: {reason}; CI is set, so this is a failure", pytrace=False)
    pytest.skip(f"the scale-out test needs network namespaces: {reason}")


def _metric(samples: dict[Any, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        value
        for (sample_name, sample_labels), value in samples.items()
        if sample_name == name and labels.items() <= dict(sample_labels).items()
    )


def _decided(samples: dict[Any, float]) -> float:
    return sum(_metric(samples, "kntc_worker_messages_total", outcome=outcome) for outcome in FINAL)


def _queues_empty(cluster: Cluster) -> bool:
    return sum(cluster.queue_lengths().values()) == 0


def _limits_hold(cluster: Cluster, communes: list[str], report: dict[str, Any]) -> None:
    hosts = cluster.hosts
    total = UNITS * VERSIONS
    limits = {"KNTC_DB_JOB_CONCURRENCY": str(GLOBAL_CEILING), "KNTC_UNIT_CONCURRENCY": "1"}
    workers: list[WorkerHost] = [cluster.start_workers(hosts[name], 1, 4, **limits) for name in ("w1", "w2")]
    cluster.wait_workers_ready(workers, 1)
    # A unit's versions are sent one after another by 16 concurrent senders: they arrive
    # together and their jobs race for the unit on both hosts.
    jobs = [(unit, "LIMITS") for unit in communes for _ in range(VERSIONS)]
    with LimiterWatch(cluster.client, cluster.redis_url, sorted(cluster.unit_ids.values())) as watch:
        surge = cluster.surge(jobs)
        cluster.wait_decided("LIMITS", total, 120, *(w.process for w in workers))
        # Deferred copies of decided reports still come round; the metrics are final after them.
        wait_until(lambda: _queues_empty(cluster), 30, "the queues are empty", *(w.process for w in workers))
    scraped = {w.host.name: cluster.scrape(w) for w in workers}
    for worker in workers:
        cluster.procs.stop(worker.process)

    assert surge.statuses == {202: total}, (surge.statuses, surge.refusals)
    windows = cluster.windows("LIMITS")
    apps = {w.app for w in windows}
    on_both = {u for u in {w.unit_id for w in windows} if len({w.app for w in windows if w.unit_id == u}) == 2}
    decided_by_host = {name: _decided(samples) for name, samples in scraped.items()}
    deferrals = {
        limiter: sum(_metric(s, "kntc_rate_limit_deferrals_total", limiter=limiter) for s in scraped.values())
        for limiter in ("unit", "global")
    }
    report["limits"] = {
        "submissions": total,
        "intake_seconds": round(surge.seconds, 1),
        "worker_transactions": len(windows),
        "units_with_jobs_on_both_hosts": len(on_both),
        "max_open_transactions": max_concurrency(windows),
        "decided_by_host": decided_by_host,
        "deferrals": deferrals,
        "redis_samples": watch.samples,
        "redis_max_unit": watch.max_unit,
        "redis_max_global": watch.max_global,
        "redis_samples_at_ceiling": watch.samples_at[GLOBAL_CEILING],
    }
    print(json.dumps(report["limits"], indent=1))

    # The per-unit limit, across hosts, from PostgreSQL's clock.
    overlaps = unit_overlaps(windows)
    assert not overlaps, f"{len(overlaps)} pairs of jobs of one unit overlapped, e.g. {overlaps[:3]}"
    assert sum(w.decided for w in windows) == total, "every submission was decided by a worker transaction"
    assert apps == {"kntc-w1-workers", "kntc-w2-workers"}, apps
    # ... and it was put to the test: jobs of one unit on both hosts, hosts working at the same time.
    assert len(on_both) >= 10, f"only {len(on_both)} units had jobs on both hosts"
    assert cross_host_overlap(windows), "the two hosts never had a job open at the same time"
    # The global ceiling, from the same data, and bound.
    assert 2 <= max_concurrency(windows) <= GLOBAL_CEILING
    # The limiter counters, as Redis held them during the run.
    assert watch.samples >= 100, watch.samples
    assert watch.max_unit <= 1, watch.max_unit
    assert watch.max_global <= GLOBAL_CEILING, watch.max_global
    assert watch.samples_at[GLOBAL_CEILING] > 0, "the global ceiling never filled: it was not put to the test"
    assert deferrals["global"] > 0, deferrals
    # Every submission decided, once, by one of the hosts; both took part.
    assert all(n > 0 for n in decided_by_host.values()), decided_by_host
    assert sum(decided_by_host.values()) == total, decided_by_host


def _the_probe_sees_overlaps(cluster: Cluster, communes: list[str], report: dict[str, Any]) -> None:
    """The instrument checked: with the per-unit limit raised, the same measurement finds overlapping jobs."""
    settings = {"KNTC_DB_JOB_CONCURRENCY": "64", "KNTC_UNIT_CONCURRENCY": str(VERSIONS)}
    workers = [cluster.start_workers(cluster.hosts[name], 1, 4, **settings) for name in ("w1", "w2")]
    cluster.wait_workers_ready(workers, 1)
    jobs = [(unit, "CONTROL") for unit in communes[:CONTROL_UNITS] for _ in range(VERSIONS)]
    surge = cluster.surge(jobs)
    cluster.wait_decided("CONTROL", len(jobs), 60, *(w.process for w in workers))
    for worker in workers:
        cluster.procs.stop(worker.process)
    assert surge.statuses == {202: len(jobs)}, (surge.statuses, surge.refusals)
    windows = cluster.windows("CONTROL")
    overlaps = unit_overlaps(windows)
    report["control_unit_limit_raised"] = {
        "submissions": len(jobs),
        "worker_transactions": len(windows),
        "overlapping_pairs": len(overlaps),
    }
    print(json.dumps(report["control_unit_limit_raised"]))
    assert overlaps, "with the unit limit raised, no overlap was seen: the measurement would not see one either"


def _two_hosts_are_faster(cluster: Cluster, communes: list[str], report: dict[str, Any]) -> None:
    hosts = cluster.hosts
    # No ceiling that binds here; no relay resends of a backlog that waits on purpose.
    settings = {"KNTC_DB_JOB_CONCURRENCY": "64", "KNTC_RELAY_DELAY_SECONDS": "600"}
    runs = {}
    for period, names in (("ONE", ["w1"]), ("TWO", ["w1", "w2"])):
        # Rounds of reports, as units send corrections: every unit's v1, then every v2.
        jobs = [(unit, period) for _ in range(SPEED_VERSIONS) for unit in communes[:SPEED_UNITS]]
        surge = cluster.surge(jobs)
        assert surge.statuses == {202: len(jobs)}, (surge.statuses, surge.refusals)
        assert cluster.counts(period) == (0, len(jobs))
        runs[period] = drained = cluster.drain(period, len(jobs), [hosts[n] for n in names], 1, 2, **settings)
        report[f"hosts_{len(names)}"] = {
            "submissions": len(jobs),
            "intake_seconds": round(surge.seconds, 1),
            "first_to_last_decision_seconds": round(drained.spread_s, 2),
            "start_to_all_decided_seconds": round(drained.wall_s, 2),
            "decided_per_second": round(drained.per_second, 1),
            "decided_by": drained.by_app,
        }
        print(period, json.dumps(report[f"hosts_{len(names)}"]))
        assert drained.by_app.keys() == {f"kntc-{n}-workers" for n in names}, drained.by_app

    one, two = runs["ONE"], runs["TWO"]
    report["two_over_one"] = round(two.spread_s / one.spread_s, 3)
    assert two.spread_s < SPEED_MARGIN * one.spread_s, (
        f"two hosts took {two.spread_s:.1f}s, one host {one.spread_s:.1f}s (ratio {report['two_over_one']})"
    )
    # Both hosts pulled their weight.
    assert min(two.by_app.values()) >= 0.25 * two.submissions, two.by_app


@pytest.mark.slow
def test_worker_hosts_share_the_limits_and_two_decide_faster_than_one(tmp_path: Path) -> None:
    _require_namespaces()
    report: dict[str, Any] = {"job_latency_ms": JOB_LATENCY_MS, "global_ceiling": GLOBAL_CEILING}
    periods = ["LIMITS", "CONTROL", "ONE", "TWO"]
    with namespace_cluster(["w1", "w2"], UNITS, periods, keep_logs=tmp_path / "logs") as (cluster, communes):
        cluster.install_probe()
        cluster.set_job_latency(JOB_LATENCY_MS)
        phases = report["phase_seconds"] = {}
        try:
            for phase in (_limits_hold, _the_probe_sees_overlaps, _two_hosts_are_faster):
                started = time.monotonic()
                phase(cluster, communes, report)
                phases[phase.__name__.strip("_")] = round(time.monotonic() - started, 1)
        finally:
            ARTIFACT.parent.mkdir(exist_ok=True)
            ARTIFACT.write_text(json.dumps(report, indent=1) + "\n")
