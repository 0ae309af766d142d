"""Hostile and broken files: each refused with a clear reason, nothing half-stored, nothing stuck."""

from __future__ import annotations

import datetime as dt
import os
import resource
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from attachment_files import (
    WINDOWS_EXE,
    encrypted_pdf,
    flate_bomb_pdf,
    photo,
    png,
    png_pixel_bomb,
    text_pdf,
    tiff,
    zip_bomb,
)
from attachments_support import counts, row, show, stored_files, upload
from flask.testing import FlaskClient
from helpers import World, auth
from sqlalchemy.orm import Session, sessionmaker

from kntc import broker
from models.attachment_processing import process
from models.attachments import QUEUE
from models.documents import Rejected, analyse
from models.outbox import relay_once
from models.storage import FileStorage, object_key, sweep_staging
from models.submissions import OutboxEntry

HOSTILE: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("windows program", lambda: WINDOWS_EXE, "type", "a Windows program"),
    ("zip bomb", lambda: zip_bomb(100), "type", "a ZIP archive"),
    ("truncated pdf", lambda: text_pdf(["Don khieu nai", "trang 2"])[:-60], "truncated", "the PDF is cut off"),
    ("encrypted pdf", encrypted_pdf, "encrypted", "protected by a password"),
    ("flate bomb pdf", lambda: flate_bomb_pdf(200), "bomb", "expands beyond safe limits"),
    ("pixel bomb png", png_pixel_bomb, "pixels", "too many pixels"),
    ("truncated jpeg", lambda: photo(800, 600)[:4000], "corrupt", "the image cannot be decoded"),
    ("garbage pdf", lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n%%EOF\n", "corrupt", "PDF"),
    ("html", lambda: b"<html><body>don</body></html>", "type", "plain text or HTML"),
    ("heic photo", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "type", "HEIC"),
]


def test_every_hostile_file_is_rejected_by_the_workers_with_its_reason(
    att_client: FlaskClient, world: World, sessions: sessionmaker[Session], drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    ids = {}
    for name, make, _, _ in HOSTILE:
        status, body = upload(att_client, token, make(), f"{name}.pdf", "application/pdf")
        assert status == 202, name
        ids[name] = body["id"]

    drain_attachments()

    for name, _, code, words in HOSTILE:
        shown = show(att_client, token, ids[name])[1]
        assert (shown["status"], shown["reason_code"]) == ("rejected", code), (name, shown["reason"])
        assert words in shown["reason"], (name, shown["reason"])
        content = att_client.get(f"/api/v1/attachments/{ids[name]}/content", headers=auth(token))
        assert content.status_code == 409 and "was rejected" in content.get_json()["detail"]
    assert counts(sessions)["outbox"] == 0, "a rejection is a decision: nothing is owed any more"
    assert all(row(sessions, i).processed_at is not None for i in ids.values())


def test_a_flate_bomb_is_stopped_within_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pdf"
    path.write_bytes(flate_bomb_pdf(400))  # 400 MB of spaces behind ~400 KB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(Rejected) as rejected:
        analyse(path, max_pixels=100_000_000)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert rejected.value.code == "bomb"
    assert grown_mb < 150, f"peak memory grew {grown_mb:.0f} MB for a 400 MB bomb"


def test_good_files_of_every_accepted_type_are_ready(tmp_path: Path) -> None:
    cases = {"pdf": text_pdf(["Don so 1", "Don so 2", "Don so 3"]), "jpeg": photo(), "png": png(), "tiff": tiff(3)}
    found = {}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        findings = analyse(path, max_pixels=100_000_000)
        found[name] = (findings.mime, findings.pages, findings.thumbnail is not None)
    assert found == {
        "pdf": ("application/pdf", 3, True),
        "jpeg": ("image/jpeg", 1, True),
        "png": ("image/png", 1, True),
        "tiff": ("image/tiff", 3, True),
    }


def test_a_path_traversal_name_is_a_label_never_a_path(
    att_client: FlaskClient, world: World, store: Path, tmp_path: Path, drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    status, body = upload(att_client, token, png(), "../../etc/passwd", "image/png")
    assert (status, body["name"]) == (202, "passwd")
    weird = upload(att_client, token, photo(), "..\\..\\Windows\\đơn\x00 khiếu nại.jpg", "image/jpeg")[1]
    # (The multipart header quoting may eat the backslashes; either way no separator survives.)
    assert weird["name"].endswith("đơn khiếu nại.jpg")
    assert not any(bad in weird["name"] for bad in ("/", "\\", "..", "\x00"))
    dots = upload(att_client, token, text_pdf(["x"]), "..", "application/pdf")[1]
    assert dots["name"] == "attachment"

    # Only content-addressed names exist under the store; nothing was written elsewhere.
    assert {p.name for p in stored_files(store)} == {body["sha256"], weird["sha256"], dots["sha256"]}
    assert not (tmp_path / "etc").exists() and not (store.parent / "etc").exists()
    drain_attachments()
    with att_client.get(f"/api/v1/attachments/{body['id']}/content", headers=auth(token)) as content:
        assert content.headers["Content-Disposition"] == "inline; filename=\"passwd\"; filename*=UTF-8''passwd"
    with att_client.get(f"/api/v1/attachments/{weird['id']}/content", headers=auth(token)) as content:
        assert content.headers["Content-Disposition"].endswith("%C4%91%C6%A1n%20khi%E1%BA%BFu%20n%E1%BA%A1i.jpg")


class Dying(FileStorage):
    """A storage whose thumbnail write fails: the worker 'dies' after parsing, before deciding."""

    def put_bytes(self, key: str, data: bytes) -> None:
        raise SystemExit("worker killed mid-processing")


def test_a_worker_dying_mid_processing_leaves_the_attachment_to_be_processed_again(
    att_client: FlaskClient,
    world: World,
    store: Path,
    sessions: sessionmaker[Session],
    runtime: Any,
    redis_client: Any,
    drain_attachments: Callable[..., None],
) -> None:
    token = world.tokens["x1-reporter"]
    attachment_id = upload(att_client, token, photo(), "p.jpg")[1]["id"]
    redis_client.flushdb()  # the message after the commit is lost as well

    with pytest.raises(SystemExit):
        process(sessions, Dying(store), uuid.UUID(attachment_id), 100_000_000)
    assert row(sessions, attachment_id).status == "processing"
    assert counts(sessions)["outbox"] == 1

    # The relay finds what is still owed and sends it again; a healthy worker finishes it.
    with sessions() as session:
        resent = relay_once(session, broker.send, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5), dt.timedelta(0))
    assert resent == 1
    drain_attachments()
    assert row(sessions, attachment_id).status == "ready"
    assert counts(sessions)["outbox"] == 0

    # Processing again changes nothing (a message delivered twice).
    before = row(sessions, attachment_id)
    outcome = process(sessions, FileStorage(store), uuid.UUID(attachment_id), 100_000_000)
    after = row(sessions, attachment_id)
    assert outcome.status == "duplicate"
    assert (after.status, after.processed_at, after.width) == (before.status, before.processed_at, before.width)


def test_staging_files_left_by_a_crash_are_swept(tmp_path: Path) -> None:
    staging = tmp_path / "tmp"
    staging.mkdir()
    dead, live = staging / "upload-dead.part", staging / "upload-live.part"
    dead.write_bytes(b"half an upload")
    live.write_bytes(b"being written")
    day_ago = time.time() - 2 * 86_400
    os.utime(dead, (day_ago, day_ago))
    assert sweep_staging(staging) == 1
    assert list(staging.iterdir()) == [live]


def test_the_bytes_are_stored_before_the_202_and_the_row_owes_its_processing(
    att_client: FlaskClient, world: World, store: Path, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    body = upload(att_client, token, png(), "p.png")[1]
    stored = store / object_key(body["sha256"])
    assert stored.is_file(), "the object exists once the 202 is sent"
    with sessions() as session:
        entry = session.scalar(sa.select(OutboxEntry).where(OutboxEntry.queue == QUEUE))
        assert entry is not None and entry.resource_id == body["id"]
    assert stored_files(store, "tmp") == []
