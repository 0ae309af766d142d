"""One error shape for every route: RFC 9457 problem+json, never a 500 for bad input."""

from __future__ import annotations

from typing import Any

import structlog
from flask import Flask, Response, json
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from models.errors import DomainError

PROBLEM_TYPE = "https://kntc.gov.vn/problems/"
log = structlog.get_logger(__name__)


def problem(status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")


def validation_errors(error: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as ``{"field": "figures.4", "message": ...}``."""
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "body", "message": item["msg"]}
        for item in error.errors(include_url=False)
    ]


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        return problem(error.status, error.title, error.detail, error.errors)

    @app.errorhandler(ValidationError)
    def _validation(error: ValidationError) -> Response:
        errors = validation_errors(error)
        return problem(422, "Unprocessable request", "the request body has invalid fields; see errors", errors)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        detail = {
            400: "the body is not valid JSON; send a JSON object",
            404: "there is no such resource; see /openapi.json",
            405: "this method is not allowed here; see /openapi.json",
            413: "the body is too large; split it or ask for a higher limit",
        }.get(status, error.description or "")
        return problem(status, error.name, detail)

    @app.errorhandler(OperationalError)
    def _database_unavailable(error: OperationalError) -> Response:
        log.warning("database unavailable", error=str(error.orig))
        response = problem(
            503, "Service unavailable", "the database did not answer; send it again with the same Idempotency-Key"
        )
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal server error", "something failed on our side; it is logged, try again")
