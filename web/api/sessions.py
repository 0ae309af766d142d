"""Logging in: a username and password for a bearer token."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, request

from models.auth import login
from models.errors import DomainError
from web.schemas import LoginBody
from web.services import db, services

bp = Blueprint("sessions", __name__, url_prefix="/api/v1/auth")


class BadCredentials(DomainError):
    status = 401
    title = "Unauthorized"


@bp.post("/login")
def post_login() -> dict[str, str | None]:
    body = LoginBody.model_validate(request.get_json())
    lifetime = dt.timedelta(hours=services().settings.session_hours)
    issued = login(db(), body.username, body.password, lifetime)
    if issued is None:
        raise BadCredentials("wrong username or password, or the account is disabled")
    db().commit()
    token, expires_at = issued
    return {"token": token, "expires_at": expires_at.isoformat() if expires_at else None}
