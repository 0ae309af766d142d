"""Bearer-token authentication and the checks that every route makes of its caller."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import redis
import structlog
from flask import g, request

from models.accounts import Role, hash_token
from models.auth import Principal, last_seen_is_stale, principal_for_token, touch_last_seen
from models.base import utcnow
from models.directory import TTLCache
from models.errors import DomainError, Forbidden
from web.services import db, services

F = TypeVar("F", bound=Callable[..., Any])
log = structlog.get_logger(__name__)

# A token's principal, cached; an expired or revoked token stops working within 30 s at most,
# and within about a second when the change came through the API (the epoch below).
_principals: TTLCache[str, Principal | None] = TTLCache(seconds=30)
# The processes' shared principal epoch: the process that changes an account increments it,
# and every process, reading it at most once per EPOCH_CHECK_SECONDS, empties its cache
# when it moved. One Redis GET a second per process, none per request.
EPOCH_KEY = "kntc:principals:epoch"
EPOCH_CHECK_SECONDS = 1.0


@dataclass
class _Epoch:
    value: int | None = None
    checked: float = 0.0


_epoch = _Epoch()


def forget_principals() -> None:
    """Empty the principal caches (after a role change, a disabled account, a new password):
    this process's at once, the other processes' within about a second."""
    _principals.clear()
    client = services().redis
    if client is None:  # embedded: one process, already done
        return
    try:
        _epoch.value = int(client.incr(EPOCH_KEY))
    except redis.RedisError as error:  # the other processes then follow within the cache's 30 s
        log.warning("principal epoch not incremented", error=str(error))


def _follow_epoch() -> None:
    """Empty this process's cache when another process moved the epoch (read at most once a second)."""
    now = time.monotonic()
    if now - _epoch.checked < EPOCH_CHECK_SECONDS:
        return
    _epoch.checked = now
    client = services().redis
    if client is None:
        return
    try:
        raw = client.get(EPOCH_KEY)
    except redis.RedisError:
        return
    value = int(raw) if raw else 0
    if value != _epoch.value:
        _principals.clear()
        _epoch.value = value


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


def _load(token: str) -> Principal | None:
    # Autocommit: one round trip, no BEGIN and ROLLBACK around a single read.
    with services().autocommit.connect() as conn:
        return principal_for_token(conn, token)


def bearer_token() -> str | None:
    """The request's bearer token, or None when it sends none (or not in that scheme)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def first_contact() -> str | None:
    """The digest of the request's token when its principal is not cached: the intake may then
    authenticate it inside its own statement (``Intake.submit_first_contact``)."""
    token = bearer_token()
    _follow_epoch()
    return hash_token(token) if token and not _principals.holds(token) else None


def authenticate() -> Principal:
    token = bearer_token()
    if token is None:
        raise Unauthorized("send Authorization: Bearer TOKEN; get a token from POST /api/v1/auth/login")
    who = principal_for(token, defer_last_seen=True)
    if who is None:
        raise Unauthorized("the token is unknown, expired or its account disabled; log in again")
    return who


def principal_for(token: str, *, defer_last_seen: bool = False) -> Principal | None:
    """The live principal of a token (cached), or None; records the account's last-seen time.

    With ``defer_last_seen`` the write is left to the guard around the view (see
    :func:`login_required_folding_last_seen`), so that a view writing anyway can fold it
    into its own statement instead of a transaction of its own.
    """
    _follow_epoch()
    who = _principals.get(token, _load) if token else None
    now = utcnow()
    if who is None or (who.expires_at is not None and who.expires_at <= now):
        return None
    if last_seen_is_stale(who, now):
        if defer_last_seen:
            g.last_seen_due = (token, who, now)
        else:
            _touch(token, who, now)
    return who


def last_seen_due() -> int | None:
    """The account whose last-seen time this request still owes (a view may fold it into its write)."""
    due = g.get("last_seen_due")
    return None if due is None else int(due[1].account_id)


def last_seen_written() -> None:
    """The view committed the owed last-seen time itself: nothing left to write, the cache knows it."""
    due = g.pop("last_seen_due", None)
    if due is not None:
        token, who, now = due
        _principals.put(token, replace(who, last_seen_at=now))


def _touch(token: str, who: Principal, now: dt.datetime) -> None:
    with services().autocommit.connect() as conn:
        touch_last_seen(conn, who.account_id, now)
    _principals.put(token, replace(who, last_seen_at=now))


def _settle_last_seen() -> None:
    """Write the last-seen time still owed (the view did not fold it into its own statement).

    Best effort: the view's answer stands whatever happens here (it may have committed a
    change already), and a lost write only leaves the time 5 minutes staler.
    """
    due = g.pop("last_seen_due", None)
    if due is None:
        return
    try:
        _touch(*due)
    except Exception:
        log.warning("last-seen time not recorded", account_id=due[1].account_id, exc_info=True)


def login_required(view: F) -> F:
    """Authenticate, and record the caller's last-seen time before the view runs (a usage
    count made by this very request then includes its caller)."""
    return _guarded(view, settle_first=True)


def login_required_folding_last_seen(view: F) -> F:
    """Authenticate, leaving the owed last-seen time to the view: a view that writes anyway
    folds it into its own statement (:func:`last_seen_due`, :func:`last_seen_written`);
    whatever it leaves is written after it."""
    return _guarded(view, settle_first=False)


def _guarded(view: F, *, settle_first: bool) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.principal = authenticate()
        if settle_first:
            _settle_last_seen()
        try:
            return view(*args, **kwargs)
        finally:
            _settle_last_seen()

    return wrapper  # type: ignore[return-value]


def principal() -> Principal:
    return g.principal  # type: ignore[no-any-return]


def require_root_admin(action: str) -> Principal:
    who = principal()
    if not who.is_root_admin:
        raise Forbidden(f"only admins of the root unit may {action}")
    return who


def require_admin_above(unit_path: str, unit_code: str, action: str) -> Principal:
    who = principal()
    if who.role != Role.ADMIN or not who.is_above(unit_path):
        raise Forbidden(f"only an admin of a unit above {unit_code} may {action}")
    return who


def require_covers(unit_path: str, unit_code: str) -> Principal:
    who = principal()
    if not who.covers(unit_path):
        raise Forbidden(f"unit {unit_code} is outside your unit {who.unit_code} and what is below it")
    return who


__all__ = ["db", "login_required", "principal"]
