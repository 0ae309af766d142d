"""The naive intake the benchmark measures ours against: parse JSON, INSERT one row, enqueue, 202.

No authentication, receipt, outbox, idempotency or checks: the floor of what a report
intake costs on this stack (Flask under the same gunicorn config, SQLAlchemy and
psycopg on PostgreSQL, dramatiq on Redis). Its worker marks the row processed.

    gunicorn -c deploy/gunicorn.conf.py 'bench.naive_app:create_app()'
    dramatiq bench.naive_app --processes 2 --threads 8

Both read ``DATABASE_URL`` and ``REDIS_URL``; ``bench/intake.py`` creates the table.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
import sqlalchemy as sa
from dramatiq.brokers.redis import RedisBroker
from flask import Flask, request
from sqlalchemy.dialects.postgresql import JSONB

from models.db import make_engine

QUEUE = "naive"
PATH = "/naive/submissions"

metadata = sa.MetaData()
naive_submissions = sa.Table(
    "naive_submissions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("unit", sa.String(64), nullable=False),
    sa.Column("period", sa.String(40), nullable=False),
    sa.Column("form", sa.String(20), nullable=False),
    sa.Column("figures", JSONB, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True)),
)

# A benchmark fixture, not the application: it reads its environment at import, as the
# simplest intake would, and configures its broker before its actor is declared.
dramatiq.set_broker(RedisBroker(url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")))
_engine: sa.Engine | None = None


def engine() -> sa.Engine:
    """One pool per process, opened on first use (after gunicorn or dramatiq forked)."""
    global _engine
    if _engine is None:
        _engine = make_engine(os.environ["DATABASE_URL"])
    return _engine


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=30_000)
def process_naive(row_id: int) -> None:
    with engine().begin() as conn:
        conn.execute(
            naive_submissions.update().where(naive_submissions.c.id == row_id).values(processed_at=sa.func.now())
        )


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post(PATH)
    def submit() -> tuple[dict[str, Any], int]:
        body = request.get_json()
        row = {key: body[key] for key in ("unit", "period", "form", "figures")}
        with engine().begin() as conn:
            row_id = conn.execute(sa.insert(naive_submissions).returning(naive_submissions.c.id), row).scalar_one()
        process_naive.send(row_id)
        return {"id": row_id, "status": "queued"}, 202

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
