"""A submission references uploaded files (the signed paper report): linked, shown, opened to the units above."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attachment_files import text_pdf
from attachments_support import show, upload
from flask.testing import FlaskClient
from helpers import World, auth, submission, submit


def attach(client: FlaskClient, token: str, submission_id: str, ids: list[str]) -> tuple[int, dict[str, Any]]:
    response = client.post(
        f"/api/v1/submissions/{submission_id}/attachments", json={"attachments": ids}, headers=auth(token)
    )
    return response.status_code, response.get_json(silent=True) or {}


def test_a_submission_references_its_signed_copy(
    att_client: FlaskClient, world: World, drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    _, sent, _ = submit(att_client, token, submission())
    scan = upload(att_client, token, text_pdf(["bao cao"]), "bao-cao.pdf")[1]["id"]
    drain_attachments()
    assert show(att_client, world.tokens["p01-admin"], scan)[0] == 404

    assert attach(att_client, token, sent["id"], [scan]) == (200, {"attachments": [scan]})
    assert attach(att_client, token, sent["id"], [scan]) == (200, {"attachments": [scan]}), "linking twice is harmless"

    shown = att_client.get(f"/api/v1/submissions/{sent['id']}", headers=auth(world.tokens["p01-admin"])).get_json()
    assert shown["attachments"] == [scan]
    assert show(att_client, world.tokens["p01-admin"], scan)[0] == 200
    assert show(att_client, world.tokens["p02-admin"], scan)[0] == 404


def test_only_submitting_roles_of_the_subtree_attach_readable_files(
    att_client: FlaskClient, world: World, drain_attachments: Callable[..., None]
) -> None:
    _, sent, _ = submit(att_client, world.tokens["x1-reporter"], submission())
    theirs = upload(att_client, world.tokens["p02-admin"], text_pdf(["khac"]), "khac.pdf")[1]["id"]
    drain_attachments()

    assert attach(att_client, world.tokens["p02-admin"], sent["id"], [theirs])[0] == 403, "outside the subtree"
    assert attach(att_client, world.tokens["viewer"], sent["id"], [theirs])[0] == 403, "viewers read only"
    status, problem = attach(att_client, world.tokens["x1-reporter"], sent["id"], [theirs])
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["attachments[0]"]
    status, problem = attach(att_client, world.tokens["x1-reporter"], sent["id"], [])
    assert status == 422
