"""Accounts, their roles scoped to a subtree, and their API tokens (stored hashed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from enum import StrEnum

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, intpk

_hasher = PasswordHasher()


class Role(StrEnum):
    ADMIN = "admin"
    LEADER = "leader"
    OFFICER = "officer"
    REPORTER = "reporter"
    VIEWER = "viewer"


# Roles that may submit a statistical report for a unit of their subtree.
SUBMITTING_ROLES = frozenset({Role.ADMIN, Role.LEADER, Role.OFFICER, Role.REPORTER})


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(sa.String(100), unique=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    last_seen_at: Mapped[dt.datetime | None]

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        if not self.password_hash:
            return False
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, so a database leak leaks no token."""

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # "api" (CLI) or "session" (login)
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime | None]


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store for it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def validate_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(r.value for r in Role)}") from None
