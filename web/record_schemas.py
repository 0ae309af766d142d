"""Request bodies of the records endpoints (receptions, sessions, petitions, catalogue, drafts).

Shapes and ranges are checked here; rules that need the database (the catalogue in
effect, the case, crowd groups against head-counts) are checked in ``models``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt

from web.schemas import Body, Code

RecordStatus = Literal["draft", "final"]
ReceptionKind = Literal["regular", "head", "delegated"]
PetitionSource = Literal["in_person", "post", "forwarded", "online"]
RecordKind = Literal["reception", "petition"]
CatalogueCode = Annotated[str, Field(min_length=1, max_length=40)]
MAX_ID = 2**63 - 1  # PostgreSQL bigint: a larger id is no id, not a database error
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Note = Annotated[str, Field(max_length=4000)]
Reason = Annotated[str, Field(max_length=2000)]
Count = Annotated[StrictInt, Field(ge=1, le=1_000_000)]


DraftKind = Literal["reception", "petition", "session"]


def _both_kinds() -> list[RecordKind]:
    return ["reception", "petition"]


def _draft_kinds() -> list[DraftKind]:
    return ["reception", "petition", "session"]


class ReceptionBody(Body):
    unit: Code
    received_on: dt.date
    kind: ReceptionKind
    people: Count
    crowd_group: StrictBool = False
    case_id: Id | None = None
    session_id: Id | None = None
    content_type: CatalogueCode
    field: CatalogueCode
    # An API client records finished work; drafts are asked for explicitly.
    status: RecordStatus = "final"
    note: Note | None = None


class ReceptionChange(Body):
    received_on: dt.date | None = None
    kind: ReceptionKind | None = None
    people: Count | None = None
    crowd_group: StrictBool | None = None
    case_id: Id | None = None
    session_id: Id | None = None
    content_type: CatalogueCode | None = None
    field: CatalogueCode | None = None
    status: RecordStatus | None = None
    note: Note | None = None
    reason: Reason | None = None


class ReceptionSessionBody(Body):
    unit: Code
    held_on: dt.date
    kind: Literal["head", "delegated"]
    host: Annotated[str, Field(min_length=1, max_length=300)]
    note: Note | None = None
    status: RecordStatus = "final"


class ReceptionSessionChange(Body):
    held_on: dt.date | None = None
    kind: Literal["head", "delegated"] | None = None
    host: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    note: Note | None = None
    status: RecordStatus | None = None
    reason: Reason | None = None


class PetitionBody(Body):
    unit: Code
    received_on: dt.date
    source: PetitionSource
    reception_id: Id | None = None
    signatories: Count = 1
    multi_signatory: StrictBool | None = None
    anonymous: StrictBool = False
    petitioner_name: Annotated[str, Field(max_length=300)] | None = None
    petitioner_id_number: Annotated[str, Field(pattern=r"^[0-9A-Za-z ]{6,24}$")] | None = None
    petitioner_address: Annotated[str, Field(max_length=500)] | None = None
    content_type: CatalogueCode
    field: CatalogueCode
    summary: Annotated[str, Field(max_length=20_000)] = ""
    case_id: Id | None = None
    eligible: StrictBool | None = None
    within_competence: StrictBool | None = None
    attachment_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=100
    )
    status: RecordStatus = "final"
    note: Note | None = None


class PetitionChange(Body):
    received_on: dt.date | None = None
    source: PetitionSource | None = None
    reception_id: Id | None = None
    signatories: Count | None = None
    multi_signatory: StrictBool | None = None
    anonymous: StrictBool | None = None
    petitioner_name: Annotated[str, Field(max_length=300)] | None = None
    petitioner_id_number: Annotated[str, Field(pattern=r"^[0-9A-Za-z ]{6,24}$")] | None = None
    petitioner_address: Annotated[str, Field(max_length=500)] | None = None
    content_type: CatalogueCode | None = None
    field: CatalogueCode | None = None
    summary: Annotated[str, Field(max_length=20_000)] | None = None
    case_id: Id | None = None
    eligible: StrictBool | None = None
    within_competence: StrictBool | None = None
    attachment_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(None, max_length=100)
    status: RecordStatus | None = None
    note: Note | None = None
    reason: Reason | None = None


class DuplicateOfBody(Body):
    of: Id | None


class DraftDeletion(Body):
    unit: Code
    from_: dt.date = Field(alias="from")
    to: dt.date
    kinds: list[DraftKind] = Field(default_factory=_draft_kinds, min_length=1)


class CatalogueEntry(Body):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    vi: Annotated[str, Field(min_length=1, max_length=300)]
    en: Annotated[str, Field(min_length=1, max_length=300)]


class ContentTypeEntry(CatalogueEntry):
    applies_to: list[RecordKind] = Field(default_factory=_both_kinds, min_length=1)


class CatalogueBody(Body):
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z._-]{1,40}$")]
    effective_from: dt.date
    content_types: list[ContentTypeEntry] = Field(min_length=1, max_length=50)
    fields: list[CatalogueEntry] = Field(min_length=1, max_length=200)
