"""Which roles may do what with records: one small table that every endpoint reads.

The subtree rule applies on top of it: an account acts only on its own unit and the
units below it (``Principal.covers``). Deleting drafts is narrower still: only admins
of a unit at one of ``DRAFT_DELETING_LEVELS`` (the seed report's "province deletes
its units' draft data"), for units they cover.
"""

from __future__ import annotations

from enum import StrEnum

from models.accounts import Role
from models.auth import Principal
from models.errors import Forbidden


class Action(StrEnum):
    READ_RECORDS = "records.read"
    WRITE_RECORDS = "records.write"
    DELETE_DRAFTS = "drafts.delete"
    READ_USAGE = "usage.read"
    READ_CATALOGUE = "catalogue.read"


EVERY_ROLE = frozenset(Role)

ALLOWED: dict[Action, frozenset[Role]] = {
    Action.READ_RECORDS: EVERY_ROLE,
    Action.WRITE_RECORDS: frozenset({Role.ADMIN, Role.LEADER, Role.OFFICER}),
    Action.DELETE_DRAFTS: frozenset({Role.ADMIN}),
    Action.READ_USAGE: frozenset({Role.ADMIN, Role.LEADER}),
    Action.READ_CATALOGUE: EVERY_ROLE,
}

# Levels whose admins may delete the drafts of the units they cover.
DRAFT_DELETING_LEVELS = frozenset({"central", "ministry", "province"})

_WORDS = {
    Action.READ_RECORDS: "read records",
    Action.WRITE_RECORDS: "create or change records",
    Action.DELETE_DRAFTS: "delete drafts",
    Action.READ_USAGE: "read usage statistics",
    Action.READ_CATALOGUE: "read the catalogue",
}


def may(role: Role | str, action: Action) -> bool:
    """True when the role may take the action at all (the subtree is checked apart)."""
    return Role(role) in ALLOWED[action]


def require(who: Principal, action: Action, unit_path: str | None = None, unit_code: str = "") -> None:
    """Raise Forbidden unless ``who`` may take ``action`` on the unit at ``unit_path``."""
    if not may(who.role, action):
        allowed = ", ".join(sorted(ALLOWED[action]))
        raise Forbidden(f"role {who.role.value} may not {_WORDS[action]}; roles that may: {allowed}")
    if unit_path is not None and not who.covers(unit_path):
        raise Forbidden(f"unit {unit_code} is outside your unit {who.unit_code} and what is below it")


def require_draft_deleter(who: Principal, caller_level: str, unit_path: str, unit_code: str) -> None:
    """Raise Forbidden unless ``who`` is an admin of a province (or above) covering the unit."""
    require(who, Action.DELETE_DRAFTS, unit_path, unit_code)
    if caller_level not in DRAFT_DELETING_LEVELS:
        levels = ", ".join(sorted(DRAFT_DELETING_LEVELS))
        raise Forbidden(
            f"only admins of a unit at level {levels} delete drafts; your unit {who.unit_code} is a {caller_level}; "
            "ask your province's admin"
        )
