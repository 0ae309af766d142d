"""Attachments: stored once by content, processed by real workers, bundled, served with the sniffed type."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import pypdf
import pytest
import redis
from attachment_files import photo, png, text_pdf
from attachments_support import counts, row, show, stored_files, upload
from flask.testing import FlaskClient
from helpers import World, auth, queued_messages
from PIL import Image
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from kntc.settings import Settings
from models.storage import FileStorage, S3Storage, open_storage


def received_bytes() -> float:
    return REGISTRY.get_sample_value("kntc_attachment_bytes_received_total") or 0.0


def test_same_bytes_get_the_same_id_and_are_stored_once(
    att_client: FlaskClient,
    world: World,
    store: Path,
    sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    drain_attachments: Callable[..., None],
) -> None:
    data = text_pdf(["Don khieu nai so 12", "Trang hai"])
    before = received_bytes()

    status, first = upload(att_client, world.tokens["x1-reporter"], data, "don.pdf", "application/pdf")
    assert status == 202
    assert first["sha256"] == hashlib.sha256(data).hexdigest()
    assert (first["size"], first["status"], first["name"], first["mime"]) == (len(data), "processing", "don.pdf", None)
    again_status, again = upload(att_client, world.tokens["p01-admin"], data, "copy.pdf")
    assert (again_status, again["id"]) == (202, first["id"])

    [stored] = stored_files(store)
    assert stored.name == first["sha256"] and stored.read_bytes() == data
    assert counts(sessions) == {"attachments": 1, "attachment_uploads": 2, "attachment_links": 0, "outbox": 1}
    assert [m.args for m in queued_messages(redis_client, "attachments")] == [(first["id"],)]
    assert received_bytes() - before == 2 * len(data)

    drain_attachments()

    status, shown = show(att_client, world.tokens["x1-reporter"], first["id"])
    assert status == 200
    assert (shown["status"], shown["mime"], shown["pages"], shown["reason"]) == ("ready", "application/pdf", 2, None)
    assert shown["thumbnail"] is True
    assert "Don khieu nai so 12" in (row(sessions, first["id"]).text or "")
    assert counts(sessions)["outbox"] == 0


def test_the_sniffed_type_wins_over_a_lying_content_type_and_name(
    att_client: FlaskClient, world: World, drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    data = png(300, 200)
    status, body = upload(att_client, token, data, "scan.pdf", "application/pdf")
    assert status == 202
    drain_attachments()

    shown = show(att_client, token, body["id"])[1]
    assert (shown["status"], shown["mime"], shown["pages"], shown["width"], shown["height"]) == (
        "ready", "image/png", 1, 300, 200,
    )  # fmt: skip
    with att_client.get(f"/api/v1/attachments/{body['id']}/content", headers=auth(token)) as content:
        assert content.status_code == 200
        assert content.data == data
        assert content.headers["Content-Type"] == "image/png"
        assert content.headers["X-Content-Type-Options"] == "nosniff"
        assert content.headers["Content-Length"] == str(len(data))
    with att_client.get(f"/api/v1/attachments/{body['id']}/thumbnail", headers=auth(token)) as thumbnail:
        assert thumbnail.headers["Content-Type"] == "image/jpeg"
        jpeg = thumbnail.data
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG" and max(image.size) <= 320


def test_exif_orientation_is_applied(
    att_client: FlaskClient, world: World, drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    # Orientation 6: the camera was held upright; the stored pixels lie on their side.
    body = upload(att_client, token, photo(640, 480, orientation=6), "IMG_0001.JPG", "image/jpeg")[1]
    drain_attachments()

    shown = show(att_client, token, body["id"])[1]
    assert (shown["status"], shown["mime"], shown["width"], shown["height"]) == ("ready", "image/jpeg", 480, 640)
    with att_client.get(f"/api/v1/attachments/{body['id']}/thumbnail", headers=auth(token)) as thumbnail:
        jpeg = thumbnail.data
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.height > image.width


def test_phone_photos_become_one_pdf_in_order(
    att_client: FlaskClient, world: World, sessions: sessionmaker[Session], drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    upright = upload(att_client, token, photo(800, 600, orientation=6, seed=1), "p1.jpg")[1]["id"]
    landscape = upload(att_client, token, photo(800, 600, seed=2), "p2.jpg")[1]["id"]
    scan = upload(att_client, token, png(300, 200), "p3.png")[1]["id"]

    # Asked for before the photos are processed: the bundle waits for them.
    response = att_client.post(
        "/api/v1/attachments/bundle", json={"images": [upright, landscape, scan]}, headers=auth(token)
    )
    assert response.status_code == 202
    bundle = response.get_json()
    assert (bundle["kind"], bundle["status"], bundle["sources"]) == ("bundle", "processing", [upright, landscape, scan])
    again = att_client.post(
        "/api/v1/attachments/bundle", json={"images": [upright, landscape, scan]}, headers=auth(token)
    )
    assert again.get_json()["id"] == bundle["id"]
    other_order = att_client.post("/api/v1/attachments/bundle", json={"images": [scan, upright]}, headers=auth(token))
    assert other_order.get_json()["id"] != bundle["id"]

    drain_attachments()

    shown = show(att_client, token, bundle["id"])[1]
    assert (shown["status"], shown["mime"], shown["pages"], shown["thumbnail"]) == ("ready", "application/pdf", 3, True)
    with att_client.get(f"/api/v1/attachments/{bundle['id']}/content", headers=auth(token)) as content:
        assert content.headers["Content-Type"] == "application/pdf"
        pdf = content.data
    assert hashlib.sha256(pdf).hexdigest() == shown["sha256"] and len(pdf) == shown["size"]
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    shapes = ["portrait" if p.mediabox.height > p.mediabox.width else "landscape" for p in pages]
    assert shapes == ["portrait", "landscape", "landscape"]
    # Every page is A4-sized (long side 297 mm = 842 pt), whatever the photo's pixels.
    assert all(abs(max(p.mediabox.width, p.mediabox.height) - 842) < 2 for p in pages)


def test_a_bundle_takes_readable_images_only(
    att_client: FlaskClient, world: World, drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    image = upload(att_client, token, photo(), "p.jpg")[1]["id"]
    document = upload(att_client, token, text_pdf(["x"]), "d.pdf")[1]["id"]
    someone_elses = upload(att_client, world.tokens["p02-admin"], png(10, 10), "q.png")[1]["id"]
    drain_attachments()

    response = att_client.post(
        "/api/v1/attachments/bundle", json={"images": [image, document, someone_elses]}, headers=auth(token)
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert fields == ["images[2]"], "unreadable ids are named first"
    response = att_client.post("/api/v1/attachments/bundle", json={"images": [image, document]}, headers=auth(token))
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["field"] == "images[1]" and "application/pdf, not an image" in error["message"]
    empty = att_client.post("/api/v1/attachments/bundle", json={"images": []}, headers=auth(token))
    assert empty.status_code == 422 and empty.get_json()["errors"][0]["field"] == "images"


def test_upload_problems_are_problem_json_and_store_nothing(
    make_app: Callable[..., object],
    world: World,
    store: Path,
    sessions: sessionmaker[Session],
    share_storage: Callable[..., None],
) -> None:
    app = make_app(storage_url=f"file://{store}", max_attachment_bytes=1000)
    client: FlaskClient = app.test_client()  # type: ignore[attr-defined]
    token = world.tokens["x1-reporter"]

    status, body = upload(client, token, b"\x89PNG" + b"\x00" * 1500, "big.png")
    assert status == 413 and body["errors"][0]["field"] == "file" and "1,000 bytes" in body["detail"]
    # Refused from its Content-Length alone, before the body is read.
    status, body = upload(client, token, b"\x89PNG" + b"\x00" * 100_000, "huge.png")
    assert status == 413 and "1,000 bytes" in body["detail"]
    status, body = upload(client, token, b"", "empty.pdf")
    assert status == 422 and body["errors"] == [
        {"field": "file", "message": "the file is empty; choose the file again"}
    ]
    response = client.post("/api/v1/attachments", json={"file": "x"}, headers=auth(token))
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "file"
    response = client.post(
        "/api/v1/attachments", data={"other": "x"}, headers=auth(token), content_type="multipart/form-data"
    )
    assert response.status_code == 422 and "no part named 'file'" in response.get_json()["detail"]
    response = client.post(
        "/api/v1/attachments",
        data=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
        headers=auth(token),
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 400, "a body cut off mid-part"
    assert upload(client, world.tokens["viewer"], png(), "p.png")[0] == 403
    assert upload(client, None, png(), "p.png")[0] == 401

    assert counts(sessions) == {"attachments": 0, "attachment_uploads": 0, "attachment_links": 0, "outbox": 0}
    assert stored_files(store) == []
    assert stored_files(store, "tmp") == [], "no staging file is left behind"


def test_metrics_have_the_attachments_queue_and_processing_figures(
    att_client: FlaskClient, world: World, drain_attachments: Callable[..., None]
) -> None:
    token = world.tokens["x1-reporter"]
    upload(att_client, token, png(), "a.png")
    text = att_client.get("/metrics").get_data(as_text=True)
    assert 'kntc_queue_depth{queue="attachments"} 1.0' in text

    def processed() -> float:
        return REGISTRY.get_sample_value("kntc_attachment_processing_seconds_count", {"kind": "upload"}) or 0.0

    def rejected(reason: str) -> float:
        return REGISTRY.get_sample_value("kntc_attachments_rejected_total", {"reason": reason}) or 0.0

    before, empty_before = processed(), rejected("empty")
    upload(att_client, token, b"", "empty.pdf")
    drain_attachments()
    assert processed() == before + 1
    assert rejected("empty") == empty_before + 1
    text = att_client.get("/metrics").get_data(as_text=True)
    assert 'kntc_queue_depth{queue="attachments"} 0.0' in text


def test_settings_choose_the_storage(tmp_path: Path) -> None:
    settings = Settings.from_env({"KNTC_DATA_DIR": str(tmp_path), "KNTC_MAX_ATTACHMENT_BYTES": "2000000"})
    assert settings.max_attachment_bytes == 2_000_000
    default = open_storage(settings)
    assert isinstance(default, FileStorage) and default.root == tmp_path / "attachments"
    elsewhere = open_storage(settings.with_changes(storage_url="file:///srv/kntc-files"))
    assert isinstance(elsewhere, FileStorage) and elsewhere.root == Path("/srv/kntc-files")
    s3 = open_storage(Settings.from_env({"KNTC_STORAGE_URL": "s3://kntc-79/attachments/", "KNTC_S3_REGION": "ap-1"}))
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix, s3.settings.s3_region) == (
        "kntc-79", "attachments/", "ap-1",
    )  # fmt: skip
    with pytest.raises(ValueError, match="KNTC_STORAGE_URL must be"):
        open_storage(settings.with_changes(storage_url="ftp://files"))
