"""Receipts: Ed25519 over canonical JSON, verifiable by anyone with the public key, and offline."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask
from flask.testing import FlaskClient
from helpers import BIN, TEST_DATABASE_URL, TEST_REDIS_URL, World, submission, submit

from models.receipts import canonical_json, load_signer, verify


def contract_bytes(fields: dict[str, Any]) -> bytes:
    """The contract's canonical JSON, written out independently of the code under test."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check(receipt: dict[str, Any], public_key_b64: str) -> None:
    body = dict(receipt)
    signature = base64.b64decode(body.pop("signature"), validate=True)
    assert len(signature) == 64
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64)).verify(signature, contract_bytes(body))


@pytest.fixture
def receipt(client: FlaskClient, world: World) -> dict[str, Any]:
    # A period code with Vietnamese letters: they are signed as UTF-8, not as \\u escapes.
    world.period("Quý-IV-2026")
    status, body, _ = submit(client, world.tokens["x1-reporter"], submission(period="Quý-IV-2026", note="ghi chú"))
    assert status == 202
    return body["receipt"]


def test_receipt_verifies_with_the_published_key(client: FlaskClient, receipt: dict[str, Any]) -> None:
    key = client.get("/api/v1/receipts/public-key").get_json()

    assert key["algorithm"] == "Ed25519"
    assert len(base64.b64decode(key["public_key"], validate=True)) == 32
    assert receipt["key_id"] == key["key_id"]
    assert set(receipt) == {
        "submission_id",
        "unit",
        "period",
        "form",
        "version",
        "payload_sha256",
        "received_at",
        "on_time",
        "key_id",
        "signature",
    }
    assert receipt["period"] == "Quý-IV-2026"
    assert dt.datetime.fromisoformat(receipt["received_at"]).utcoffset() is not None
    check(receipt, key["public_key"])


def test_payload_hash_is_of_the_canonical_request(receipt: dict[str, Any]) -> None:
    body = submission(period="Quý-IV-2026", note="ghi chú")
    assert receipt["payload_sha256"] == hashlib.sha256(contract_bytes(body)).hexdigest()


@pytest.mark.parametrize(
    ("field", "value"),
    [("on_time", False), ("received_at", "2020-01-01T00:00:00+00:00"), ("version", 2), ("unit", "P01.X2")],
)
def test_a_tampered_field_fails(client: FlaskClient, receipt: dict[str, Any], field: str, value: Any) -> None:
    key = client.get("/api/v1/receipts/public-key").get_json()
    tampered = {**receipt, field: value}
    with pytest.raises(InvalidSignature):
        check(tampered, key["public_key"])
    assert verify(tampered, base64.b64decode(key["public_key"])) is False
    assert verify(receipt, base64.b64decode(key["public_key"])) is True


def test_canonical_json_keeps_vietnamese_as_utf8() -> None:
    data = {"b": "Hòa Hội", "a": [1, 2]}
    assert canonical_json(data) == '{"a":[1,2],"b":"Hòa Hội"}'.encode()


def test_the_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    first = load_signer(None, tmp_path)
    second = load_signer(None, tmp_path)
    assert first.key_id == second.key_id
    assert (tmp_path / "receipt-signing-key.pem").stat().st_mode & 0o077 == 0


def run_verify(app: Flask, path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "KNTC_DATA_DIR": str(app.extensions["kntc"].settings.data_dir),
    }
    return subprocess.run(
        [str(BIN / "kntc"), "receipts", "verify", str(path)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_verifies_a_receipt_offline(app: Flask, receipt: dict[str, Any], tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(receipt, ensure_ascii=False), encoding="utf-8")
    bad.write_text(json.dumps({**receipt, "on_time": not receipt["on_time"]}), encoding="utf-8")

    valid = run_verify(app, good)
    tampered = run_verify(app, bad)

    assert valid.returncode == 0, valid.stderr
    assert receipt["submission_id"] in valid.stdout
    assert tampered.returncode != 0
    assert tampered.stdout == ""
    assert len(tampered.stderr.strip().splitlines()) == 1
    assert "INVALID" in tampered.stderr
    assert "Traceback" not in tampered.stderr


def test_cli_verifies_with_a_published_key_and_creates_no_key(
    client: FlaskClient, receipt: dict[str, Any], tmp_path: Path
) -> None:
    public_key = client.get("/api/v1/receipts/public-key").get_json()["public_key"]
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt, ensure_ascii=False), encoding="utf-8")
    elsewhere = tmp_path / "another-machine"
    env = {**os.environ, "KNTC_DATA_DIR": str(elsewhere)}
    env.pop("KNTC_SIGNING_KEY", None)

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / "kntc"), "receipts", "verify", str(path), *extra]
        return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)

    without_key = verify()
    with_key = verify("--public-key", public_key)

    assert without_key.returncode != 0
    assert "--public-key" in without_key.stderr
    assert not (elsewhere / "receipt-signing-key.pem").exists()
    assert with_key.returncode == 0, with_key.stderr
