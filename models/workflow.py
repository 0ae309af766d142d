"""The handling of a petition as an explicit state machine: states, actions, who may act.

    received -> classified -> guided | forwarded | returned | filed_away | accepted
    accepted -> assigned -> under_resolution -> awaiting_review -> resolved
                                  ^                   |  (leader sends back)
                                  +-------------------+
    under_resolution -> resolved  (only where the law asks for no review by the head)
    accepted ... awaiting_review -> resolved  (close: withdrawn or suspended, no finding)

Some actions record an event and leave the state as it is: ``extend`` (a new deadline),
``urge`` (an urging letter, for a forwarded petition or an overdue one) and
``reply_received`` (the competent body answered a forwarded petition). A final state
still allows those, so a forwarded petition is urged and answered after it left the unit.

The statistical forms read the handling from ``petition_events``, never from today's
state: the handling outcome (guided, forwarded, returned ...) is ``to_state`` of the first
event that leaves ``received``/``classified`` (``handled``), the resolution is the event
into ``resolved``; ``urge`` and ``reply_received`` events keep ``from_state = to_state``.

``TRANSITIONS`` is the whole machine; ``act`` applies one action, writes the event and
the audit row, and moves the deadline. ``start`` gives a new petition its first state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import attachments, audit
from models.accounts import Account, Role
from models.auth import Principal
from models.base import utcnow
from models.deadlines import (
    DeadlineRules,
    RuleError,
    Versions,
    acceptance_due,
    extended_due,
    handling_due,
    resolution_due,
    rules_on,
    versions,
)
from models.errors import Conflict, Forbidden, Invalid
from models.handling import (
    AMOUNTS,
    CLOSING_OUTCOMES,
    COUNTS,
    FIRST_OUTCOMES,
    OUTCOMES,
    SECOND_OUTCOMES,
    PetitionEvent,
    PetitionHandling,
)
from models.records import Petition
from models.units import Unit

# Dates of the law are Vietnam's dates (UTC+7, no daylight saving).
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")


class State(StrEnum):
    RECEIVED = "received"
    CLASSIFIED = "classified"
    GUIDED = "guided"
    FORWARDED = "forwarded"
    RETURNED = "returned"
    FILED_AWAY = "filed_away"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    UNDER_RESOLUTION = "under_resolution"
    AWAITING_REVIEW = "awaiting_review"
    RESOLVED = "resolved"


FINAL_STATES = frozenset({State.GUIDED, State.FORWARDED, State.RETURNED, State.FILED_AWAY, State.RESOLVED})
OPEN_STATES = frozenset(State) - FINAL_STATES
# A petition leaves these when its handling is decided (guided, forwarded, ..., accepted).
HANDLING_STAGE = frozenset({State.RECEIVED, State.CLASSIFIED})
STAFF = frozenset({Role.ADMIN, Role.LEADER, Role.OFFICER})
HEADS = frozenset({Role.ADMIN, Role.LEADER})
# The resolution of a complaint or denunciation is a decision or conclusion signed by the
# head of the body (Luật Khiếu nại 2011 art. 31, Luật Tố cáo 2018 art. 35): an officer
# drafts it, a leader approves it. Recommendations and disputes need no such signature.
REVIEWED_CONTENT = frozenset({"complaint", "denunciation", "mixed"})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[State]
    target: State | None  # None: the state does not change (an extension)
    roles: frozenset[Role]
    reason_required: bool = False
    description: str = ""


def _t(action: str, sources: set[State], target: State | None, roles: frozenset[Role], **kw: Any) -> Transition:
    return Transition(action, frozenset(sources), target, roles, **kw)


_CLASSIFIED = {State.CLASSIFIED}
_IN_RESOLUTION = {State.ACCEPTED, State.ASSIGNED, State.UNDER_RESOLUTION, State.AWAITING_REVIEW}

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("classify", {State.RECEIVED}, State.CLASSIFIED, STAFF, description="content, eligibility, competence"),
        _t("guide", _CLASSIFIED, State.GUIDED, STAFF, description="guide the citizen to the competent body"),
        _t("forward", _CLASSIFIED, State.FORWARDED, STAFF, description="forward to the competent body"),
        _t("return", _CLASSIFIED, State.RETURNED, STAFF, reason_required=True, description="return the petition"),
        _t("file_away", _CLASSIFIED, State.FILED_AWAY, STAFF, reason_required=True, description="file it away"),
        _t("accept", _CLASSIFIED, State.ACCEPTED, HEADS, description="accept the case for resolution (thụ lý)"),
        _t("assign", {State.ACCEPTED, State.ASSIGNED, State.UNDER_RESOLUTION}, State.ASSIGNED, HEADS),
        _t("start", {State.ASSIGNED}, State.UNDER_RESOLUTION, STAFF, description="the assignee starts verifying"),
        _t("submit_for_review", {State.UNDER_RESOLUTION}, State.AWAITING_REVIEW, STAFF),
        _t("approve", {State.AWAITING_REVIEW}, State.RESOLVED, HEADS, description="the head signs the decision"),
        _t("send_back", {State.AWAITING_REVIEW}, State.UNDER_RESOLUTION, HEADS, reason_required=True),
        _t("resolve", {State.UNDER_RESOLUTION}, State.RESOLVED, STAFF, description="where no review is required"),
        _t("extend", _IN_RESOLUTION, None, HEADS, reason_required=True, description="extend the deadline"),
        _t(
            "close",
            _IN_RESOLUTION,
            State.RESOLVED,
            HEADS,
            reason_required=True,
            description="end the resolution without a finding: withdrawn, or suspended (đình chỉ)",
        ),
        _t(
            "urge",
            set(OPEN_STATES) | {State.FORWARDED},
            None,
            STAFF,
            description="an urging letter (đôn đốc): for a forwarded petition, or an overdue one",
        ),
        _t(
            "reply_received",
            {State.FORWARDED},
            None,
            STAFF,
            description="the competent body answered the forwarded petition",
        ),
    )
}

# Content whose resolution may be withdrawn or suspended, and whose second resolution
# upholds or amends the first.
CLOSABLE_CONTENT = frozenset({"complaint", "denunciation", "mixed"})
SECOND_ROUND_CONTENT = frozenset({"complaint", "mixed"})
FLAGS = ("court_judgment",)
# "Of which officials" is a part of the persons it follows (01/KQGQ 15-16, 17-19).
OF_WHICH = (("sanctions_officials", "sanctions_persons"), ("referred_officials", "referred_persons"))
OUTCOME_FIELDS = ("outcome", "decision_number", "decision_date", *AMOUNTS, *COUNTS, *FLAGS)


@dataclass(frozen=True)
class Command:
    """One action asked of a petition (the body of POST /petitions/{id}/actions)."""

    action: str
    reason: str | None = None
    to: str | None = None
    on: dt.date | None = None
    complex_case: bool | None = None
    remote_area: bool | None = None
    resolution_round: int | None = None
    outcome: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    # Files this step adds (a decision, a forwarding letter), already uploaded once.
    attachment_ids: Sequence[str] = ()


def today() -> dt.date:
    return dt.datetime.now(VIETNAM).date()


def allowed_actions(state: str) -> list[str]:
    """Actions the machine allows from ``state`` (whatever the caller's role)."""
    return [t.action for t in TRANSITIONS.values() if State(state) in t.sources]


def actions_for(handling: PetitionHandling, on: dt.date | None = None) -> list[str]:
    """Actions that may be taken on this petition now: ``urge`` only when it has a reason."""
    actions = allowed_actions(handling.state)
    if State(handling.state) != State.FORWARDED and not is_overdue(handling, on or today()):
        actions = [a for a in actions if a != "urge"]
    return actions


def is_final(state: str) -> bool:
    return State(state) in FINAL_STATES


def is_overdue(handling: PetitionHandling, on: dt.date) -> bool:
    """Past its legal deadline on ``on`` (or flagged so by the overdue job)."""
    return handling.overdue_since is not None or (handling.due_on is not None and handling.due_on < on)


def start(session: Session, petition: Petition, *, who: Principal | int | None = None) -> PetitionHandling:
    """Give a new petition its handling row in state ``received`` (idempotent).

    Called from the petition's create path; ``handling_for`` creates it lazily as well,
    so a petition stored before this existed still gets one. Drafts get none: they may
    be deleted, and the history of a handling row is never deleted.
    """
    if petition.status != "final":
        raise Conflict(f"petition {petition.id} is a draft; it is handled once final")
    existing = session.get(PetitionHandling, petition.id)
    if existing is not None:
        return existing
    received_on = petition.received_on
    in_use = versions(session)
    handling = PetitionHandling(
        petition_id=petition.id,
        state=State.RECEIVED.value,
        stage_started_on=received_on,
        due_on=_safe_due(lambda: handling_due(petition.content_type, received_on, in_use=in_use)),
        rules_version=_safe_version(received_on, in_use),
        last_activity_at=utcnow(),
        extensions=0,
        resolution_round=1,
    )
    session.add(handling)
    session.add(
        PetitionEvent(
            petition_id=petition.id,
            effective_on=received_on,
            account_id=who.account_id if isinstance(who, Principal) else who,
            action="receive",
            from_state=None,
            to_state=State.RECEIVED.value,
            data={"due_on": handling.due_on.isoformat() if handling.due_on else None},
        )
    )
    session.flush()
    return handling


def follow_correction(session: Session, who: Principal, petition: Petition) -> tuple[dt.date, dt.date | None] | None:
    """The running deadline again, after the petition's received date or content type was corrected.

    Only what the correction changes moves: in the handling stage the deadline counts from
    the received date; in the resolution stage from the acceptance, under the rule of the
    content type, with the extensions already granted granted again. Returns (before, after)
    when it moved (audited, and the overdue flag left to the next overdue run); else None.
    """
    handling = session.get(PetitionHandling, petition.id)
    if handling is None or handling.due_on is None:
        return None
    before = handling.due_on
    after = _due_again(session, petition, handling)
    if after == before:
        return None
    handling.due_on = after
    handling.overdue_since = None
    audit.record(
        session,
        who=who,
        action="petition.deadline",
        subject_kind="petition",
        subject_id=petition.id,
        unit_id=petition.unit_id,
        reason="the petition's received date or content type was corrected",
        details={"from_due_on": _iso(before), "due_on": _iso(after)},
    )
    return before, after


def _due_again(session: Session, petition: Petition, handling: PetitionHandling) -> dt.date | None:
    in_use = versions(session)
    kind, received = petition.content_type, petition.received_on
    state = State(handling.state)
    if state is State.RECEIVED:
        return _safe_due(lambda: handling_due(kind, received, in_use=in_use))
    if state is State.CLASSIFIED:
        return _safe_due(lambda: acceptance_due(kind, received, in_use=in_use))
    if state not in _IN_RESOLUTION or handling.accepted_on is None:
        return handling.due_on
    accepted = handling.accepted_on
    try:
        due = _resolution_due(kind, handling, accepted, in_use)
        for done in range(handling.extensions):
            due = extended_due(kind, accepted, due, done, in_use=in_use)
    except RuleError:  # the new content type's rules allow fewer extensions: keep the deadline given
        return handling.due_on
    return due


def _resolution_due(content_type: str, handling: PetitionHandling, accepted_on: dt.date, in_use: Versions) -> dt.date:
    """The resolution deadline from the acceptance, by the handling's round, complexity and area."""
    return resolution_due(
        content_type,
        accepted_on,
        resolution_round=handling.resolution_round,
        complex_case=handling.complex_case,
        remote=handling.remote_area,
        in_use=in_use,
    )


def _safe_due(compute: Any) -> dt.date | None:
    try:
        return compute()  # type: ignore[no-any-return]
    except RuleError:
        return None  # a date before every rule version: no legal deadline to watch


def _safe_version(day: dt.date, in_use: Sequence[DeadlineRules]) -> str | None:
    try:
        return rules_on(day, in_use).version
    except RuleError:
        return None


def handling_for(session: Session, petition: Petition, *, lock: bool = False) -> PetitionHandling:
    """The petition's handling row (created in state ``received`` when missing)."""
    stmt = sa.select(PetitionHandling).where(PetitionHandling.petition_id == petition.id)
    if lock:
        stmt = stmt.with_for_update()
    handling = session.scalar(stmt)
    return handling if handling is not None else start(session, petition)


def act(session: Session, who: Principal, petition: Petition, command: Command) -> PetitionHandling:
    """Apply one action to a petition; Conflict (409) when the machine does not allow it.

    The caller has checked that ``who`` covers the petition's unit; this checks the
    role, the state, the fields the action needs, and writes the event and audit row.
    The caller commits.
    """
    transition = TRANSITIONS.get(command.action)
    if transition is None:
        raise Invalid.field("action", f"unknown action {command.action!r}; one of {', '.join(TRANSITIONS)}")
    if petition.status != "final":
        raise Conflict(f"petition {petition.id} is a draft; finalise it before handling it")
    handling = handling_for(session, petition, lock=True)
    current = State(handling.state)
    if current not in transition.sources:
        allowed = allowed_actions(current)
        raise Conflict(
            f"action {command.action!r} is not allowed from state {current.value}; "
            f"allowed: {', '.join(allowed) or 'none (a final state)'}",
            [{"rule": "transition", "message": f"allowed actions from {current.value}: {allowed}"}],
        )
    if who.role not in transition.roles:
        roles = ", ".join(sorted(transition.roles))
        raise Forbidden(f"role {who.role.value} may not {command.action} a petition; roles that may: {roles}")
    if transition.reason_required and not (command.reason or "").strip():
        raise Invalid.field("reason", f"action {command.action} needs a reason; say why")
    on = _effective_on(session, handling, command.on)
    data = _apply(session, who, petition, handling, transition, command, on)
    target = transition.target or current
    _record(session, who, petition, handling, command, current, target, on, data)
    _note_facts(handling, command.action, target, on)
    handling.state = target.value
    handling.last_activity_at = utcnow()
    handling.stuck_since = None
    session.flush()
    return handling


def _note_facts(handling: PetitionHandling, action: str, target: State, on: dt.date) -> None:
    """Copy the history's write-once facts on the row (the first of each, as the events say)."""
    if handling.handled_on is None and target not in HANDLING_STAGE:
        handling.handled_as, handling.handled_on = target.value, on
    if action == "urge" and handling.urged_on is None:
        handling.urged_on = on
    if action == "reply_received" and handling.reply_received_on is None:
        handling.reply_received_on = on


def _effective_on(session: Session, handling: PetitionHandling, on: dt.date | None) -> dt.date:
    day = on or today()
    if day > today():
        raise Invalid.field("on", f"{day} is in the future; give the day the action was taken")
    last = session.scalar(
        sa.select(sa.func.max(PetitionEvent.effective_on)).where(PetitionEvent.petition_id == handling.petition_id)
    )
    if last is not None and day < last:
        raise Invalid.field("on", f"{day} is before the previous step of this petition ({last})")
    return day


def _apply(
    session: Session,
    who: Principal,
    petition: Petition,
    handling: PetitionHandling,
    transition: Transition,
    command: Command,
    on: dt.date,
) -> dict[str, Any]:
    """The action's own effects on the handling row; returns what the event records."""
    step = _STEPS.get(transition.action)
    data = step(session, who, petition, handling, command, on) if step else {}
    if transition.target is not None and transition.target != State(handling.state):
        handling.stage_started_on = on
    data.update(command.data or {})
    return data


def _classify(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    # The law counts acceptance from the day the petition was received (Luật Khiếu nại 2011
    # art. 27, Luật Tố cáo 2018 art. 29), not from its classification.
    received = petition.received_on
    handling.due_on = _safe_due(lambda: acceptance_due(petition.content_type, received, in_use=versions(session)))
    return {"due_on": _iso(handling.due_on)}


def _close(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    handling.due_on = None
    return {}


def _accept(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    if command.complex_case is not None:
        handling.complex_case = command.complex_case
    if command.remote_area is not None:
        handling.remote_area = command.remote_area
    if command.resolution_round is not None:
        if command.resolution_round not in (1, 2):
            raise Invalid.field("resolution_round", "1 (first resolution) or 2 (second resolution)")
        handling.resolution_round = command.resolution_round
    in_use = versions(session)
    try:
        handling.due_on = _resolution_due(petition.content_type, handling, on, in_use)
    except RuleError as error:
        raise Conflict(str(error)) from None
    handling.rules_version = rules_on(on, in_use).version
    handling.accepted_on = on
    handling.extensions = 0
    return {
        "due_on": _iso(handling.due_on),
        "complex_case": handling.complex_case,
        "remote_area": handling.remote_area,
        "resolution_round": handling.resolution_round,
        "rules_version": handling.rules_version,
    }


def _assign(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    if not command.to:
        raise Invalid.field("to", "give the username of the account that will resolve it")
    assignee = assignable_account(session, command.to, petition.unit_id)
    previous = handling.assignee_id
    handling.assignee_id = assignee.id
    return {"to": assignee.username, "from_assignee_id": previous}


def assignable_account(session: Session, username: str, unit_id: int) -> Account:
    """An active staff account whose subtree covers the unit; Invalid (422) otherwise."""
    row = session.execute(
        sa.select(Account, Unit.path).join(Unit, Unit.id == Account.unit_id).where(Account.username == username)
    ).one_or_none()
    if row is None:
        raise Invalid.field("to", f"no account {username!r}")
    account, path = row
    unit_path = session.scalar(sa.select(Unit.path).where(Unit.id == unit_id)) or ""
    if account.disabled:
        raise Invalid.field("to", f"account {username} is disabled")
    if Role(account.role) not in STAFF:
        raise Invalid.field("to", f"account {username} is a {account.role}; give an officer, leader or admin")
    if not unit_path.startswith(path):
        raise Invalid.field("to", f"account {username} does not cover the petition's unit")
    return account


def _start(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    if handling.assignee_id != who.account_id and who.role not in HEADS:
        raise Forbidden("only the assignee (or a leader) starts the resolution of this petition")
    return {}


def _submit(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    if petition.content_type not in REVIEWED_CONTENT:
        raise Conflict(f"a {petition.content_type} needs no review by the head; use the action resolve")
    return _set_outcome(petition, handling, command, required=False)


def _approve(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    data = _set_outcome(petition, handling, command, required=True)
    handling.resolved_on = on
    return data


def _close_resolution(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    if petition.content_type not in CLOSABLE_CONTENT:
        raise Conflict(f"a {petition.content_type} is not withdrawn nor suspended by a decision; resolve it")
    data = _set_outcome(petition, handling, command, required=True, closing=True)
    handling.resolved_on = on
    return data


def _urge(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    if State(handling.state) == State.FORWARDED:
        return {"urged": "forwarded"}
    if not is_overdue(handling, on):
        due = handling.due_on.isoformat() if handling.due_on else "no deadline"
        raise Conflict(
            f"petition {petition.id} is not overdue on {on} (due: {due}); "
            "urge a forwarded petition or one past its deadline"
        )
    return {"urged": "overdue", "due_on": _iso(handling.due_on)}


def _reply_received(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    return {"replied_on": on.isoformat()}


def _resolve(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    if petition.content_type in REVIEWED_CONTENT:
        raise Conflict(
            f"the resolution of a {petition.content_type} is signed by the head: "
            "use submit_for_review, then a leader approves it"
        )
    return _approve(session, who, petition, handling, command, on)


def _extend(
    session: Session, who: Principal, petition: Petition, handling: PetitionHandling, command: Command, on: dt.date
) -> dict[str, Any]:
    if handling.due_on is None:
        raise Conflict("this petition has no deadline to extend")
    try:
        new_due = extended_due(
            petition.content_type,
            handling.accepted_on or on,
            handling.due_on,
            handling.extensions,
            in_use=versions(session),
        )
    except RuleError as error:
        raise Conflict(str(error)) from None
    data = {"from_due_on": _iso(handling.due_on), "due_on": _iso(new_due), "extension": handling.extensions + 1}
    handling.due_on = new_due
    handling.extensions += 1
    handling.overdue_since = None
    return data


def _set_outcome(
    petition: Petition, handling: PetitionHandling, command: Command, *, required: bool, closing: bool = False
) -> dict[str, Any]:
    """Copy the resolution's outcome fields; when ``required``, all of them must be known.

    ``closing``: the action close, whose outcome is withdrawn or suspended.
    """
    given = dict(command.outcome or {})
    if command.resolution_round is not None:
        given["resolution_round"] = command.resolution_round
    for name, value in _validated_outcome(given).items():
        setattr(handling, name, value)
    _check_fit(petition, handling, closing=closing)
    if required:
        missing = [n for n in ("outcome", "decision_number", "decision_date") if getattr(handling, n) is None]
        if missing:
            errors = [{"field": n, "message": "required to resolve a petition"} for n in missing]
            raise Invalid(f"to resolve, give {', '.join(missing)}", errors)
    return {k: _json_value(v) for k, v in given.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value if isinstance(value, bool | int | str) else str(value)


def _check_fit(petition: Petition, handling: PetitionHandling, *, closing: bool) -> None:
    """The outcome fits the petition and the action; officials are among the persons."""
    errors: list[dict[str, str]] = []
    if handling.outcome is not None:
        misfit = _outcome_misfit(petition.content_type, handling.resolution_round, handling.outcome, closing=closing)
        if misfit:
            errors.append({"field": "outcome", "message": misfit})
    for part, whole in OF_WHICH:
        if (getattr(handling, part) or 0) > (getattr(handling, whole) or 0):
            errors.append(
                {"field": part, "message": f"of which officials: at most {whole} ({getattr(handling, whole)})"}
            )
    if errors:
        raise Invalid(f"the resolution does not fit: {errors[0]['field']}: {errors[0]['message']}", errors)


def _outcome_misfit(content_type: str, resolution_round: int, outcome: str, *, closing: bool) -> str | None:
    """Why ``outcome`` cannot end this resolution (None: it can)."""
    if outcome in CLOSING_OUTCOMES:
        return None if closing else "withdrawn and suspended end a resolution through the action close"
    if closing:
        return "the action close records withdrawn or suspended; a finding is approved or resolved"
    second_round = resolution_round == 2 and content_type in SECOND_ROUND_CONTENT
    if outcome in SECOND_OUTCOMES and not second_round:
        return "upheld and amended are outcomes of the second resolution of a complaint (resolution_round 2)"
    if outcome in FIRST_OUTCOMES and second_round:
        return "the second resolution of a complaint upholds or amends the first: upheld or amended"
    return None


def _validated_outcome(given: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for name, value in given.items():
        try:
            values[name] = _outcome_value(name, value)
        except ValueError as error:
            errors.append({"field": name, "message": str(error)})
    if errors:
        raise Invalid("the resolution's outcome has invalid fields; see errors", errors)
    return values


def _outcome_value(name: str, value: Any) -> Any:
    check = _OUTCOME_CHECKS.get(name) or _TYPE_CHECKS.get(name)
    if check is None:
        raise ValueError(f"unknown field; known: {', '.join(OUTCOME_FIELDS)}")
    return check(value)


def _outcome(value: Any) -> str:
    if value not in OUTCOMES:
        raise ValueError(f"one of {', '.join(OUTCOMES)}")
    return str(value)


def _decision_number(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise ValueError("the decision's number, e.g. 123/QĐ-UBND (up to 100 characters)")
    return value.strip()


def _decision_date(value: Any) -> dt.date:
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError("a date YYYY-MM-DD") from None
    if day > today():
        raise ValueError("the decision cannot be dated in the future")
    return day


def _round(value: Any) -> int:
    if value not in (1, 2) or isinstance(value, bool):
        raise ValueError("1 (first resolution) or 2 (second resolution)")
    return int(value)


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("a number (money in million VND, land in m²)") from None
    if isinstance(value, bool) or not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 16:
        raise ValueError("a non-negative number (money in million VND, land in m²)")
    return amount


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2_000_000_000:
        raise ValueError("a whole number >= 0")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


_OUTCOME_CHECKS = {
    "outcome": _outcome,
    "decision_number": _decision_number,
    "decision_date": _decision_date,
    "resolution_round": _round,
}
_TYPE_CHECKS = {
    **dict.fromkeys(AMOUNTS, _amount),
    **dict.fromkeys(COUNTS, _count),
    **dict.fromkeys(FLAGS, _flag),
}


_STEPS = {
    "classify": _classify,
    "guide": _close,
    "forward": _close,
    "return": _close,
    "file_away": _close,
    "accept": _accept,
    "assign": _assign,
    "start": _start,
    "submit_for_review": _submit,
    "approve": _approve,
    "resolve": _resolve,
    "extend": _extend,
    "close": _close_resolution,
    "urge": _urge,
    "reply_received": _reply_received,
}


def _record(
    session: Session,
    who: Principal,
    petition: Petition,
    handling: PetitionHandling,
    command: Command,
    source: State,
    target: State,
    on: dt.date,
    data: dict[str, Any],
) -> None:
    if command.attachment_ids:
        # Written into the event before its INSERT: the history is append-only.
        data["attachment_ids"] = [str(attachments.parse_id(i) or i) for i in command.attachment_ids]
    event = PetitionEvent(
        petition_id=petition.id,
        effective_on=on,
        account_id=who.account_id,
        action=command.action,
        from_state=source.value,
        to_state=target.value,
        reason=command.reason,
        data=data,
    )
    session.add(event)
    if command.attachment_ids:
        session.flush()  # the event's id names the step the files are linked to
        attachments.link(
            session, command.attachment_ids, "workflow_step", str(event.id), petition.unit_id, who, "attachment_ids"
        )
    audit.record(
        session,
        who=who,
        action="petition.transition",
        subject_kind="petition",
        subject_id=petition.id,
        unit_id=petition.unit_id,
        reason=command.reason,
        details={"action": command.action, "from": source.value, "to": target.value, "data": data},
    )


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def history(session: Session, petition_id: int) -> list[tuple[PetitionEvent, str | None]]:
    """Every transition of a petition with the username of who made it, oldest first."""
    stmt = (
        sa.select(PetitionEvent, Account.username)
        .outerjoin(Account, Account.id == PetitionEvent.account_id)
        .where(PetitionEvent.petition_id == petition_id)
        .order_by(PetitionEvent.id)
    )
    return [(event, username) for event, username in session.execute(stmt)]


def handling_record(session: Session, petition_id: int) -> dict[str, Any]:
    """How the petition was handled, read from its events as the forms read them.

    ``handled_as``/``handled_on``: the first event leaving received/classified (guided,
    forwarded, returned, filed_away, accepted); ``urged_on``: the days of its urging
    letters; ``reply_received_on``: the first answer of the body it was forwarded to.
    """
    events = session.execute(
        sa.select(PetitionEvent.action, PetitionEvent.to_state, PetitionEvent.effective_on)
        .where(PetitionEvent.petition_id == petition_id)
        .order_by(PetitionEvent.effective_on, PetitionEvent.id)
    ).all()
    handled = next(((to, on) for _, to, on in events if State(to) not in HANDLING_STAGE), (None, None))
    replies = [on for action, _, on in events if action == "reply_received"]
    return {
        "handled_as": handled[0],
        "handled_on": _iso(handled[1]),
        "urged_on": [on.isoformat() for action, _, on in events if action == "urge"],
        "reply_received_on": _iso(replies[0]) if replies else None,
    }
