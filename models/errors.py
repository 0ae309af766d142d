"""Domain errors. Each names what is wrong and what to do; ``web`` turns them into problem+json."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class Invalid(DomainError):
    status = 422
    title = "Unprocessable request"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", [{"field": field, "message": message}])


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class NotAvailable(DomainError):
    """What this installation cannot do as configured (say, on the embedded SQLite database)."""

    status = 501
    title = "Not available in this installation"
