"""Fixtures and helpers of the attachment tests (imported by the test_attachments* modules)."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import BIN, auth, free_port, running, wait_until
from sqlalchemy.orm import Session, sessionmaker

from models.attachments import Attachment, AttachmentLink, AttachmentUpload
from models.submissions import OutboxEntry


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[str]:
    """A real S3-compatible HTTP server (moto's) on a free port; its endpoint URL (attachments and reports)."""
    from conftest import _service_down  # imported here: conftest loads this module as a plugin

    port = free_port()
    log = tmp_path / "moto.log"
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with running([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], dict(os.environ), log) as proc:
            try:
                wait_until(lambda: _answers(endpoint), 30, "the S3 server answers", proc)
            except AssertionError as error:
                _service_down(f"moto_server ({log.read_text(errors='replace')[-500:]})", error)
            yield endpoint
    except FileNotFoundError as error:
        _service_down("moto_server (pip install moto[server])", error)


def _answers(endpoint: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(endpoint + "/", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def share_storage(runtime: Any) -> Iterator[Callable[..., None]]:
    """Give the in-process workers the same storage settings as the app under test."""
    from workers.context import Runtime, install

    def share(**changes: Any) -> None:
        install(Runtime(runtime.settings.with_changes(**changes), runtime.engine, runtime.sessions, runtime.forms))

    yield share
    install(runtime)


@pytest.fixture
def att_app(make_app: Callable[..., Flask], store: Path, share_storage: Callable[..., None]) -> Flask:
    app = make_app(storage_url=f"file://{store}")
    share_storage(storage_url=f"file://{store}")
    return app


@pytest.fixture
def att_client(att_app: Flask) -> FlaskClient:
    return att_app.test_client()


@pytest.fixture
def drain_attachments(workers_running: Callable[..., Any]) -> Callable[..., None]:
    """Run real dramatiq workers (Redis broker) until the attachments queue is empty."""
    import workers

    def run(timeout_s: float = 60) -> None:
        with workers_running(threads=2):
            workers.broker.join("attachments", timeout=int(timeout_s * 1000))

    return run


def upload(
    client: FlaskClient,
    token: str | None,
    data: bytes,
    filename: str = "scan.bin",
    content_type: str = "application/octet-stream",
) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(data), filename, content_type)},
        headers=auth(token),
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_json(silent=True) or {}


def show(client: FlaskClient, token: str, attachment_id: str) -> tuple[int, dict[str, Any]]:
    response = client.get(f"/api/v1/attachments/{attachment_id}", headers=auth(token))
    return response.status_code, response.get_json(silent=True) or {}


def row(sessions: sessionmaker[Session], attachment_id: str) -> Attachment:
    with sessions() as session:
        return session.get_one(Attachment, uuid.UUID(attachment_id))


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            model.__tablename__: int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
            for model in (Attachment, AttachmentUpload, AttachmentLink, OutboxEntry)
        }


def stored_files(root: Path, under: str = "objects") -> list[Path]:
    return sorted(p for p in (root / under).rglob("*") if p.is_file()) if (root / under).exists() else []
