"""Account administration delegated down the unit tree, and the handover of open work.

Rules (issue 3, point 11): only admins administer accounts; only accounts of units in
their subtree; nobody grants a role above their own (admin > leader > officer >
reporter > viewer). An admin may make admins, but only of units strictly below their
own (a province hands its communes' administration to the communes' own IT staff),
except the root's admins, who also appoint their peers. Every change is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import audit
from models.accounts import Account, ApiToken, Role, validate_role
from models.auth import Principal
from models.base import utcnow
from models.errors import Conflict, Forbidden, Invalid, NotFound
from models.handling import PetitionHandling
from models.records import Petition
from models.units import Unit
from models.workflow import OPEN_STATES, STAFF

RANK = {Role.VIEWER: 0, Role.REPORTER: 1, Role.OFFICER: 2, Role.LEADER: 3, Role.ADMIN: 4}
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class Target:
    """An account with the code and path of its unit."""

    account: Account
    unit_code: str
    unit_path: str


def require_admin(who: Principal) -> None:
    if who.role != Role.ADMIN:
        raise Forbidden(f"only admins administer accounts; you are a {who.role.value}")


def require_may_grant(who: Principal, role: Role, unit_path: str, unit_code: str) -> None:
    """Forbidden unless ``who`` may give ``role`` to an account of the unit at ``unit_path``."""
    require_admin(who)
    if not who.covers(unit_path):
        raise Forbidden(f"unit {unit_code} is outside your unit {who.unit_code} and what is below it")
    if RANK[role] > RANK[who.role]:
        raise Forbidden(f"you may not grant {role.value}, a role above your own")
    if role == Role.ADMIN and not (who.is_above(unit_path) or who.is_root_admin):
        raise Forbidden(f"admins of {who.unit_code} appoint admins of the units below it, not of {unit_code} itself")


def require_may_manage(who: Principal, target: Target) -> None:
    """Forbidden unless ``who`` administers the account as it is now."""
    require_may_grant(who, Role(target.account.role), target.unit_path, target.unit_code)


def load(session: Session, username: str, *, lock: bool = False) -> Target:
    stmt = (
        sa.select(Account, Unit.code, Unit.path)
        .join(Unit, Unit.id == Account.unit_id)
        .where(Account.username == username)
    )
    if lock:
        stmt = stmt.with_for_update(of=Account)
    row = session.execute(stmt).one_or_none()
    if row is None:
        raise NotFound(f"no account {username!r}")
    return Target(*row)


def unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(sa.select(Unit).where(Unit.code == code))
    if unit is None:
        raise Invalid.field("unit", f"no unit {code!r}; check the code")
    return unit


def role_of(value: str, field: str = "role") -> Role:
    try:
        return validate_role(value)
    except ValueError as error:
        raise Invalid.field(field, str(error)) from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid.field("password", f"at least {MIN_PASSWORD_LENGTH} characters")


def create(
    session: Session, who: Principal, *, username: str, unit_code: str, role: str, password: str | None
) -> tuple[Account, str | None]:
    """A new account; returns it and the one-time password when one was generated."""
    unit = unit_by_code(session, unit_code)
    granted = role_of(role)
    require_may_grant(who, granted, unit.path, unit.code)
    if session.scalar(sa.select(Account.id).where(Account.username == username)):
        raise Conflict(f"account {username!r} exists already; choose another username")
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    check_password(password)
    account = Account(username=username, unit_id=unit.id, role=granted.value, disabled=False)
    account.set_password(password)
    session.add(account)
    session.flush()
    _audit(session, who, "account.create", account, {"unit": unit.code, "role": granted.value})
    return account, generated


def change(
    session: Session,
    who: Principal,
    username: str,
    *,
    role: str | None = None,
    disabled: bool | None = None,
    handover_to: str | None = None,
    reason: str | None = None,
) -> Target:
    """Grant a role and/or disable or enable an account (with a handover of its open items)."""
    target = load(session, username, lock=True)
    account = target.account
    if account.id == who.account_id and (role is not None or disabled):
        raise Forbidden("you may not change your own role nor disable yourself; ask another admin")
    require_may_manage(who, target)
    if role is not None and role != account.role:
        granted = role_of(role)
        require_may_grant(who, granted, target.unit_path, target.unit_code)
        _audit(session, who, "account.grant", account, {"from": account.role, "to": granted.value}, reason)
        account.role = granted.value
    if disabled is not None and disabled != account.disabled:
        if disabled:
            _before_disabling(session, who, target, handover_to, reason)
        account.disabled = disabled
        _audit(session, who, "account.disable" if disabled else "account.enable", account, {}, reason)
    elif handover_to is not None:
        handover(session, who, username, handover_to, reason=reason)
    return target


def _before_disabling(
    session: Session, who: Principal, target: Target, handover_to: str | None, reason: str | None
) -> None:
    count = open_items_count(session, target.account.id)
    if count and handover_to is None:
        raise Conflict(
            f"{target.account.username} has {count} open item(s); give handover_to, the account that takes them",
            [{"field": "handover_to", "message": f"{count} open item(s) need a new assignee"}],
        )
    if handover_to is not None:
        handover(session, who, target.account.username, handover_to, reason=reason)


def reset_password(session: Session, who: Principal, username: str, password: str | None) -> str | None:
    """Set a new password (generated when none is given) and end the account's login sessions."""
    target = load(session, username, lock=True)
    require_may_manage(who, target)
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    check_password(password)
    target.account.set_password(password)
    # A reset is often because the password leaked: its login tokens stop working too.
    session.execute(sa.delete(ApiToken).where(ApiToken.account_id == target.account.id, ApiToken.kind == "session"))
    _audit(session, who, "account.password_reset", target.account, {"generated": generated is not None})
    return generated


def open_items(session: Session, account_id: int) -> sa.Select[PetitionHandling, int, str]:
    """SELECT the open handling rows assigned to the account, with each petition's unit id and path."""
    return (
        sa.select(PetitionHandling, Petition.unit_id, Unit.path)
        .join(Petition, Petition.id == PetitionHandling.petition_id)
        .join(Unit, Unit.id == Petition.unit_id)
        .where(PetitionHandling.assignee_id == account_id)
        .where(PetitionHandling.state.in_([s.value for s in OPEN_STATES]))
    )


def open_items_count(session: Session, account_id: int) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(PetitionHandling)
        .where(PetitionHandling.assignee_id == account_id)
        .where(PetitionHandling.state.in_([s.value for s in OPEN_STATES]))
    )
    return int(session.scalar(stmt) or 0)


def handover(session: Session, who: Principal, username: str, to: str, *, reason: str | None = None) -> int:
    """Move every open item of ``username`` to ``to`` in the caller's transaction; returns how many.

    The target must be active, staff, and cover every item's unit; each item is audited.
    """
    source = load(session, username)
    require_may_manage(who, source)
    if to == username:
        raise Invalid.field("to", "give another account than the one handing over")
    target = load(session, to)
    if not who.covers(target.unit_path):
        raise Forbidden(f"account {to} is outside your unit {who.unit_code} and what is below it")
    if target.account.disabled:
        raise Invalid.field("to", f"account {to} is disabled; give an active account")
    if Role(target.account.role) not in STAFF:
        raise Invalid.field("to", f"account {to} is a {target.account.role}; give an officer, leader or admin")
    rows = session.execute(open_items(session, source.account.id).with_for_update(of=PetitionHandling)).all()
    outside = [h.petition_id for h, _, path in rows if not path.startswith(target.unit_path)]
    if outside:
        shown = ", ".join(map(str, outside[:10]))
        raise Invalid.field("to", f"account {to} does not cover the units of petition(s) {shown}; give one above them")
    now = utcnow()
    events = []
    for handling, unit_id, _ in rows:
        handling.assignee_id = target.account.id
        handling.last_activity_at = now
        handling.stuck_since = None
        details = {"from": source.account.username, "to": to, "state": handling.state}
        events.append(
            audit.event(
                who=who,
                action="petition.handover",
                subject_kind="petition",
                subject_id=handling.petition_id,
                unit_id=unit_id,
                reason=reason,
                details=details,
            )
        )
    audit.record_many(session, events)
    _audit(session, who, "account.handover", source.account, {"to": to, "items": len(rows)}, reason)
    session.flush()
    return len(rows)


def _audit(
    session: Session,
    who: Principal,
    action: str,
    account: Account,
    details: dict[str, object],
    reason: str | None = None,
) -> None:
    audit.record(
        session,
        who=who,
        action=action,
        subject_kind="account",
        subject_id=account.username,
        unit_id=account.unit_id,
        reason=reason,
        details=dict(details),
    )


def listing(session: Session, who: Principal, unit_code: str | None) -> list[tuple[Account, str]]:
    """Accounts of the unit's subtree (the caller's when none is given), by username."""
    require_admin(who)
    path = who.unit_path
    if unit_code:
        unit = unit_by_code(session, unit_code)
        if not who.covers(unit.path):
            raise Forbidden(f"unit {unit.code} is outside your unit {who.unit_code} and what is below it")
        path = unit.path
    stmt = (
        sa.select(Account, Unit.code)
        .join(Unit, Unit.id == Account.unit_id)
        .where(Unit.path.startswith(path, autoescape=True))
        .order_by(Account.username)
    )
    return [(account, code) for account, code in session.execute(stmt)]
