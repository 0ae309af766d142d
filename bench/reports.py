"""Forms benchmark: official forms computed from a national volume of records.

    .venv/bin/python bench/reports.py [--rebuild] [--scale 1] [--runs 5] [--province 01]
                                      [--forms 01/TCD,01/XLD | all] [--explain]

The database ``kntc_bench_reports`` is kept between runs: the first run (or
``--rebuild``, or a run whose ``--scale`` differs from the stored data) creates it,
migrates it, imports the demo's national tree (``kntc.nation``) and loads 1,000,000
receptions and 500,000 petitions with their handling rows and event histories
(``bench/reports_data.py``, COPY; about a minute and a half). Every run migrates it to
head first, so indexes added by a new migration are there, then runs ANALYZE.

Timed: ``models.form_sql.compute_form`` for the whole country (root ``VN``) and for one
province, for a month and for a year of data, ``--runs`` times each (after one warm-up
run). Printed: median and max in milliseconds against the targets (<= 1 s national,
<= 0.1 s a province); a computation that hits the engine's statement timeout (30 s) is
printed as such. ``--explain`` prints EXPLAIN ANALYZE of each query of a form that misses
its target for the month. Nothing is asserted: the figures go in the README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports_data import LAST_DAY, TABLES, BenchUnit, Generator

from kntc.migrate import upgrade
from kntc.nation import national_rows
from kntc.settings import Settings
from models.db import make_engine, make_sessionmaker
from models.forms import FormVersion, catalogue
from models.periods import Period
from models.unit_import import import_units
from models.units import Unit

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "kntc_bench_reports"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
RAW_URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"
GENERATOR = "bench/reports_data.py v4"
TARGETS_MS = {"national": 1000.0, "province": 100.0}
EXPLAIN_TIMEOUT_MS = 180_000
PERIODS = (
    Period(code="2026-11", starts_on=dt.date(2026, 10, 15), ends_on=LAST_DAY),
    Period(code="2026-Q3", starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 9, 14)),
    Period(code="2026", starts_on=dt.date(2025, 12, 15), ends_on=LAST_DAY),
)


def stored_marker() -> str | None:
    """The generator and scale of the data in the database (None: no database)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (DB,)
        ).fetchone()
    return None if row is None else (row[0] or "")


def marker(scale: float) -> str:
    return f"{GENERATOR} scale={scale}"


def recreate() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")


def build(scale: float) -> None:
    """A new database with the national tree and the generated records."""
    started = time.perf_counter()
    recreate()
    upgrade(Settings(database_url=URL))
    engine = make_engine(URL)
    with make_sessionmaker(engine)() as session:
        import_units(session, national_rows())
        session.commit()
        units = [
            BenchUnit(id_, level)
            for id_, level in session.execute(sa.select(Unit.id, Unit.level).where(Unit.parent_id.is_not(None)))
        ]
    engine.dispose()
    with psycopg.connect(RAW_URL) as conn:
        indexes = drop_indexes(conn)
        conn.execute("SET session_replication_role = replica")  # no foreign-key triggers during the load
        counts = Generator(conn, sorted(units, key=lambda u: u.id), scale).run()
        conn.execute("SET session_replication_role = DEFAULT")
        for table in TABLES:
            if table != "petition_handling":
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        loaded = time.perf_counter() - started
        conn.execute("SET maintenance_work_mem = '512MB'")
        for definition in indexes:
            conn.execute(definition)
        conn.commit()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"COMMENT ON DATABASE {DB} IS '{marker(scale)}'")
    print("built: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()), end="")
    print(f" (loaded in {loaded:.0f} s, indexed in {time.perf_counter() - started - loaded:.0f} s)")


def drop_indexes(conn: psycopg.Connection) -> list[str]:
    """Drop the secondary indexes of the loaded tables; their definitions, to rebuild them."""
    rows = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        (list(TABLES),),
    ).fetchall()
    for name, _ in rows:
        conn.execute(f"DROP INDEX {name}")
    return [definition for _, definition in rows]


def prepare(rebuild: bool, scale: float) -> None:
    if rebuild or stored_marker() != marker(scale):
        build(scale)
    else:
        print(f"reusing {DB} ({marker(scale)}); --rebuild to generate it again")
    upgrade(Settings(database_url=URL))  # indexes of newer migrations
    with psycopg.connect(RAW_URL, autocommit=True) as conn:
        conn.execute("ANALYZE")
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]
    print("records: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))


MODES = ("cold", "warm", "changed")


def timed(
    session: Session, form: FormVersion, period: Period, unit: Unit, runs: int, changes: int
) -> dict[str, list[float]]:
    """Milliseconds per mode, ``runs`` each after a warm-up (empty on a statement timeout):

    - ``cold``: nothing stored, every unit of the subtree computed (and stored, rolled back);
    - ``warm``: every unit's figures stored and fresh;
    - ``changed``: stored, then ``changes`` records of the period touched (a no-op UPDATE of
      random receptions and petitions, half each, which the triggers log like any write),
      so their units are computed again: what a request pays for the units that changed
      since the last refresh.

    After each stored run the change log is compacted (untimed), as the scheduler's
    ``refresh_form_figures`` job does every minute.
    """
    from models import form_cache
    from models.form_sql import compute_form

    def once(mode: str) -> float:
        if mode == "changed":
            touch(session, period, changes)
            session.commit()
        started = time.perf_counter()
        compute_form(session, form, period, unit)
        elapsed = (time.perf_counter() - started) * 1000
        if mode == "cold":
            session.rollback()
        else:
            session.commit()
            form_cache.compact(session)  # as the scheduler's refresh job does every minute
            session.commit()
        return elapsed

    results: dict[str, list[float]] = {}
    for mode in MODES:
        if mode == "cold":
            session.execute(sa.delete(form_cache.UnitFigures))
            session.commit()
        try:
            times = [once(mode) for _ in range(runs + 1)]
        except sa.exc.OperationalError as error:
            session.rollback()
            if "statement timeout" not in str(error):
                raise
            times = []
        results[mode] = times[1:]  # the first run warms the caches and compiles the form
    return results


def touch(session: Session, period: Period, changes: int) -> None:
    """Log ``changes`` writes to records of the period without changing them."""
    window = {"start": period.starts_on, "end": period.ends_on, "n": changes // 2}
    for table in ("receptions", "petitions"):
        session.execute(
            sa.text(
                f"UPDATE {table} SET received_on = received_on WHERE id IN (SELECT id FROM {table}"
                " TABLESAMPLE SYSTEM (1) WHERE received_on BETWEEN :start AND :end LIMIT :n)"
            ),
            window,
        )


def explain(session: Session, form: FormVersion, period: Period, unit: Unit) -> None:
    """EXPLAIN ANALYZE of each of the form's queries, the slowest first (the compiler's internals)."""
    from models import form_sql

    # compute_form's parameters (the old and the current names of the subtree's root).
    like = unit.path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    params = {"start": period.starts_on, "end": period.ends_on, "root_path": unit.path, "root_like": like}
    params["root_length"] = len(unit.path)
    plans = []
    session.execute(sa.text(f"SET statement_timeout = {EXPLAIN_TIMEOUT_MS}"))
    session.execute(sa.text("SET jit = off"))  # as compute_form runs them
    for query in form_sql.compiled(form):
        rows = session.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {query.sql}"), {**params, **query.binds})
        lines = [row[0] for row in rows]
        total = next((float(x.split()[2]) for x in lines if x.startswith("Execution Time")), 0.0)
        plans.append((total, query.source, lines))
    for total, source, lines in sorted(plans, key=lambda p: p[0], reverse=True):
        print(f"--- {form.code} {source}: {total:.0f} ms ---")
        print("\n".join(lines[:60]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="generate the records again")
    parser.add_argument("--scale", type=float, default=1.0, help="1: 1,000,000 receptions, 500,000 petitions")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--province", default="01")
    parser.add_argument("--forms", default="all", help="comma-separated codes, or all (the forms in effect)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the queries of a missed target")
    parser.add_argument("--changes", type=int, default=200, help="records touched before each 'changed' run")
    args = parser.parse_args()
    prepare(args.rebuild, args.scale)
    forms = catalogue()
    codes = forms.codes_in_effect(LAST_DAY) if args.forms == "all" else args.forms.split(",")
    engine = make_engine(URL)
    missed = []
    with make_sessionmaker(engine)() as session:
        scopes = {
            "national": session.scalars(sa.select(Unit).where(Unit.code == "VN")).one(),
            "province": session.scalars(sa.select(Unit).where(Unit.code == args.province)).one(),
        }
        print(f"\n{'form':<8} {'period':<8} {'unit':<6} {'target':>7}  " + "  ".join(f"{m + ' ms':>17}" for m in MODES))
        for code in codes:
            for period in PERIODS:
                form = forms.in_effect(code, period.ends_on)
                if form is None:
                    continue
                for scope, unit in scopes.items():
                    results, target = timed(session, form, period, unit, args.runs, args.changes), TARGETS_MS[scope]
                    cells = []
                    for mode in MODES:
                        times = results[mode]
                        if not times:
                            cells.append(f"{'timeout':>17}")
                            continue
                        median = statistics.median(times)
                        cells.append(f"{median:>9.1f} {'ok' if median <= target else 'MISSED':>7}")
                        if mode == "cold" and median > target:
                            missed.append((form, period, unit))
                    print(f"{code:<8} {period.code:<8} {unit.code:<6} {target:>7.0f}  " + "  ".join(cells))
        if args.explain:  # the month only: EXPLAIN ANALYZE runs the query once more
            for form, period, unit in missed:
                if period is PERIODS[0]:
                    explain(session, form, period, unit)
    engine.dispose()
    print(f"\n{len(missed)} target(s) missed cold" if missed else "\nevery target met cold")


if __name__ == "__main__":
    main()
