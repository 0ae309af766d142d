"""The ``kntc`` command, run as a person runs it: help, one-line tokens, one-line errors."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import BIN, TEST_DATABASE_URL, TEST_REDIS_URL, UNITS_CSV, World, auth, submission, submit
from sqlalchemy.orm import Session, sessionmaker

from models.accounts import Account
from models.periods import Period
from models.units import Unit


def kntc(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "KNTC_DATA_DIR": os.environ["KNTC_DATA_DIR"],
        **env,
    }
    return subprocess.run(
        [str(BIN / "kntc"), *args],
        input=stdin,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kntc: ")
    for word in words:
        assert word in lines[0]


COMMANDS = [
    [],
    ["db"],
    ["db", "upgrade"],
    ["units"],
    ["units", "import"],
    ["accounts"],
    ["accounts", "create"],
    ["periods"],
    ["periods", "create"],
    ["receipts"],
    ["receipts", "verify"],
    ["demo"],
]


def test_every_command_has_help() -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda command: kntc(*command, "--help"), COMMANDS))
    for command, result in zip(COMMANDS, results, strict=True):
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.startswith("usage: kntc"), command
        assert result.stderr == ""
    assert "--token" in results[COMMANDS.index(["accounts", "create"])].stdout
    assert "--due-for" in results[COMMANDS.index(["periods", "create"])].stdout


def test_set_up_a_system_from_the_command_line(
    database: sa.Engine, sessions: sessionmaker[Session], client: FlaskClient, tmp_path: Path
) -> None:
    csv = tmp_path / "units.csv"
    csv.write_text(UNITS_CSV, encoding="utf-8")

    upgraded = kntc("db", "upgrade")
    imported = kntc("units", "import", str(csv))
    created = kntc(
        "accounts", "create", "--username", "cli-reporter", "--unit", "P01.X1", "--role", "reporter", "--token"
    )
    with_password = kntc(
        "accounts", "create", "--username", "cli-admin", "--unit", "VN", "--role", "admin", "--password-stdin",
        stdin="mật-khẩu-dài\n",
    )  # fmt: skip
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat(timespec="seconds")
    today = dt.datetime.now(dt.UTC).date()
    period = kntc(
        "periods", "create", "--code", "2026-Q4", "--starts", str(today - dt.timedelta(days=90)), "--ends", str(today),
        "--due", due, "--due-for", "commune=2030-01-16T17:00", "--grace", "48h", "--forms", "01/TCD",
    )  # fmt: skip

    for result in (upgraded, imported, created, with_password, period):
        assert result.returncode == 0, result.stderr
    assert "6 units" in imported.stdout
    token_lines = created.stdout.splitlines()
    assert len(token_lines) == 1
    assert created.stdout == token_lines[0] + "\n"
    token = token_lines[0]
    assert len(token) >= 40
    assert " " not in token

    with sessions() as session:
        assert session.scalar(sa.select(Unit.name).where(Unit.code == "P01.X1")) == "UBND xã Hòa Hội"
        assert session.scalar(sa.select(Account.role).where(Account.username == "cli-admin")) == "admin"
        stored = session.scalar(sa.select(Period).where(Period.code == "2026-Q4"))
        assert stored is not None
        assert stored.grace_seconds == 48 * 3600
        assert stored.forms == ["01/TCD"]
        assert [(d.level, d.due_at) for d in stored.dues] == [
            ("commune", dt.datetime(2030, 1, 16, 10, 0, tzinfo=dt.UTC))
        ]

    # The printed token and the password work against the API.
    assert client.get("/api/v1/units/P01.X1", headers=auth(token)).status_code == 200
    assert submit(client, token, submission())[0] == 202
    login = client.post("/api/v1/auth/login", json={"username": "cli-admin", "password": "mật-khẩu-dài"})
    assert login.status_code == 200


@pytest.fixture
def cli_world(world: World, tmp_path: Path) -> dict[str, Path]:
    files = {
        "cycle": "code,name,parent_code,level\nA,Đơn vị A,B,province\nB,Đơn vị B,A,province\n",
        "unknown_parent": "code,name,parent_code,level\nA,Đơn vị A,ZZ,province\n",
        "not_json": "{not json",
        "not_object": "[1, 2]",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.txt"
        paths[name].write_text(text, encoding="utf-8")
    paths["not_utf8"] = tmp_path / "latin1.csv"
    paths["not_utf8"].write_bytes("code,name,parent_code,level\nA,Hòa,,central\n".encode("latin-1"))
    return paths


def test_errors_are_one_line_on_stderr(cli_world: dict[str, Path], sessions: sessionmaker[Session]) -> None:
    period = ["periods", "create", "--code", "2026-Q4", "--starts", "2026-09-15", "--ends", "2026-12-14"]
    new = ["periods", "create", "--code", "NEW", "--starts", "2026-09-15", "--ends", "2026-12-14"]
    due = ["--due", "2026-12-16T17:00"]
    cases: list[tuple[list[str], tuple[str, ...]]] = [
        (["accounts", "create", "--username", "u", "--unit", "NOPE", "--role", "reporter"], ("NOPE",)),
        (["accounts", "create", "--username", "u", "--unit", "VN", "--role", "boss"], ("boss", "reporter")),
        (["accounts", "create", "--username", "admin", "--unit", "VN", "--role", "admin"], ("admin", "exists")),
        (["accounts", "create", "--username", "u", "--unit", "VN", "--role", "admin", "--password-stdin"], ("stdin",)),
        ([*period, *due], ("2026-Q4", "exists")),
        (["periods", "create", "--code", "NEW"], ("--starts", "--ends", "--due")),
        ([*new[:4], "--starts", "15/09/2026", "--ends", "2026-12-14", *due], ("--starts", "15/09/2026")),
        ([*new, "--due", "soon"], ("soon",)),
        ([*new, *due, "--grace", "2 days"], ("grace",)),
        ([*new, *due, "--due-for", "commune"], ("--due-for",)),
        ([*new, *due, "--forms", "99/XYZ"], ("99/XYZ",)),
        (["units", "import", "/nonexistent/units.csv"], ("/nonexistent/units.csv",)),
        (["units", "import", str(cli_world["cycle"])], ("line 2", "own ancestor")),
        (["units", "import", str(cli_world["unknown_parent"])], ("line 2", "ZZ")),
        (["units", "import", str(cli_world["not_utf8"])], ("UTF-8",)),
        (["receipts", "verify", str(cli_world["not_json"])], ("JSON",)),
        (["receipts", "verify", str(cli_world["not_object"])], ("not a receipt",)),
        (["receipts", "verify", "/nonexistent/receipt.json"], ("/nonexistent/receipt.json",)),
    ]  # fmt: skip
    with sessions() as session:
        units_before = session.scalar(sa.select(sa.func.count()).select_from(Unit))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: kntc(*case[0]), cases))

    for (args, words), result in zip(cases, results, strict=True):
        assert_one_line_error(result, *words)
        assert result.stdout == "", args
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Unit)) == units_before
        assert session.scalar(sa.select(sa.func.count()).select_from(Account).where(Account.username == "u")) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(Period).where(Period.code == "NEW")) == 0


def test_an_unreachable_database_is_one_line() -> None:
    result = kntc("db", "upgrade", DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    assert_one_line_error(result)


def test_a_bad_setting_is_one_line() -> None:
    result = kntc("db", "upgrade", KNTC_MAX_BODY_BYTES="lots")
    assert_one_line_error(result, "KNTC_MAX_BODY_BYTES", "lots")


def test_usage_errors_are_one_line_too() -> None:
    cases = [
        (["accounts", "create", "--unit", "VN"], "kntc accounts create: the following arguments are required"),
        (["no-such-command"], "kntc: argument COMMAND: invalid choice: 'no-such-command'"),
        (["units", "import"], "kntc units import: the following arguments are required: FILE.csv"),
        (["periods"], "kntc periods: the following arguments are required: ACTION"),
    ]
    for args, message in cases:
        result = kntc(*args)
        assert result.returncode == 2
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith(message), line
        assert line.endswith("--help")
