"""The benchmark's processes: their CPU time, and sampling them with py-spy.

CPU time per report is the figure that holds on a shared machine, where throughput
depends on what else runs. It is read from ``/proc`` (Linux).

With ``bench/intake.py --profile DIR`` (``pip install py-spy``), py-spy attaches to each
gunicorn worker and each dramatiq worker process while the load runs and writes its
samples in the "raw" (collapsed stacks) format, which flamegraph.pl and speedscope read.
:func:`summarise` prints where the time went: the functions with the most samples on
the stack (inclusive) and at its top (self).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (gunicorn's workers, dramatiq's worker processes)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    return [pid, *(p for child in children(pid) for p in tree(child))]


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL server processes serving connections to ``database``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with suppress(OSError):
            if f" {database} " in cmdline.read_bytes().decode(errors="replace").replace("\0", " "):
                found.append(int(cmdline.parent.name))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User plus system CPU time of each pid still alive."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        with suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            times[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return times


def machine_cpu() -> dict[str, float]:
    """Seconds the whole machine spent busy, idle (with I/O wait) and stolen by the hypervisor."""
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    busy = user + nice + system + irq + softirq
    return {"busy": busy / ticks, "idle": (idle + iowait) / ticks, "steal": steal / ticks}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings; a process born in between counts from zero."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


@contextmanager
def sampling(pids: dict[str, list[int]], out: Path, rate: int = 200) -> Iterator[None]:
    """Record every pid while the block runs; one ``NAME-PID.txt`` per process in ``out``."""
    # The virtualenv's own (pip install py-spy) first: the benchmark may run without activating it.
    local = Path(sys.executable).parent / "py-spy"
    py_spy = str(local) if local.exists() else shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("--profile needs py-spy on the PATH: pip install py-spy")
    out.mkdir(parents=True, exist_ok=True)
    # --gil: only samples that hold the GIL, so waits on PostgreSQL and Redis drop out and
    # what remains is where the Python code spends its CPU.
    record = [py_spy, "record", "--gil", "--format", "raw", "--rate", str(rate)]
    recorders = [
        subprocess.Popen(
            [*record, "--pid", str(pid), "-o", str(out / f"{name}-{pid}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, group in pids.items()
        for pid in group
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders:
            recorder.wait(timeout=60)


def summarise(files: list[Path], top: int = 25) -> str:
    """The functions that most samples were in (inclusive) and at the top of (self)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for file in files:
        for line in file.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
            total += int(count)
            own[frames[-1]] += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
    if not total:
        return "no samples"
    lines = [f"{total:,} samples; inclusive:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["self:"] + [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)
