"""Handling histories for generated petitions (the demo's and the forms benchmark's).

``History`` plays one final petition's handling the way officers would: received,
classified, then guided / forwarded / returned / filed away / accepted; accepted ones
assigned, started, submitted for review and approved (complaints, denunciations) or
resolved (the others), or closed withdrawn / suspended, some extended, urged when
overdue; forwarded ones urged and answered. It stops at ``now``: what would happen later
has not happened yet, so some petitions are still open and carried over to the next
period. Its ``row()`` is the ``petition_handling`` row the events lead to, with the
resolution's figures (money, land, sanctions, referrals ...), so every statistical form
has something to count.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from functools import cache
from typing import Any

REVIEWED = frozenset({"complaint", "denunciation", "mixed"})
STAMP = dt.time(9, 0, tzinfo=dt.UTC)
RULES_2026 = dt.date(2026, 7, 1)
# Returning and filing away need a reason (models.workflow.TRANSITIONS).
REASONS = {
    "return": "Đơn không đủ điều kiện xử lý, trả lại và hướng dẫn công dân",
    "file_away": "Đơn trùng nội dung đã được giải quyết, lưu đơn",
}


@cache
def at(day: dt.date) -> dt.datetime:
    """The moment an event of ``day`` is recorded (morning in Vietnam)."""
    return dt.datetime.combine(day, STAMP)


HANDLING_COLUMNS = (
    "petition_id", "state", "last_activity_at", "stage_started_on", "due_on", "rules_version", "accepted_on",
    "complex_case", "remote_area", "extensions", "overdue_since", "resolution_round", "outcome",
    "decision_number", "decision_date", "resolved_on", "money_recovered_state", "land_recovered_state",
    "money_returned_organisations", "land_returned_organisations", "money_returned_individuals",
    "land_returned_individuals", "organisations_restored", "individuals_restored", "sanctions_persons",
    "sanctions_officials", "referred_cases", "referred_persons", "referred_officials", "court_judgment",
    "created_at", "updated_at", "handled_as", "handled_on", "urged_on", "reply_received_on",
)  # fmt: skip
ZERO = Decimal(0)


class History:
    """One petition's handling: its events up to ``now`` and the row they lead to."""

    def __init__(
        self,
        rng: random.Random,
        pid: int,
        received: dt.date,
        content_type: str,
        eligible: bool | None,
        competent: bool | None,
        now: dt.date,
    ) -> None:
        self.rng, self.pid, self.content_type, self.now = rng, pid, content_type, now
        self.events: list[tuple[str, str | None, str, dt.date, str | None]] = []
        self.state, self.stage_started = "received", received
        self.due: dt.date | None = received + dt.timedelta(days=14)
        self.accepted_on: dt.date | None = None
        self.complex_case, self.extensions, self.round = False, 0, 1
        self.resolution: dict[str, Any] = {}
        self._event("receive", "received", received)
        self._run(received, eligible, competent)

    def _event(self, action: str, to: str, day: dt.date, reason: str | None = None) -> bool:
        """Record the event when it has happened by ``now``; False (and nothing) otherwise."""
        if day > self.now:
            return False
        source = None if action == "receive" else self.state
        self.events.append((action, source, to, day, reason))
        if to != self.state:
            self.state, self.stage_started = to, day
        return True

    def _run(self, day: dt.date, eligible: bool | None, competent: bool | None) -> None:
        rng = self.rng
        day += dt.timedelta(days=rng.randint(1, 10))
        if rng.random() < 0.03 or not self._event("classify", "classified", day):
            return
        day += dt.timedelta(days=rng.randint(0, 8))
        if rng.random() < 0.02:
            return  # classified, the decision still to take
        if not eligible:
            action = rng.choice(("return", "file_away"))
        elif competent is False:
            action = rng.choices(("guide", "forward", "return", "file_away"), weights=(35, 45, 10, 10))[0]
        else:
            action = "accept" if rng.random() < 0.88 else "file_away"
        target = {"guide": "guided", "forward": "forwarded", "return": "returned", "file_away": "filed_away"}
        if action != "accept":
            if self._event(action, target[action], day, REASONS.get(action)):
                self.due = None
                if action == "forward":
                    self._forwarded(day)
            return
        self._resolution(day)

    def _forwarded(self, day: dt.date) -> None:
        rng = self.rng
        later = sorted(
            (day + dt.timedelta(days=rng.randint(*span)), action)
            for action, share, span in (("urge", 0.4, (15, 45)), ("reply_received", 0.55, (10, 60)))
            if rng.random() < share
        )
        for when, action in later:
            self._event(action, "forwarded", when)

    def _resolution(self, day: dt.date) -> None:
        rng = self.rng
        if not self._event("accept", "accepted", day):
            return
        self.accepted_on = day
        self.round = 2 if self.content_type == "complaint" and rng.random() < 0.12 else 1
        self.complex_case = rng.random() < 0.2
        self.due = day + dt.timedelta(days=(30, 45)[self.complex_case] + (15 if self.round == 2 else 0))
        day += dt.timedelta(days=rng.randint(0, 3))
        if not self._event("assign", "assigned", day):
            return
        day += dt.timedelta(days=rng.randint(0, 5))
        if not self._event("start", "under_resolution", day):
            return
        length = rng.randint(10, 40) + (rng.randint(40, 200) if rng.random() < 0.12 else 0)
        done = day + dt.timedelta(days=length)
        review = rng.randint(0, 5)  # days between the draft's submission and the head's signature
        if self.content_type == "denunciation" and done > self.due and rng.random() < 0.7:
            self._extend(done - dt.timedelta(days=review))
        if done > self.now:
            if self.due < self.now and rng.random() < 0.3:
                self._event("urge", self.state, min(self.now, self.due + dt.timedelta(days=rng.randint(1, 20))))
            return
        self._finish(done, review)

    def _extend(self, submitted: dt.date) -> None:
        """One extension, before the deadline and before the draft goes to the head."""
        assert self.due is not None
        day = max(self.stage_started, min(self.due - dt.timedelta(days=2), submitted))
        if self._event("extend", self.state, day, "Vụ việc phức tạp, cần xác minh thêm"):
            self.due += dt.timedelta(days=30)
            self.extensions = 1

    def _finish(self, day: dt.date, review: int) -> None:
        outcome = self._outcome()
        if outcome in ("withdrawn", "suspended"):
            self._event("close", "resolved", day, "rút đơn" if outcome == "withdrawn" else "đình chỉ")
        elif self.content_type in REVIEWED:
            self._event("submit_for_review", "awaiting_review", day - dt.timedelta(days=review))
            self._event("approve", "resolved", day)
        else:
            self._event("resolve", "resolved", day)
        self.resolution = self._figures(outcome, day)

    def _outcome(self) -> str:
        rng = self.rng
        if self.round == 2:
            return rng.choices(("upheld", "amended", "withdrawn"), weights=(65, 30, 5))[0]
        if self.content_type in REVIEWED:
            return rng.choices(
                ("right", "wrong", "partly_right", "withdrawn", "suspended"), weights=(20, 45, 25, 6, 4)
            )[0]
        return rng.choices(("right", "wrong", "partly_right"), weights=(30, 40, 30))[0]

    def _figures(self, outcome: str, day: dt.date) -> dict[str, Any]:
        rng = self.rng
        found = outcome in ("right", "partly_right", "amended")
        money = Decimal(rng.randint(1, 50_000)) / 10 if found and rng.random() < 0.3 else ZERO
        land = Decimal(rng.randint(10, 5_000)) if found and rng.random() < 0.2 else ZERO
        persons = rng.randint(1, 5) if found and rng.random() < 0.15 else 0
        # Referrals to the investigators follow denunciations mostly, a complaint now and then.
        referral_share = 0.1 if self.content_type == "denunciation" else 0.03
        referred = rng.randint(1, 3) if found and rng.random() < referral_share else 0
        to_organisations = found and rng.random() < 0.1
        return {
            "outcome": outcome, "decision_number": f"{rng.randint(1, 999)}/QĐ-UBND", "decision_date": day,
            "resolved_on": day, "money_recovered_state": money, "land_recovered_state": land,
            "money_returned_organisations": money / 4 if to_organisations else ZERO,
            "land_returned_organisations": land / 4 if to_organisations else ZERO,
            "money_returned_individuals": money / 2, "land_returned_individuals": land / 2,
            "organisations_restored": 1 if found and rng.random() < 0.05 else 0,
            "individuals_restored": rng.randint(1, 4) if found and rng.random() < 0.4 else 0,
            "sanctions_persons": persons, "sanctions_officials": rng.randint(0, persons),
            "referred_cases": 1 if referred else 0, "referred_persons": referred,
            "referred_officials": rng.randint(0, referred),
            "court_judgment": self.content_type == "complaint" and rng.random() < 0.02,
        }  # fmt: skip

    def row(self) -> dict[str, Any]:
        """The ``petition_handling`` row the events lead to."""
        last = self.events[-1][3]
        is_open = self.state not in ("guided", "forwarded", "returned", "filed_away", "resolved")
        overdue = is_open and self.due is not None and self.due < self.now
        figures = {name: self.resolution.get(name, ZERO) for name in HANDLING_COLUMNS[16:22]}
        figures |= {name: self.resolution.get(name, 0) for name in HANDLING_COLUMNS[22:29]}
        return {
            "petition_id": self.pid, "state": self.state, "last_activity_at": at(last),
            "stage_started_on": self.stage_started, "due_on": self.due,
            "rules_version": "2026.1" if self.stage_started >= RULES_2026 else "2019.1",
            "accepted_on": self.accepted_on, "complex_case": self.complex_case, "remote_area": False,
            "extensions": self.extensions, "overdue_since": at(self.due) if overdue and self.due else None,
            "resolution_round": self.round, "outcome": self.resolution.get("outcome"),
            "decision_number": self.resolution.get("decision_number"),
            "decision_date": self.resolution.get("decision_date"), "resolved_on": self.resolution.get("resolved_on"),
            **figures, "court_judgment": self.resolution.get("court_judgment", False),
            "created_at": at(last), "updated_at": at(last), **self._facts(),
        }  # fmt: skip

    def _facts(self) -> dict[str, Any]:
        """The history's facts the handling row copies (models.workflow._note_facts)."""
        timeline = self.timeline()
        handled = next(((to, day) for _, _, to, day, _ in timeline if to not in ("received", "classified")), None)
        urged = [day for action, *_, day, _ in timeline if action == "urge"]
        replies = [day for action, *_, day, _ in timeline if action == "reply_received"]
        return {
            "handled_as": handled[0] if handled else None,
            "handled_on": handled[1] if handled else None,
            "urged_on": urged[0] if urged else None,
            "reply_received_on": replies[0] if replies else None,
        }

    def timeline(self) -> list[tuple[str, str | None, str, dt.date, str | None]]:
        """(action, from_state, to_state, effective_on, reason) in the order of their days.

        Written in that order, as the workflow refuses a step dated before the previous one.
        """
        return sorted(self.events, key=lambda e: e[3])

    def event_rows(self) -> list[dict[str, Any]]:
        """The ``petition_events`` rows (without ids)."""
        return [
            {"petition_id": self.pid, "at": at(day), "effective_on": day, "action": action, "from_state": source,
             "to_state": to, "reason": reason, "data": {}}
            for action, source, to, day, reason in self.timeline()
        ]  # fmt: skip
