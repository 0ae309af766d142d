"""Report files live in the storage (``reports/<id>/...``), so the web serves what a worker on
another host wrote: the file backend's delete, and the whole flow on an S3-compatible server."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from helpers import World, auth
from reports_helpers import app_storage, body, drain_reports, post_request, seed_receptions
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.form_export import TOTAL_LABEL
from models.report_requests import ReportRequest, report_key, sweep_expired
from models.storage import FileStorage, S3Storage


def test_the_file_storage_deletes_a_key_and_the_folder_it_empties(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "store")
    storage.put_bytes("reports/a/report.csv", b"1,2\n")
    storage.put_bytes("reports/a/result.json", b"{}")

    storage.delete("reports/a/report.csv")
    assert not storage.exists("reports/a/report.csv")
    assert storage.exists("reports/a/result.json"), "a folder with files left stays"
    storage.delete("reports/a/report.csv")  # absent: nothing happens

    storage.delete("reports/a/result.json")
    assert not (tmp_path / "store" / "reports" / "a").exists()
    assert (tmp_path / "store" / "reports").is_dir()


def test_a_report_is_written_served_and_swept_through_an_s3_bucket(
    make_app: Callable[..., Flask],
    share_storage: Callable[..., None],
    world: World,
    sessions: sessionmaker[Session],
    s3_server: str,
    workers_running: Callable[..., Any],
    tmp_path: Path,
) -> None:
    import boto3

    s3: Any = boto3.client(
        "s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    s3.create_bucket(Bucket="kntc-files")
    storage = {
        "storage_url": "s3://kntc-files/province-79",
        "s3_endpoint_url": s3_server,
        "s3_access_key_id": "k",
        "s3_secret_access_key": "s",
    }
    app = make_app(**storage)
    client = app.test_client()
    share_storage(**storage)
    token = world.tokens["p01-admin"]
    seed_receptions(client, world)
    rid = body(post_request(client, token))["id"]

    drain_reports(workers_running)

    def report_keys() -> set[str]:
        listed = s3.list_objects_v2(Bucket="kntc-files", Prefix="province-79/reports/")
        return {o["Key"] for o in listed.get("Contents", [])}

    assert report_keys() == {
        f"province-79/reports/{rid}/{name}" for name in ("report.xlsx", "report.csv", "result.json")
    }
    assert not list(tmp_path.rglob("report.xlsx")), "nothing on the local disk: another pod could not see it"
    shown = body(client.get(f"/api/v1/report-requests/{rid}", headers=auth(token)))
    assert (shown["status"], shown["result"]["columns"]["1"]) == ("done", 3)
    csv_response = client.get(shown["files"]["csv"], headers=auth(token))
    assert csv_response.status_code == 200
    assert csv_response.get_data(as_text=True).splitlines()[-1].startswith(f",{TOTAL_LABEL},3,10,")
    xlsx = client.get(shown["files"]["xlsx"], headers=auth(token))
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")

    with sessions() as session:
        session.get_one(ReportRequest, uuid.UUID(rid)).expires_at = utcnow() - dt.timedelta(seconds=1)
        session.commit()
        bucket = app_storage(app)
        assert isinstance(bucket, S3Storage)
        assert sweep_expired(session, bucket, utcnow()) == 1
    assert report_keys() == set()
    assert client.get(shown["files"]["csv"], headers=auth(token)).status_code == 410
    bucket.delete(report_key(uuid.UUID(rid), "result.json"))  # absent: S3 says 204, nothing raised
