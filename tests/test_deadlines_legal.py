"""Legal deadlines of petition handling: versioned rules, Vietnam's calendar, Tết and weekends."""

from __future__ import annotations

import datetime as dt

import pytest

from models.deadlines import (
    RuleError,
    acceptance_due,
    add_days,
    all_rules,
    extended_due,
    handling_due,
    is_working_day,
    resolution_due,
    rules_on,
)

D = dt.date


def test_tet_2026_days_are_not_working_days() -> None:
    # Tết Bính Ngọ: 16-20 February 2026, Monday to Friday.
    assert [is_working_day(D(2026, 2, d)) for d in range(16, 21)] == [False] * 5
    assert is_working_day(D(2026, 2, 13)) and is_working_day(D(2026, 2, 23))


def test_denunciation_processing_skips_tet_and_weekends() -> None:
    # Received Friday before Tết: the 7 working days start on Monday 23 February.
    assert handling_due("denunciation", D(2026, 2, 13)) == D(2026, 3, 3)
    # Up to 10 working days where the case needs it.
    assert handling_due("denunciation", D(2026, 2, 13), extended=True) == D(2026, 3, 6)


def test_working_days_skip_a_weekend() -> None:
    # Wednesday + 7 working days: Thu, Fri, (weekend), Mon .. Fri.
    assert add_days(D(2026, 3, 4), 7, "working") == D(2026, 3, 13)
    assert handling_due("denunciation", D(2026, 3, 4)) == D(2026, 3, 13)


def test_calendar_deadline_ending_on_a_weekend_moves_to_monday() -> None:
    # Complaint acceptance: 10 days from Wednesday 4 March ends Saturday 14 March -> Monday 16.
    assert acceptance_due("complaint", D(2026, 3, 4)) == D(2026, 3, 16)


def test_calendar_deadline_ending_in_tet_moves_after_it() -> None:
    # 10 days from Saturday 7 February 2026 end on 17 February, the first day of Tết.
    assert acceptance_due("complaint", D(2026, 2, 7)) == D(2026, 2, 23)


def test_complaint_resolution_by_round_complexity_and_remote_area() -> None:
    accepted = D(2026, 3, 2)  # a Monday
    assert resolution_due("complaint", accepted) == D(2026, 4, 1)
    assert resolution_due("complaint", accepted, complex_case=True) == D(2026, 4, 16)
    assert resolution_due("complaint", accepted, remote=True) == D(2026, 4, 16)
    # 60 days end on Friday 1 May (Labour Day), after 30 April: Monday 4 May.
    assert resolution_due("complaint", accepted, remote=True, complex_case=True) == D(2026, 5, 4)
    assert resolution_due("complaint", accepted, resolution_round=2) == D(2026, 4, 16)
    assert resolution_due("complaint", accepted, resolution_round=2, complex_case=True) == D(2026, 5, 4)
    assert resolution_due("complaint", accepted, resolution_round=2, remote=True, complex_case=True) == D(2026, 5, 11)
    with pytest.raises(RuleError, match="round 3"):
        resolution_due("complaint", accepted, resolution_round=3)


def test_denunciation_resolution_and_at_most_two_extensions() -> None:
    accepted = D(2026, 3, 2)
    due = resolution_due("denunciation", accepted)
    assert due == D(2026, 4, 1)
    first = extended_due("denunciation", accepted, due, done=0)
    assert first == D(2026, 5, 4)  # 1 May is a holiday, then a weekend
    second = extended_due("denunciation", accepted, first, done=1)
    assert second == D(2026, 6, 3)
    with pytest.raises(RuleError, match="extended 2 time"):
        extended_due("denunciation", accepted, second, done=2)
    with pytest.raises(RuleError, match="extended 0 time"):
        extended_due("complaint", accepted, due, done=0)


def test_dispute_and_mixed_follow_complaint_deadlines() -> None:
    assert acceptance_due("dispute", D(2026, 3, 4)) == acceptance_due("complaint", D(2026, 3, 4))
    assert resolution_due("mixed", D(2026, 3, 2)) == resolution_due("complaint", D(2026, 3, 2))
    with pytest.raises(RuleError, match="no deadlines for content type 'poem'"):
        acceptance_due("poem", D(2026, 3, 4))


def test_the_version_in_force_on_the_day_applies() -> None:
    versions = [r.version for r in all_rules()]
    assert versions == sorted(versions) and len(versions) >= 2
    assert rules_on(D(2026, 6, 30)).version == "2019.1"
    amended = rules_on(D(2026, 7, 1))
    assert amended.version == "2026.1"
    assert amended.unconfirmed and "UNCONFIRMED" in amended.data["note"]
    assert not rules_on(D(2026, 6, 30)).unconfirmed
    with pytest.raises(RuleError, match="no deadline rules in force"):
        rules_on(D(2000, 1, 1))


def test_unknown_counting_is_refused() -> None:
    with pytest.raises(RuleError, match="unknown way of counting"):
        add_days(D(2026, 3, 4), 3, "lunar")
