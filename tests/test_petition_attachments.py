"""Petitions reference uploaded attachments: the reference is what opens the file to the units above."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from attachment_files import text_pdf
from attachments_support import show, upload
from flask.testing import FlaskClient
from helpers import World
from record_factories import call, fields_of, officers, petition
from sqlalchemy.orm import Session, sessionmaker

from models.attachments import linked_to


def test_a_petition_links_its_attachments_for_the_units_above(
    att_client: FlaskClient, world: World, sessions: sessionmaker[Session], drain_attachments: Callable[..., None]
) -> None:
    officers(world)
    token = world.tokens["x1-officer"]
    scan = upload(att_client, token, text_pdf(["don khieu nai"]), "don.pdf")[1]["id"]
    drain_attachments()
    assert show(att_client, world.tokens["p01-admin"], scan)[0] == 404, "not referenced yet"

    status, created = call(att_client, token, "POST", "/api/v1/petitions", petition(attachment_ids=[scan.upper()]))

    assert status == 201
    assert created["attachment_ids"] == [scan], "stored in canonical form"
    with sessions() as session:
        assert [a.id for a in linked_to(session, "petition", str(created["id"]))] == [uuid.UUID(scan)]
    assert show(att_client, world.tokens["p01-admin"], scan)[0] == 200
    assert show(att_client, world.tokens["x2-officer"], scan)[0] == 404, "a sibling commune still cannot read it"


def test_an_unreadable_attachment_stores_no_petition(
    att_client: FlaskClient, world: World, sessions: sessionmaker[Session], drain_attachments: Callable[..., None]
) -> None:
    officers(world)
    foreign = upload(att_client, world.tokens["x2-officer"], text_pdf(["khac"]), "khac.pdf")[1]["id"]
    drain_attachments()
    token = world.tokens["x1-officer"]
    before = call(att_client, token, "GET", "/api/v1/petitions?unit=P01.X1")[1]["items"]

    status, problem = call(
        att_client, token, "POST", "/api/v1/petitions", petition(attachment_ids=[str(uuid.uuid4()), foreign])
    )

    assert status == 422
    assert fields_of(problem) == {"attachment_ids[0]", "attachment_ids[1]"}
    assert call(att_client, token, "GET", "/api/v1/petitions?unit=P01.X1")[1]["items"] == before


def test_a_correction_adding_a_file_links_it(
    att_client: FlaskClient, world: World, drain_attachments: Callable[..., None]
) -> None:
    officers(world)
    token = world.tokens["x1-officer"]
    created = call(att_client, token, "POST", "/api/v1/petitions", petition())[1]
    scan = upload(att_client, token, text_pdf(["bo sung"]), "bo-sung.pdf")[1]["id"]
    drain_attachments()

    status, _ = call(
        att_client, token, "PATCH", f"/api/v1/petitions/{created['id']}",
        {"attachment_ids": [scan], "reason": "citizen brought the signed copy"},
    )  # fmt: skip

    assert status == 200
    assert show(att_client, world.tokens["p01-admin"], scan)[0] == 200


def test_a_handling_step_links_the_files_it_adds(
    att_client: FlaskClient, world: World, sessions: sessionmaker[Session], drain_attachments: Callable[..., None]
) -> None:
    officers(world)
    token = world.tokens["x1-officer"]
    created = call(att_client, token, "POST", "/api/v1/petitions", petition())[1]
    letter = upload(att_client, token, text_pdf(["phieu chuyen"]), "phieu-chuyen.pdf")[1]["id"]
    drain_attachments()
    path = f"/api/v1/petitions/{created['id']}/actions"

    status, problem = call(att_client, token, "POST", path, {"action": "classify", "attachment_ids": ["nope"]})
    assert (status, fields_of(problem)) == (422, {"attachment_ids[0]"})
    assert steps(att_client, token, created["id"]) == ["receive"], "nothing of the refused step is stored"

    status, _ = call(att_client, token, "POST", path, {"action": "classify", "attachment_ids": [letter]})

    assert status == 200
    event = call(att_client, token, "GET", f"/api/v1/petitions/{created['id']}/history")[1]["events"][-1]
    assert (event["action"], event["data"]["attachment_ids"]) == ("classify", [letter])
    assert show(att_client, world.tokens["p01-admin"], letter)[0] == 200


def steps(client: FlaskClient, token: str, petition_id: int) -> list[str]:
    return [e["action"] for e in call(client, token, "GET", f"/api/v1/petitions/{petition_id}/history")[1]["events"]]
