"""The reports part of the OpenAPI document: report requests, prefill and reconciliation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from web.api.report_requests import ReportRequestBody
from web.openapi import PROBLEM, _op, _path, _query

REPORT_MODELS: tuple[type[BaseModel], ...] = (ReportRequestBody,)

STATUS = (
    "{id, form, version, period, unit, status: queued|running|done|failed|expired, progress (0..1), "
    "result: {form, version, period, unit, columns, children: [{unit, name, columns}]} once done, "
    "files: {xlsx, csv} once done, error when failed, created_at, finished_at, expires_at}"
)
FILES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}


def _file_download() -> dict[str, Any]:
    op = _op(
        "A done request's file: the official layout as XLSX (merged Vietnamese header, a row per child unit, "
        "the total row) or CSV (UTF-8 with BOM); Content-Disposition carries the Vietnamese name (RFC 5987)",
        ("200", ""),
        "401 403 404",
        params=[_path("id"), _path("kind")],
    )
    op["responses"]["200"] = {
        "description": "the file",
        "content": {mime: {"schema": {"type": "string", "format": "binary"}} for mime in FILES.values()},
    }
    op["responses"]["404"]["description"] = "no such request or file kind (xlsx, csv), or not done yet"
    op["responses"]["410"] = {
        "description": "the request expired (KNTC_REPORT_KEEP_DAYS) and its files were removed; ask again",
        "content": {"application/problem+json": {"schema": PROBLEM}},
    }
    return op


def report_paths() -> dict[str, Any]:
    return {
        "/api/v1/report-requests": {
            "post": _op(
                "Ask for a form computed from the final records of a unit's subtree over a period (any role "
                "covering the unit; form as 01/TCD or 01-TCD); 202 at once. An identical request (same form "
                "version, period, unit) still queued or running is shared: the same id comes back with shared: true",
                ("202", "{id, status, shared}"),
                "400 401 403 422 501",
                ReportRequestBody,
            )
        },
        "/api/v1/report-requests/{id}": {
            "get": _op(
                "A report request's status, progress, result and file links",
                ("200", STATUS),
                "401 403 404",
                params=[_path("id")],
            )
        },
        "/api/v1/report-requests/{id}/files/{kind}": {"get": _file_download()},
        "/api/v1/forms/{form}/computed": {
            "get": _op(
                "Prefill: the figures a unit's records give for a form and period (synchronous, the unit's "
                "subtree), for roles that may submit. `form` URL-encoded (01%2FTCD) or with a dash (01-TCD)",
                ("200", "{form, version, period, unit, figures, note, columns, children}"),
                "401 403 422 501",
                params=[_path("form"), _query("unit", "the unit that would submit"), _query("period", "period code")],
            )
        },
        "/api/v1/periods/{code}/reconciliation": {
            "get": _op(
                "Units of a subtree whose newest accepted submission differs from their records, column by column "
                "(stored when each submission was accepted; compared now for older ones)",
                ("200", "{period, unit, form, checked, units: [{unit, name, form, submission, differences}]}"),
                "401 403 404 422 501",
                params=[
                    _path("code"),
                    _query("unit", "root of the subtree"),
                    {
                        "name": "form",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "only this form (01/TCD or 01-TCD)",
                    },
                ],
            )
        },
    }
