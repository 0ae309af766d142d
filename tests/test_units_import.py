"""Importing the unit tree: NFC names, rows in any order, re-parenting, clear errors."""

from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World, auth
from sqlalchemy.orm import Session, sessionmaker

from models.errors import Invalid
from models.unit_import import import_units, parse_csv
from models.units import Unit

TREE = """code,name,parent_code,level
P01.D1.X1,UBND xã Hòa Hội,P01.D1,commune
P01.D1,UBND huyện Xuyên Mộc,P01,district
VN,Thanh tra Chính phủ,,central
P02,UBND tỉnh Đồng Tháp,VN,province
P01,UBND tỉnh Bà Rịa - Vũng Tàu,VN,province
"""


def tree(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str, str | None]]:
    """code -> (name, path, parent code)."""
    with sessions() as session:
        units = session.scalars(sa.select(Unit)).all()
        by_id = {u.id: u.code for u in units}
        return {u.code: (u.name, u.path, by_id.get(u.parent_id) if u.parent_id else None) for u in units}


def load(sessions: sessionmaker[Session], text: str) -> tuple[int, int]:
    with sessions() as session:
        result = import_units(session, parse_csv(text))
        session.commit()
    return result.created, result.updated


def test_rows_in_any_order_build_the_tree(sessions: sessionmaker[Session]) -> None:
    assert load(sessions, TREE) == (5, 0)
    units = tree(sessions)
    assert units["VN"] == ("Thanh tra Chính phủ", "/VN/", None)
    assert units["P01.D1"][1:] == ("/VN/P01/P01.D1/", "P01")
    assert units["P01.D1.X1"][1:] == ("/VN/P01/P01.D1/P01.D1.X1/", "P01.D1")


def test_decomposed_names_are_stored_composed(
    sessions: sessionmaker[Session], client: FlaskClient, world: World
) -> None:
    composed = "UBND xã Hòa Hội Đông"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    load(sessions, f"code,name,parent_code,level\r\nP01.X7,{decomposed},P01,commune\r\n")

    stored = tree(sessions)["P01.X7"][0]
    assert stored == composed
    assert unicodedata.is_normalized("NFC", stored)
    shown = client.get("/api/v1/units/P01.X7", headers=auth(world.tokens["admin"])).get_json()
    assert shown["name"] == composed


def test_a_byte_order_mark_is_ignored(sessions: sessionmaker[Session]) -> None:
    assert load(sessions, "\ufeff" + TREE) == (5, 0)


def test_reimport_updates_names_and_moves_a_branch(sessions: sessionmaker[Session]) -> None:
    load(sessions, TREE)
    moved = """code,name,parent_code,level
P01.D1,UBND thị xã Xuyên Mộc,P02,town
"""
    assert load(sessions, moved) == (0, 1)

    units = tree(sessions)
    assert units["P01.D1"] == ("UBND thị xã Xuyên Mộc", "/VN/P02/P01.D1/", "P02")
    # The descendants follow their branch.
    assert units["P01.D1.X1"] == ("UBND xã Hòa Hội", "/VN/P02/P01.D1/P01.D1.X1/", "P01.D1")
    assert units["P01"][1] == "/VN/P01/"
    with sessions() as session:
        assert session.scalar(sa.select(Unit.level).where(Unit.code == "P01.D1")) == "town"


def test_a_commune_moves_up_when_its_district_is_abolished(sessions: sessionmaker[Session]) -> None:
    load(sessions, TREE)
    load(sessions, "code,name,parent_code,level,closed_on\nP01.D1.X1,UBND xã Hòa Hội,P01,commune,\n")
    load(sessions, "code,name,parent_code,level,closed_on\nP01.D1,UBND huyện Xuyên Mộc,P01,district,2025-06-30\n")

    units = tree(sessions)
    assert units["P01.D1.X1"][1:] == ("/VN/P01/P01.D1.X1/", "P01")
    with sessions() as session:
        closed = session.scalar(sa.select(Unit.closed_on).where(Unit.code == "P01.D1"))
    assert str(closed) == "2025-06-30"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "code,name,parent_code,level\nVN,Thanh tra,,central\nA,Đơn vị A,B,province\nB,Đơn vị B,A,province\n",
            "line 3: unit A is its own ancestor",
        ),
        ("code,name,parent_code,level\nA,Đơn vị A,A,province\n", "line 2: unit A is its own ancestor"),
        (
            "code,name,parent_code,level\nVN,Thanh tra,,central\nA,Đơn vị A,ZZ,province\n",
            "line 3: parent_code ZZ is neither in the file nor imported before",
        ),
        ("code,name,parent_code,level\nVN,Thanh tra,,central\nVN,Lặp lại,,central\n", "line 3: unit VN appears twice"),
        ("code,name,parent_code,level\nbad code!,Tên,,central\n", "line 2: code 'bad code!'"),
        ("code,name,parent_code,level\nVN,,,central\n", "line 2: unit VN has no name"),
        ("code,name,parent_code,level\nVN,Tên,,\n", "line 2: unit VN has no level"),
        ("code,name,parent_code,level,opened_on\nVN,Tên,,central,31/12/2025\n", "line 2: opened_on '31/12/2025'"),
        ("code,name,level\nVN,Tên,central\n", "missing parent_code"),
    ],
)
def test_bad_files_are_clear_errors_and_change_nothing(
    sessions: sessionmaker[Session], text: str, message: str
) -> None:
    with pytest.raises(Invalid) as raised, sessions() as session:
        import_units(session, parse_csv(text))
    assert message in raised.value.detail
    assert tree(sessions) == {}


def test_a_cycle_through_units_already_imported(sessions: sessionmaker[Session]) -> None:
    load(sessions, TREE)
    before = tree(sessions)
    # P01's parent would become its own grandchild.
    with pytest.raises(Invalid) as raised, sessions() as session:
        import_units(session, parse_csv("code,name,parent_code,level\nP01,Tỉnh,P01.D1.X1,province\n"))
    assert "line 2: unit P01 is its own ancestor" in raised.value.detail
    assert tree(sessions) == before
