"""The OpenAPI 3 document: every ``/api`` route with its request body and responses."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import BaseModel

from web.schemas import (
    AttachmentsBody,
    BundleBody,
    LockExceptionBody,
    LoginBody,
    PeriodBody,
    PeriodChange,
    SubmissionBody,
)

bp = Blueprint("openapi", __name__)

PROBLEM = {"$ref": "#/components/schemas/Problem"}
ERRORS = {
    "400": "malformed JSON",
    "401": "no token, or a bad one",
    "403": "the unit is outside the caller's subtree, or the role may not do this",
    "404": "no such resource",
    "409": "a conflict (the period closed, the resource exists)",
    "413": "the body is too large",
    "422": "invalid fields; `errors` names each",
    "501": "this installation cannot do it as configured (forms need PostgreSQL: the embedded SQLite mode has none)",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: tuple[str, str],
    errors: str = "",
    body: type[BaseModel] | None = None,
    params: list[dict[str, Any]] | None = None,
    auth: bool = True,
) -> dict[str, Any]:
    responses: dict[str, Any] = {ok[0]: _json({"type": "object"}, ok[1])}
    for code in errors.split():
        responses[code] = {"description": ERRORS[code], "content": {"application/problem+json": {"schema": PROBLEM}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if params:
        op["parameters"] = params
    op["security"] = [{"bearer": []}] if auth else []
    return op


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": True, "schema": {"type": "string"}, "description": description}


IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Same key and body from the same account: the same answer again. Same key, other body: 422.",
}


def document() -> dict[str, Any]:
    from web.openapi_records import RECORD_MODELS
    from web.openapi_reports import REPORT_MODELS
    from web.openapi_workflow import WORKFLOW_MODELS

    models: tuple[type[BaseModel], ...] = (
        SubmissionBody,
        AttachmentsBody,
        LoginBody,
        PeriodBody,
        PeriodChange,
        LockExceptionBody,
        BundleBody,
    )
    models += RECORD_MODELS + WORKFLOW_MODELS + REPORT_MODELS
    schemas: dict[str, Any] = {
        m.__name__: m.model_json_schema(ref_template="#/components/schemas/{model}") for m in models
    }
    schemas["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object"}},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "KNTC: national database of complaints and denunciations",
            "version": "1",
            "description": "Deadline-proof report intake. Errors are application/problem+json (RFC 9457).",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": _all_paths(),
    }


def _all_paths() -> dict[str, Any]:
    from web.openapi_records import record_paths
    from web.openapi_reports import report_paths
    from web.openapi_workflow import add_flag_filters, workflow_paths

    paths = {**_paths(), **record_paths(), **workflow_paths(), **report_paths()}
    add_flag_filters(paths)
    return paths


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/auth/login": {
            "post": _op(
                "Log in for a bearer token", ("200", "{token, expires_at}"), "400 401 422", LoginBody, auth=False
            )
        },
        "/api/v1/units/{code}": {
            "get": _op("A unit, its level, parent and children", ("200", "the unit"), "401 404", params=[_path("code")])
        },
        "/api/v1/periods": {
            "post": _op(
                "Create a reporting period (admins of the root unit)",
                ("201", "the period"),
                "400 401 403 409 422",
                PeriodBody,
            )
        },
        "/api/v1/periods/{code}": {
            "get": _op("A reporting period", ("200", "the period"), "401 404", params=[_path("code")]),
            "patch": _op(
                "Move a period's deadline or grace (admins of the root unit)",
                ("200", "the period"),
                "400 401 403 404 422",
                PeriodChange,
                [_path("code")],
            ),
        },
        "/api/v1/periods/{code}/completeness": {
            "get": _op(
                "Who in a subtree has reported a form: expected, submitted, on_time, late, pending, missing, children",
                ("200", "the counts"),
                "401 403 404 422",
                params=[_path("code"), _query("unit", "root of the subtree"), _query("form", "form code, e.g. 01/TCD")],
            )
        },
        "/api/v1/periods/{code}/lock-exceptions": {
            "post": _op(
                "Let a unit submit a form after the period closed (an admin above the unit)",
                ("201", "the exception"),
                "400 401 403 404 422",
                LockExceptionBody,
                [_path("code")],
            )
        },
        "/api/v1/submissions": {
            "post": _op(
                "Submit a unit's form for a period: 202 with an Ed25519-signed receipt once durably stored",
                ("202", "{id, status: queued, receipt}"),
                "400 401 403 409 413 422",
                SubmissionBody,
                [IDEMPOTENCY],
            )
        },
        "/api/v1/submissions/{id}": {
            "get": _op(
                "A submission's status: queued, processing, accepted or rejected (with every broken rule)",
                ("200", "the submission, with the ids of the attachments it references"),
                "401 403 404",
                params=[_path("id")],
            )
        },
        "/api/v1/submissions/{id}/attachments": {
            "post": _op(
                "Reference uploaded files (the signed paper report, annexes) from a submission",
                ("200", "{attachments: [ids]}"),
                "400 401 403 404 422",
                AttachmentsBody,
                [_path("id")],
            )
        },
        "/api/v1/receipts/public-key": {
            "get": _op("The Ed25519 key that verifies receipts", ("200", "{algorithm, key_id, public_key}"), auth=False)
        },
        **_attachment_paths(),
    }


ATTACHMENT = (
    "{id, kind, sha256, size, name, status: processing|ready|rejected, mime, pages, width, height, "
    "reason, reason_code, text_chars, thumbnail, sources, created_at, processed_at}"
)
NOT_READABLE = "no such attachment, or the caller may not read it (the two look alike)"


def _binary(op: dict[str, Any], mime: str, description: str) -> dict[str, Any]:
    op["responses"]["200"] = {
        "description": description,
        "content": {mime: {"schema": {"type": "string", "format": "binary"}}},
    }
    op["responses"]["404"]["description"] = NOT_READABLE
    return op


def _attachment_paths() -> dict[str, Any]:
    upload = _op(
        "Upload a file (multipart field `file`, streamed, content-addressed: the same bytes give the same id); "
        "workers then sniff its type (PDF, JPEG, PNG, TIFF), count pages, extract text and make a thumbnail",
        ("202", ATTACHMENT),
        "400 401 403 413 422",
    )
    upload["requestBody"] = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
    one = [_path("id")]
    show = _op("An attachment and what the workers found in it", ("200", ATTACHMENT), "401 404", params=one)
    show["responses"]["404"]["description"] = NOT_READABLE
    return {
        "/api/v1/attachments": {"post": upload},
        "/api/v1/attachments/bundle": {
            "post": _op(
                "Make one PDF of several image attachments, in order (photos of a paper petition): "
                "upright, A4-sized pages, with a first-page thumbnail",
                ("202", ATTACHMENT),
                "400 401 403 422",
                BundleBody,
            )
        },
        "/api/v1/attachments/{id}": {"get": show},
        "/api/v1/attachments/{id}/content": {
            "get": _binary(
                _op("The stored bytes, with the sniffed type", ("200", ""), "401 404 409", params=one),
                "application/octet-stream",
                "the bytes (Content-Type is the sniffed type); 409 while processing or when rejected",
            )
        },
        "/api/v1/attachments/{id}/thumbnail": {
            "get": _binary(
                _op("A JPEG of the first page, at most 320 px", ("200", ""), "401 404 409", params=one),
                "image/jpeg",
                "the thumbnail",
            )
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    return document()
