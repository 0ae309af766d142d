"""The workflow part of the OpenAPI document: petition handling, history, accounts and handover."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from web.api.accounts import AccountBody, AccountChange, HandoverBody, PasswordBody
from web.api.deadline_rules import DeadlineRulesBody
from web.api.workflow import ActionBody
from web.openapi import _op, _path

WORKFLOW_MODELS: tuple[type[BaseModel], ...] = (
    ActionBody,
    AccountBody,
    AccountChange,
    PasswordBody,
    HandoverBody,
    DeadlineRulesBody,
)

FLAG_PARAMS = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["true", "false"]},
        "description": description,
    }
    for name, description in (
        ("overdue", "true: only petitions past their legal deadline (flagged by the overdue job)"),
        ("stuck", "true: only petitions idle longer than KNTC_STUCK_DAYS in one account"),
    )
]


def workflow_paths() -> dict[str, Any]:
    one = [_path("id")]
    user = [_path("username")]
    return {
        "/api/v1/petitions/{id}/actions": {
            "post": _op(
                "Take one action of the handling state machine (classify, guide, forward, return, file_away, "
                "accept, assign, start, submit_for_review, approve, send_back, resolve, close, extend, urge, "
                "reply_received); 409 lists the actions allowed from the current state. extend, urge (an urging "
                "letter: a forwarded petition, or an overdue one) and reply_received (the competent body answered "
                "a forwarded petition) record an event and keep the state. Outcomes: right, wrong, partly_right "
                "(first resolution), upheld, amended (second resolution of a complaint, resolution_round 2), "
                "withdrawn, suspended (action close, complaints and denunciations before their resolution); "
                "sanctions_officials <= sanctions_persons, referred_officials <= referred_persons",
                (
                    "200",
                    "the handling: state, allowed_actions, assignee, due_on, extensions, resolution, "
                    "handled_as, handled_on, urged_on, reply_received_on",
                ),
                "400 401 403 404 409 422",
                ActionBody,
                one,
            )
        },
        "/api/v1/petitions/{id}/handling": {
            "get": _op(
                "Where the petition stands: state, assignee, deadline, flags, resolution",
                ("200", "the handling"),
                "401 403 404 409",
                params=one,
            ),
        },
        "/api/v1/petitions/{id}/history": {
            "get": _op(
                "Every transition of the petition: who, when, from, to, why",
                ("200", "{petition, events}"),
                "401 403 404",
                params=one,
            ),
        },
        "/api/v1/deadline-rules": {
            "get": _op(
                "Legal deadline rule versions (files and added ones); ?on=DATE adds in_force",
                ("200", "{versions, in_force?}"),
                "401 422",
                params=[
                    {"name": "on", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}}
                ],
            ),
            "post": _op(
                "Add a version of the deadlines (root admins); applies to stages started from its effective_from",
                ("201", "the version"),
                "400 401 403 409 422",
                DeadlineRulesBody,
            ),
        },
        "/api/v1/accounts": {
            "post": _op(
                "Create an account of a unit in the caller's subtree (admins; a generated password is shown once)",
                ("201", "the account"),
                "400 401 403 409 422",
                AccountBody,
            ),
            "get": _op(
                "Accounts of a subtree (admins)",
                ("200", "{accounts}"),
                "401 403 422",
                params=[
                    {
                        "name": "unit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "root of the subtree (default: the caller's unit)",
                    }
                ],
            ),
        },
        "/api/v1/accounts/{username}": {
            "get": _op(
                "An account of the caller's subtree (admins)", ("200", "the account"), "401 403 404", params=user
            ),
            "patch": _op(
                "Grant a role, disable (handover_to required with open items, else 409) or enable",
                ("200", "the account"),
                "400 401 403 404 409 422",
                AccountChange,
                user,
            ),
        },
        "/api/v1/accounts/{username}/password": {
            "post": _op(
                "Reset the password (generated and shown once when none is given); ends its login sessions",
                ("200", "{username, password_reset, password?}"),
                "400 401 403 404 422",
                PasswordBody,
                user,
            ),
        },
        "/api/v1/accounts/{username}/handover": {
            "post": _op(
                "Move every open item of the account to another, in one transaction, each audited",
                ("200", "{from, to, moved}"),
                "400 401 403 404 422",
                HandoverBody,
                user,
            ),
        },
    }


def add_flag_filters(paths: dict[str, Any]) -> None:
    """Document ``?overdue=`` and ``?stuck=`` on the petitions list."""
    listing = paths.get("/api/v1/petitions", {}).get("get")
    if listing is not None:
        listing.setdefault("parameters", []).extend(FLAG_PARAMS)
