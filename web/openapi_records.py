"""The records part of the OpenAPI document: catalogue, receptions, sessions, petitions, drafts, usage."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from web.openapi import _op, _path
from web.record_schemas import (
    CatalogueBody,
    DraftDeletion,
    DuplicateOfBody,
    PetitionBody,
    PetitionChange,
    ReceptionBody,
    ReceptionChange,
    ReceptionSessionBody,
    ReceptionSessionChange,
)

RECORD_MODELS: tuple[type[BaseModel], ...] = (
    CatalogueBody,
    ReceptionBody,
    ReceptionChange,
    ReceptionSessionBody,
    ReceptionSessionChange,
    PetitionBody,
    PetitionChange,
    DuplicateOfBody,
    DraftDeletion,
)


def _opt(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": description}


def _list_params(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _opt("unit", "root of the subtree (default: the caller's unit)"),
        _opt("from", "first received_on day, YYYY-MM-DD"),
        _opt("to", "last received_on day, YYYY-MM-DD"),
        _opt("status", "draft or final"),
        _opt("content_type", "a content type code of the catalogue"),
        _opt("field", "a field code of the catalogue"),
        _opt("case", "a case id", "integer"),
        *extra,
        _opt("limit", "rows per page, 1-500 (default 100)", "integer"),
        _opt("cursor", "the `next` of the previous page"),
    ]


def _record(
    kind: str, path: str, body: type[BaseModel], change: type[BaseModel], extra: dict[str, Any]
) -> dict[str, Any]:
    one = [_path("id")]
    return {
        path: {
            "post": _op(f"Record a {kind}; 201 with its id and case_id (null case_id opens a new case)",
                        ("201", f"the {kind}"), "400 401 403 422", body),
            "get": _op(f"List {kind}s of a subtree, newest first, a page at a time",
                       ("200", "{items, next}"), "401 403 422", params=_list_params(extra)),
        },
        f"{path}/{{id}}": {
            "get": _op(f"A {kind}, with its case's first date", ("200", f"the {kind}"), "401 403 404", params=one),
            "patch": _op(f"Change a draft {kind}, or correct a final one with a reason (audited)",
                         ("200", f"the {kind}"), "400 401 403 404 409 422", change, one),
            "delete": _op(f"Delete a draft {kind} (admins of a province or above); final ones get 409",
                          ("204", "deleted"), "401 403 404 409", params=one),
        },
    }  # fmt: skip


def record_paths() -> dict[str, Any]:
    one = [_path("id")]
    return {
        "/api/v1/catalogue": {
            "get": _op("The classification catalogue in effect on a day", ("200", "the version"), "401 404 422",
                       params=[_opt("on", "YYYY-MM-DD (default today)")]),
            "post": _op("Add a catalogue version with its effective date (admins of the root unit)",
                        ("201", "the version"), "400 401 403 409 422", CatalogueBody),
        },
        "/api/v1/catalogue/versions": {
            "get": _op("Every catalogue version, shipped and added", ("200", "{items}"), "401"),
        },
        **_record("reception", "/api/v1/receptions", ReceptionBody, ReceptionChange,
                  _opt("kind", "regular, head or delegated")),
        **_record("petition", "/api/v1/petitions", PetitionBody, PetitionChange,
                  _opt("source", "in_person, post, forwarded or online")),
        "/api/v1/petitions/{id}/duplicates": {
            "get": _op("Likely duplicates in the caller's subtree, with reasons and scores",
                       ("200", "{id, possible_duplicates}"), "401 403 404", params=one),
        },
        "/api/v1/petitions/{id}/duplicate-of": {
            "post": _op("Confirm that the petition duplicates another (or withdraw with null); audited",
                        ("200", "the petition"), "400 401 403 404 422", DuplicateOfBody, one),
        },
        "/api/v1/reception-sessions": {
            "post": _op("Record a reception session of the head or a delegate", ("201", "the session"),
                        "400 401 403 422", ReceptionSessionBody),
            "get": _op("Reception sessions of a subtree, newest first", ("200", "{items}"), "401 403 422",
                       params=[*_list_params()[:4], _opt("kind", "head or delegated"),
                               _opt("limit", "1-500", "integer")]),
        },
        "/api/v1/reception-sessions/{id}": {
            "get": _op("A reception session", ("200", "the session"), "401 403 404", params=one),
            "patch": _op("Change a draft session, or correct a final one with a reason (audited)",
                         ("200", "the session"), "400 401 403 404 409 422", ReceptionSessionChange, one),
            "delete": _op("Delete a draft session (admins of a province or above); final ones get 409",
                          ("204", "deleted"), "401 403 404 409", params=one),
        },
        "/api/v1/drafts/delete": {
            "post": _op("Delete the drafts of a unit's subtree in a date range (admins of a province or above)",
                        ("200", "{receptions, petitions, sessions, kept}"), "400 401 403 422", DraftDeletion),
        },
        "/api/v1/usage": {
            "get": _op("Accounts issued and active, units with and without data, per unit of a subtree",
                       ("200", "{units, units_with_data, accounts_issued, accounts_active, by_unit}"),
                       "401 403 422", params=[_opt("unit", "root of the subtree"), _opt("since", "YYYY-MM-DD")]),
        },
    }  # fmt: skip
