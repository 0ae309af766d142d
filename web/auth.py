"""Bearer-token authentication and the checks that every route makes of its caller."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from models.accounts import Role
from models.auth import LAST_SEEN_RESOLUTION, Principal, principal_for_token, touch_last_seen
from models.base import utcnow
from models.directory import TTLCache
from models.errors import DomainError, Forbidden
from web.services import db, services

F = TypeVar("F", bound=Callable[..., Any])

# A disabled account or a revoked token stops working within this many seconds.
_principals: TTLCache[str, Principal | None] = TTLCache(seconds=30)


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


def _load(token: str) -> Principal | None:
    with services().sessions() as session:
        return principal_for_token(session, token)


def authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer TOKEN; get a token from POST /api/v1/auth/login")
    who = principal_for(token.strip())
    if who is None:
        raise Unauthorized("the token is unknown, expired or its account disabled; log in again")
    return who


def principal_for(token: str) -> Principal | None:
    """The live principal of a token (cached), or None; records the account's last-seen time."""
    who = _principals.get(token, _load) if token else None
    now = utcnow()
    if who is None or (who.expires_at is not None and who.expires_at <= now):
        return None
    if who.last_seen_at is None or who.last_seen_at < now - LAST_SEEN_RESOLUTION:
        with services().sessions() as session:
            touch_last_seen(session, who.account_id, now)
            session.commit()
        _principals.forget(token)
    return who


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.principal = authenticate()
        return view(*args, **kwargs)

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
