"""Records benchmark: usage statistics, duplicate suggestions and list pages at national scale.

    .venv/bin/python bench/records.py [--doublings 3] [--samples 50]

It recreates the database ``kntc_bench_records`` (migrated, the national tree, the demo's
records: a few receptions and petitions per commune), doubles the records ``--doublings``
times (3: about 100k petitions, a quarter's worth nationally), runs ANALYZE, then times:

- ``GET /api/v1/usage`` for the whole country and for the largest province (the two
  grouped queries of ``models.usage``);
- duplicate suggestions for ``--samples`` petitions, as the root sees them (pg_trgm);
- the first page (100 rows) of a province's petitions, newest first.

Printed: median and p95 in milliseconds. Nothing is asserted: the figures go in the README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable

import psycopg
import sqlalchemy as sa

from kntc.demo_records import Window, seed_records
from kntc.migrate import upgrade
from kntc.nation import national_rows
from kntc.settings import Settings
from models.db import make_engine, make_sessionmaker
from models.duplicates import suggestions
from models.record_queries import RecordFilters, page, petition_query
from models.records import Petition, Reception
from models.unit_import import import_units
from models.units import Unit
from models.usage import usage

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "kntc_bench_records"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
WINDOW = Window(dt.date(2026, 9, 15), dt.date(2026, 11, 28))


def recreate() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    upgrade(Settings(database_url=URL))


def double(engine: sa.Engine, model: type[Reception] | type[Petition]) -> None:
    """Insert a copy of every row (new ids), so the table doubles."""
    columns = [c.name for c in model.__table__.columns if c.name not in ("id", "reception_id", "duplicate_of")]
    names = ", ".join(columns)
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {model.__tablename__} ({names}) SELECT {names} FROM {model.__tablename__}"))


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(name: str, times: list[float]) -> None:
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)
    print(f"{name:<44} median {statistics.median(times):8.1f} ms   p95 {p95:8.1f} ms   (n={len(times)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doublings", type=int, default=3)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    recreate()
    engine = make_engine(URL)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        import_units(session, national_rows())
        seed_records(session, WINDOW)
        session.commit()
    for _ in range(args.doublings):
        double(engine, Reception)
        double(engine, Petition)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        counts = {
            m.__tablename__: conn.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Reception, Petition)
        }
    print(f"records: {counts['receptions']:,} receptions, {counts['petitions']:,} petitions")
    with sessions() as session:
        root = session.scalars(sa.select(Unit).where(Unit.code == "VN")).one()
        province = session.scalars(sa.select(Unit).where(Unit.code == "79")).one()
        since = WINDOW.starts
        report("usage, whole country (4,039 units)", timed(lambda: usage(session, root, since), 5))
        report("usage, province 79", timed(lambda: usage(session, province, since), 10))
        sample = list(session.scalars(sa.select(Petition).order_by(sa.func.random()).limit(args.samples)))
        times = []
        for pet in sample:
            times += timed(lambda pet=pet: suggestions(session, pet, root.path), 1)
        report("duplicate suggestions, seen from the root", times)
        filters = RecordFilters(unit_path=province.path)
        report("petitions of province 79, first page of 100",
               timed(lambda: page(session, petition_query(filters), Petition, 100, None), 10))  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
