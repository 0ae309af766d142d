"""Who may read an attachment: its uploaders, and accounts above a unit of a record that references it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from attachment_files import photo, png, text_pdf
from attachments_support import counts, show, upload
from flask.testing import FlaskClient
from helpers import World, auth
from sqlalchemy.orm import Session, sessionmaker

from models.attachments import AttachmentLink, link, linked_to
from models.auth import Principal, principal_for_token
from models.errors import Invalid


def principal(sessions: sessionmaker[Session], token: str) -> Principal:
    with sessions() as session:
        who = principal_for_token(session, token)
    assert who is not None
    return who


def can_get(client: FlaskClient, token: str, attachment_id: str) -> int:
    status = show(client, token, attachment_id)[0]
    with client.get(f"/api/v1/attachments/{attachment_id}/content", headers=auth(token)) as content:
        assert (content.status_code == 200) == (status == 200), "the bytes follow the same rule as the record"
    return status


def test_readable_by_uploaders_and_above_the_units_of_referencing_records(
    att_client: FlaskClient, world: World, sessions: sessionmaker[Session], drain_attachments: Callable[..., None]
) -> None:
    world.account("x2-officer", "P01.X2", "officer")
    attachment_id = upload(att_client, world.tokens["x1-reporter"], text_pdf(["don"]), "don.pdf")[1]["id"]
    drain_attachments()

    assert can_get(att_client, world.tokens["x1-reporter"], attachment_id) == 200
    # Not yet referenced by any record: nobody else sees it, not even the province above.
    for other in ("p01-admin", "admin", "p02-admin", "x2-officer"):
        assert can_get(att_client, world.tokens[other], attachment_id) == 404, other
    # Absent and forbidden look the same, so ids cannot be probed.
    missing = show(att_client, world.tokens["p02-admin"], str(uuid.uuid4()))
    forbidden = show(att_client, world.tokens["p02-admin"], attachment_id)
    assert missing[0] == forbidden[0] == 404
    assert show(att_client, world.tokens["p02-admin"], "../../etc/passwd")[0] == 404

    with sessions() as session:
        linked = link(
            session, [attachment_id], "petition", "petition-1", world.unit_id("P01.X1"),
            principal(sessions, world.tokens["x1-reporter"]),
        )  # fmt: skip
        session.commit()
    assert linked == [uuid.UUID(attachment_id)]

    for reader in ("x1-reporter", "x1-admin", "p01-admin", "admin", "viewer"):
        assert can_get(att_client, world.tokens[reader], attachment_id) == 200, reader
    for outsider in ("p02-admin", "x2-officer"):
        assert can_get(att_client, world.tokens[outsider], attachment_id) == 404, outsider


def test_the_same_file_reused_at_every_step_is_stored_once_and_linked_to_each(
    att_client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    who = principal(sessions, world.tokens["x1-reporter"])
    attachment_id = upload(att_client, world.tokens["x1-reporter"], photo(), "to-trinh.jpg")[1]["id"]
    unit = world.unit_id("P01.X1")
    with sessions() as session:
        for kind, subject in (("petition", "p-7"), ("workflow_step", "p-7/1"), ("workflow_step", "p-7/2")):
            link(session, [attachment_id], kind, subject, unit, who)
        link(session, [attachment_id], "petition", "p-7", unit, who)  # again: harmless
        session.commit()
        assert [str(a.id) for a in linked_to(session, "workflow_step", "p-7/2")] == [attachment_id]
    assert counts(sessions) == {"attachments": 1, "attachment_uploads": 1, "attachment_links": 3, "outbox": 1}


def test_link_names_every_id_that_cannot_be_used_and_links_none(
    att_client: FlaskClient, world: World, sessions: sessionmaker[Session], drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    good = upload(att_client, token, png(), "ok.png")[1]["id"]
    rejected = upload(att_client, token, b"MZ" + b"\x00" * 100, "virus.exe")[1]["id"]
    someone_elses = upload(att_client, world.tokens["p02-admin"], photo(seed=9), "q.jpg")[1]["id"]
    drain_attachments()
    who = principal(sessions, token)

    with sessions() as session, pytest.raises(Invalid) as invalid:
        link(
            session, [good, str(uuid.uuid4()), "not-an-id", someone_elses, rejected], "submission", "s-1",
            world.unit_id("P01.X1"), who,
        )  # fmt: skip
    errors = invalid.value.errors
    assert [e["field"] for e in errors] == [f"attachments[{i}]" for i in (1, 2, 3, 4)]
    assert "not-an-id" in errors[1]["message"] and someone_elses in errors[2]["message"]
    assert "was rejected" in errors[3]["message"] and "Windows program" in errors[3]["message"]
    assert invalid.value.status == 422
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AttachmentLink)) == 0
        with pytest.raises(ValueError, match="subject_kind"):
            link(session, [good], "report", "r-1", world.unit_id("P01.X1"), who)
