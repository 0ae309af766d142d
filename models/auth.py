"""Who is calling: tokens to principals, logins, and the last-seen time of accounts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.accounts import Account, ApiToken, Role, hash_token, new_token
from models.base import utcnow
from models.units import Unit

# last_seen_at is for usage statistics: minute precision is plenty, and writing it on
# every request would double the intake's writes at deadline night.
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Principal:
    account_id: int
    username: str
    role: Role
    unit_id: int
    unit_code: str
    unit_path: str
    expires_at: dt.datetime | None
    last_seen_at: dt.datetime | None

    def covers(self, unit_path: str) -> bool:
        """True when the unit at ``unit_path`` is the account's unit or below it."""
        return unit_path.startswith(self.unit_path)

    def is_above(self, unit_path: str) -> bool:
        """True when the unit at ``unit_path`` is strictly below the account's unit."""
        return self.covers(unit_path) and unit_path != self.unit_path

    @property
    def is_root_admin(self) -> bool:
        return self.role == Role.ADMIN and self.unit_path.count("/") == 2


# Columns, not ORM entities, and a statement built once: at deadline night nearly every
# request is a token's first use, so this runs for most of them.
_PRINCIPAL = (
    sa.select(
        Account.id,
        Account.username,
        Account.role,
        Account.unit_id,
        Unit.code,
        Unit.path,
        ApiToken.expires_at,
        Account.last_seen_at,
        Account.disabled,
    )
    .join_from(ApiToken, Account, ApiToken.account_id == Account.id)
    .join(Unit, Unit.id == Account.unit_id)
    .where(ApiToken.token_sha256 == sa.bindparam("digest"))
)
_TOUCH = (
    sa.update(Account)
    .where(Account.id == sa.bindparam("account"))
    .where(sa.or_(Account.last_seen_at.is_(None), Account.last_seen_at < sa.bindparam("stale_before")))
    .values(last_seen_at=sa.bindparam("now"))
)


def principal_for_token(db: Session | sa.Connection, token: str) -> Principal | None:
    """The principal of a live token (known, unexpired, account enabled), else None."""
    row = db.execute(_PRINCIPAL, {"digest": hash_token(token)}).one_or_none()
    if row is None:
        return None
    if row.disabled or (row.expires_at is not None and row.expires_at <= utcnow()):
        return None
    return Principal(
        account_id=row.id,
        username=row.username,
        role=Role(row.role),
        unit_id=row.unit_id,
        unit_code=row.code,
        unit_path=row.path,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
    )


def last_seen_is_stale(who: Principal, now: dt.datetime) -> bool:
    """True when the account's last-seen time is due to be written again."""
    return who.last_seen_at is None or who.last_seen_at < now - LAST_SEEN_RESOLUTION


def touch_last_seen(db: Session | sa.Connection, account_id: int, now: dt.datetime) -> None:
    """Record that the account authenticated, at most once per resolution interval."""
    db.execute(_TOUCH, {"account": account_id, "stale_before": now - LAST_SEEN_RESOLUTION, "now": now})


def issue_token(
    session: Session, account: Account, *, kind: str, lifetime: dt.timedelta | None
) -> tuple[str, dt.datetime | None]:
    token, digest = new_token()
    expires_at = utcnow() + lifetime if lifetime else None
    session.add(ApiToken(account_id=account.id, token_sha256=digest, kind=kind, expires_at=expires_at))
    return token, expires_at


def login(
    session: Session, username: str, password: str, lifetime: dt.timedelta
) -> tuple[str, dt.datetime | None] | None:
    """A session token for a correct username and password, else None (no hint which was wrong)."""
    account = session.scalar(sa.select(Account).where(Account.username == username))
    if account is None or account.disabled or not account.check_password(password):
        return None
    token = issue_token(session, account, kind="session", lifetime=lifetime)
    account.last_seen_at = utcnow()
    return token
