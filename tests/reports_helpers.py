"""Records, requests and worker settings shared by the report-request, prefill and reconciliation tests."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from helpers import World, auth
from record_factories import reception as reception_body

from models.forms import FormVersion, catalogue
from models.report_requests import report_key
from models.storage import FileStorage, Storage


def day(days_ago: int = 10) -> str:
    """A day inside the world's period (it ends today and began 90 days ago)."""
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)).isoformat()


def tcd() -> FormVersion:
    form = catalogue().in_effect("01/TCD", dt.datetime.now(dt.UTC).date())
    assert form is not None
    return form


def reception(client: FlaskClient, token: str, unit: str, **changes: Any) -> int:
    """Record a reception (final, regular, one person, a new case unless given); returns its id."""
    body = reception_body(unit, **{"received_on": day(), **changes})
    response = client.post("/api/v1/receptions", json=body, headers=auth(token))
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.get_json()["id"])


def seed_receptions(client: FlaskClient, world: World) -> None:
    """X1: two regular turns (1 and 3 people, two new cases); X2: one crowd group of 6; X2 also a draft.

    Hand-computed 01/TCD for P01: col 1 (turns) 3 = X1 2 + X2 1; col 2 (people) 10 = 4 + 6;
    col 4/5 (regular turns/people) the same; col 8/9 (of which crowd groups: groups/people) 1/6 at X2.
    """
    token = world.tokens["p01-admin"]
    reception(client, token, "P01.X1", people=1)
    reception(client, token, "P01.X1", people=3)
    reception(client, token, "P01.X2", people=6, crowd_group=True)
    reception(client, token, "P01.X2", people=40, status="draft")


def post_request(client: FlaskClient, token: str, form: str = "01/TCD", unit: str = "P01", **extra: Any) -> Any:
    body = {"form": form, "period": "2026-Q4", "unit": unit, **extra}
    return client.post("/api/v1/report-requests", json=body, headers=auth(token))


def body(response: Any) -> Any:
    return json.loads(response.data) if response.data else None


def app_data_dir(app: Flask) -> Any:
    return app.extensions["kntc"].settings.data_dir


def app_storage(app: Flask) -> Storage:
    """The storage the app serves report files from (the workers write there too)."""
    storage: Storage = app.extensions["kntc"].storage
    return storage


def stored_report_file(app: Flask, request_id: uuid.UUID, name: str) -> Path:
    """Where the file backend keeps one of a request's files (``<root>/reports/<id>/<name>``)."""
    storage = app_storage(app)
    assert isinstance(storage, FileStorage), storage
    return storage.root / report_key(request_id, name)


@contextmanager
def worker_settings(runtime: Any, app: Flask, **changes: Any) -> Iterator[None]:
    """The workers write where this app reads (its data dir), with these settings changed."""
    saved = runtime.settings
    runtime.settings = saved.with_changes(data_dir=app_data_dir(app), **changes)
    try:
        yield
    finally:
        runtime.settings = saved


def drain_reports(workers_running: Callable[..., Any], threads: int = 2, timeout_s: float = 60) -> None:
    import workers

    with workers_running(threads):
        workers.broker.join("reports", timeout=int(timeout_s * 1000))
