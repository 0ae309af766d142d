"""Account administration over HTTP, delegated down the unit tree, and handover of open work."""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, Response, json, request
from pydantic import Field

from models import account_admin
from models.accounts import Account
from models.errors import Forbidden, Invalid
from models.text import nfc
from web.auth import forget_principals, login_required, principal
from web.schemas import Body
from web.services import db

bp = Blueprint("accounts", __name__, url_prefix="/api/v1/accounts")

Username = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")]
Password = Annotated[str, Field(min_length=account_admin.MIN_PASSWORD_LENGTH, max_length=1000)]
Reason = Annotated[str, Field(max_length=1000)]


class AccountBody(Body):
    username: Username
    unit: Annotated[str, Field(min_length=1, max_length=64)]
    role: Annotated[str, Field(min_length=1, max_length=20)]
    password: Password | None = None


class AccountChange(Body):
    role: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    disabled: bool | None = None
    handover_to: Username | None = None
    reason: Reason | None = None


class PasswordBody(Body):
    password: Password | None = None


class HandoverBody(Body):
    to: Username
    reason: Reason | None = None


def account_json(account: Account, unit_code: str) -> dict[str, Any]:
    return {
        "username": account.username,
        "unit": unit_code,
        "role": account.role,
        "disabled": account.disabled,
        "created_at": account.created_at.isoformat(),
        "last_seen_at": account.last_seen_at.isoformat() if account.last_seen_at else None,
        "open_items": account_admin.open_items_count(db(), account.id),
    }


def _json(body: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    if location:
        response.headers["Location"] = location
    return response


@bp.post("")
@login_required
def create() -> Response:
    """Create an account of a unit in the caller's subtree; a generated password is shown once."""
    body = AccountBody.model_validate(request.get_json())
    account, generated = account_admin.create(
        db(), principal(), username=body.username, unit_code=body.unit, role=body.role, password=body.password
    )
    db().commit()
    result = account_json(account, body.unit)
    if generated:
        result["password"] = generated
    return _json(result, 201, f"/api/v1/accounts/{account.username}")


@bp.get("")
@login_required
def listing() -> dict[str, Any]:
    rows = account_admin.listing(db(), principal(), request.args.get("unit"))
    return {"accounts": [account_json(account, code) for account, code in rows]}


@bp.get("/<username>")
@login_required
def show(username: str) -> dict[str, Any]:
    who = principal()
    account_admin.require_admin(who)
    target = account_admin.load(db(), username)
    if not who.covers(target.unit_path):
        raise Forbidden(f"account {username} is outside your unit {who.unit_code} and what is below it")
    return account_json(target.account, target.unit_code)


@bp.patch("/<username>")
@login_required
def change(username: str) -> dict[str, Any]:
    """Grant a role, disable (with ``handover_to`` when it has open items) or enable an account."""
    body = AccountChange.model_validate(request.get_json())
    if body.role is None and body.disabled is None and body.handover_to is None:
        raise Invalid.field("body", "give role, disabled or handover_to")
    target = account_admin.change(
        db(),
        principal(),
        username,
        role=body.role,
        disabled=body.disabled,
        handover_to=body.handover_to,
        reason=nfc(body.reason),
    )
    db().commit()
    forget_principals()
    return account_json(target.account, target.unit_code)


@bp.post("/<username>/password")
@login_required
def reset_password(username: str) -> dict[str, Any]:
    """Set a new password (generated and shown once when none is given); ends its login sessions."""
    body = PasswordBody.model_validate(request.get_json() if request.get_data() else {})
    generated = account_admin.reset_password(db(), principal(), username, body.password)
    db().commit()
    forget_principals()
    result: dict[str, Any] = {"username": username, "password_reset": True}
    if generated:
        result["password"] = generated
    return result


@bp.post("/<username>/handover")
@login_required
def handover(username: str) -> dict[str, Any]:
    """Move every open item of the account to ``to``, in one transaction, each audited."""
    body = HandoverBody.model_validate(request.get_json())
    moved = account_admin.handover(db(), principal(), username, body.to, reason=nfc(body.reason))
    db().commit()
    return {"from": username, "to": body.to, "moved": moved}
