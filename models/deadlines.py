"""Legal deadlines of petition handling, from versioned rule files, in Vietnam's calendar.

Each file in ``models/deadline_rules/`` is the set of deadlines of one version of the
laws, in force from its ``effective_from``; root admins add versions through the API
(``deadline_rule_versions``; one with the same ``effective_from`` as a file replaces
it, e.g. once the 2026 amendments' real numbers are known). The version in force on the
day a stage starts gives its deadline. Days are counted as the Civil Code says (art. 147-148):
from the day after the start; a ``calendar`` deadline whose last day is a weekend or a
public holiday ends on the next working day; ``working`` days skip weekends and
Vietnam's public holidays (Tết included, from the ``holidays`` package).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import holidays
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import AddedVersion, Base

RULES_DIR = Path(__file__).with_name("deadline_rules")
COUNTS = ("calendar", "working")


class RuleError(ValueError):
    """A rule file is malformed or no rule covers what was asked."""


class DeadlineRuleRow(AddedVersion, Base):
    """A deadline rule version added by a root admin (shipped versions are files, not rows)."""

    __tablename__ = "deadline_rule_versions"


@dataclass(frozen=True)
class DeadlineRules:
    """One version of the deadlines (one rule file)."""

    version: str
    effective_from: dt.date
    unconfirmed: bool
    data: dict[str, Any]
    shipped: bool = True

    def section(self, content_type: str) -> dict[str, Any]:
        kind = self.data.get("aliases", {}).get(content_type, content_type)
        section = self.data.get(kind)
        if not isinstance(section, dict):
            raise RuleError(f"rules {self.version} have no deadlines for content type {content_type!r}")
        return section

    def max_extensions(self, content_type: str) -> int:
        return int(self.section(content_type).get("extensions", {}).get("max", 0))


@cache
def all_rules() -> tuple[DeadlineRules, ...]:
    """Every shipped version, oldest first."""
    found = [_load(path) for path in sorted(RULES_DIR.glob("*.json"))]
    if not found:
        raise RuleError(f"no deadline rule files in {RULES_DIR}")
    return tuple(sorted(found, key=lambda r: r.effective_from))


def _load(path: Path) -> DeadlineRules:
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        return DeadlineRules(
            version=str(data["version"]),
            effective_from=dt.date.fromisoformat(data["effective_from"]),
            unconfirmed=bool(data.get("unconfirmed", False)),
            data=data,
        )
    except (KeyError, ValueError) as error:
        raise RuleError(f"{path.name}: {error}") from None


Versions = Sequence[DeadlineRules]


def versions(session: Session | None = None) -> tuple[DeadlineRules, ...]:
    """Shipped and added versions, by ``effective_from``; an added one after a file of the same day."""
    found = list(all_rules())
    if session is not None:
        rows = session.scalars(sa.select(DeadlineRuleRow)).all()
        found += [
            DeadlineRules(row.version, row.effective_from, bool(row.data.get("unconfirmed")), row.data, shipped=False)
            for row in rows
        ]
    return tuple(sorted(found, key=lambda r: (r.effective_from, not r.shipped)))


def rules_on(day: dt.date, in_use: Versions | None = None) -> DeadlineRules:
    """The version in force on ``day``: the latest ``effective_from`` on or before it."""
    known = all_rules() if in_use is None else in_use
    in_force = [r for r in known if r.effective_from <= day]
    if not in_force:
        raise RuleError(f"no deadline rules in force on {day}; the oldest start {known[0].effective_from}")
    return in_force[-1]


def add_version(session: Session, data: dict[str, Any], created_by: int | None) -> DeadlineRules:
    """Store a version a root admin sent (its shape checked by the caller); Conflict on a repeat."""
    from models.errors import Conflict

    version, effective_from = str(data["version"]), dt.date.fromisoformat(str(data["effective_from"]))
    taken = session.scalar(
        sa.select(DeadlineRuleRow.version).where(
            sa.or_(DeadlineRuleRow.version == version, DeadlineRuleRow.effective_from == effective_from)
        )
    )
    if taken is not None or version in {r.version for r in all_rules()}:
        raise Conflict(f"a deadline rule version {version} or one in force from {effective_from} exists already")
    session.add(DeadlineRuleRow(version=version, effective_from=effective_from, data=data, created_by=created_by))
    session.flush()
    return DeadlineRules(version, effective_from, bool(data.get("unconfirmed")), data, shipped=False)


# --- Vietnam's calendar -----------------------------------------------------------------


@cache
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday and not a public holiday (state agencies work five days a week)."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_days(start: dt.date, days: int, count: str) -> dt.date:
    """The last day of a period of ``days`` counted from the day after ``start``."""
    if count not in COUNTS:
        raise RuleError(f"unknown way of counting days {count!r}; one of {', '.join(COUNTS)}")
    if count == "calendar":
        return next_working_day(start + dt.timedelta(days=days))
    day = start
    for _ in range(days):
        day = next_working_day(day + dt.timedelta(days=1))
    return day


# --- the deadlines of each stage ----------------------------------------------------------


def handling_due(
    content_type: str, received_on: dt.date, *, extended: bool = False, in_use: Versions | None = None
) -> dt.date:
    """When a received petition must be classified (a denunciation: its initial processing)."""
    rules = rules_on(received_on, in_use)
    rule = rules.section(content_type).get("accept") if content_type == "denunciation" else None
    rule = rule or rules.data["handling"]
    days = int(rule.get("max_days", rule["days"]) if extended else rule["days"])
    return add_days(received_on, days, rule["count"])


def acceptance_due(content_type: str, classified_on: dt.date, *, in_use: Versions | None = None) -> dt.date:
    """When a petition within competence must be accepted (thụ lý) at the latest."""
    rule = rules_on(classified_on, in_use).section(content_type)["accept"]
    return add_days(classified_on, int(rule["days"]), rule["count"])


def resolution_due(
    content_type: str,
    accepted_on: dt.date,
    *,
    resolution_round: int = 1,
    complex_case: bool = False,
    remote: bool = False,
    in_use: Versions | None = None,
) -> dt.date:
    """When an accepted case must be resolved: by round, complexity and remote area."""
    resolve = rules_on(accepted_on, in_use).section(content_type)["resolve"]
    rounds = resolve["rounds"]
    if str(resolution_round) not in rounds:
        raise RuleError(f"no resolution round {resolution_round} for {content_type}; rounds are {', '.join(rounds)}")
    variant = ("remote_" if remote else "") + ("complex" if complex_case else "normal")
    if variant == "remote_normal":
        variant = "remote"
    return add_days(accepted_on, int(rounds[str(resolution_round)][variant]), resolve["count"])


def extended_due(
    content_type: str, accepted_on: dt.date, current_due: dt.date, done: int, *, in_use: Versions | None = None
) -> dt.date:
    """The deadline after one more extension; RuleError when the law allows no more."""
    rules = rules_on(accepted_on, in_use)
    rule = rules.section(content_type).get("extensions", {})
    allowed = int(rule.get("max", 0))
    if done >= allowed:
        raise RuleError(
            f"a {content_type} may be extended {allowed} time(s) under rules {rules.version}; it was extended {done}"
        )
    return add_days(current_due, int(rule["days"]), rule.get("count", "calendar"))
