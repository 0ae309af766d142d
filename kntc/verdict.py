"""What the demo's surge came to: the figures, the checks that must hold, and the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from kntc import surge
from kntc.seed import Seeded
from models.receipts import verify

TOP_PROVINCES = 8


@dataclass
class Result:
    """The two waves as the client saw them, and the database and the API afterwards."""

    on_time: surge.Wave
    late: surge.Wave
    connections: int
    where: str  # "in-process" or "gunicorn + dramatiq"
    stored: dict[str, tuple[str, bool, list[dict[str, str]]]] = field(default_factory=dict)  # id -> row
    decided_seconds: float | None = None
    completeness: dict[str, Any] = field(default_factory=dict)
    public_key: bytes = b""

    @property
    def outcomes(self) -> list[surge.Outcome]:
        return self.on_time.outcomes + self.late.outcomes


@dataclass
class Findings:
    receipts: int = 0
    on_time: int = 0
    late: int = 0
    rejected: int = 0
    rejected_example: str = ""
    replays: int = 0
    replays_matched: int = 0
    refused: int = 0
    refused_example: str = ""
    lost: int = 0
    bad_signatures: int = 0
    wrong_timeliness: int = 0
    throughput: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0

    @classmethod
    def of(cls, result: Result) -> Findings:
        found = cls()
        for outcome in result.outcomes:
            found._count(outcome, result)
        wave = result.on_time
        found.throughput = surge.receipt_count(wave) / wave.seconds if wave.seconds else 0.0
        latencies = [lat for o in result.outcomes for lat in o.latencies]
        found.p50_ms = surge.percentile(latencies, 50) * 1000
        found.p99_ms = surge.percentile(latencies, 99) * 1000
        return found

    def _count(self, outcome: surge.Outcome, result: Result) -> None:
        if outcome.replay_status is not None:
            self.replays += 1
            self.replays_matched += bool(outcome.replay_matched)
        if not (outcome.submission_id and outcome.receipt):
            self.refused += 1
            self.refused_example = self.refused_example or f"HTTP {outcome.status}: {outcome.problem}"
            return
        self.receipts += 1
        self.bad_signatures += not verify(outcome.receipt, result.public_key)
        self.wrong_timeliness += outcome.receipt.get("on_time") is outcome.job.late
        self._decision(result.stored.get(outcome.submission_id))

    def _decision(self, row: tuple[str, bool, list[dict[str, str]]] | None) -> None:
        status, on_time, errors = row or ("missing", False, [])
        if status == "rejected":
            self.rejected += 1
            self.rejected_example = self.rejected_example or (errors[0]["message"] if errors else "")
        elif status != "accepted":
            self.lost += 1  # a receipt was issued, yet the report is not stored and decided
        elif on_time:
            self.on_time += 1
        else:
            self.late += 1

    @property
    def failures(self) -> list[str]:
        checks = (
            (self.lost, "receipts issued whose report is not stored and decided (lost)"),
            (self.refused, "reports refused"),
            (self.replays - self.replays_matched, "replays that did not return the first answer"),
            (self.bad_signatures, "receipts whose signature does not verify"),
            (self.wrong_timeliness, "receipts with the wrong on_time"),
        )
        return [f"{n} {what}" for n, what in checks if n]


def show(console: Console, seeded: Seeded, result: Result, found: Findings) -> None:
    console.print(summary_table(seeded, result, found))
    console.print(completeness_table(result.completeness))
    if found.failures:
        console.print("[bold red]FAILED[/]: " + "; ".join(found.failures))
    else:
        console.print(f"[bold green]OK[/]: {found.receipts:,} receipts issued, every one stored and decided.")


def summary_table(seeded: Seeded, result: Result, found: Findings) -> Table:
    table = Table(title=f"Deadline night: period {seeded.period}, form 01/TCD", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    decided = f"{result.decided_seconds:.1f} s" if result.decided_seconds is not None else "NOT ALL (timed out)"
    rows = (
        ("units reporting", f"{len(seeded.tokens):,}", "provinces, departments, communes, ministries"),
        ("accepted on time", f"{found.on_time:,}", "their receipts say on_time: true"),
        ("accepted late", f"{found.late:,}", "after the deadline, within the 48 h grace"),
        ("rejected", f"{found.rejected:,}", _clip(found.rejected_example)),
        (
            "replays",
            f"{found.replays:,}",
            f"sent twice, same key: {found.replays_matched:,} got the same id and receipt",
        ),
        ("refused", f"{found.refused:,}", _clip(found.refused_example) or "no report was refused"),
        ("lost", f"{found.lost:,}", "receipts issued whose report is not stored and decided"),
        ("receipts verified", f"{found.receipts - found.bad_signatures:,}/{found.receipts:,}", "Ed25519 signatures"),
        ("throughput", f"{found.throughput:,.0f} accepted/s", f"on-time wave, {result.connections} connections"),
        ("latency p50 / p99", f"{found.p50_ms:.0f} / {found.p99_ms:.0f} ms", f"every POST, {result.where}"),
        ("all decided after", decided, "from the first request to the last decision"),
    )
    for row in (*rows, *_records_row(seeded.records)):
        table.add_row(*row)
    return table


def _records_row(records: dict[str, int]) -> list[tuple[str, str, str]]:
    if not records:
        return []
    counts = f"{records['receptions']:,} receptions, {records['petitions']:,} petitions"
    more = (
        f"{records['crowd_groups']:,} crowd groups, {records['sessions']:,} sessions, "
        f"{records['repeat_cases']:,} repeat cases, {records['drafts']:,} drafts; {records['communes']:,} communes"
    )
    return [("records seeded", counts, more)]


def completeness_table(data: dict[str, Any]) -> Table:
    table = Table(title="Completeness (GET /api/v1/periods/…/completeness?unit=VN&form=01/TCD), largest provinces")
    for name in ("unit", "name", "expected", "submitted", "on time", "late", "missing"):
        table.add_column(name, justify="left" if name in ("unit", "name") else "right")
    provinces = sorted(
        (c for c in data.get("children", []) if c["unit"].isdigit()), key=lambda c: (-c["expected"], c["unit"])
    )
    for entry in [{**data, "name": "cả nước"}, *provinces[:TOP_PROVINCES]]:
        counts = (entry.get(key, 0) for key in ("expected", "submitted", "on_time", "late"))
        table.add_row(entry["unit"], entry["name"], *(f"{n:,}" for n in counts), f"{len(entry.get('missing', [])):,}")
    table.caption = "missing: the units whose only report was rejected"
    return table


def _clip(text: str, width: int = 64) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
