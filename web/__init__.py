"""The intake layer: ``gunicorn -c deploy/gunicorn.conf.py 'web:create_app()'``.

It validates, stores durably, answers 202 with a signed receipt and enqueues; the
workers do the rest.
"""

from __future__ import annotations

import redis
import sqlalchemy.exc
import structlog
from flask import Flask

from kntc.broker import setup_broker
from kntc.logs import configure_logging
from kntc.settings import Settings

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging()
    from web import errors, openapi, ops, status
    from web.api import (
        accounts,
        attachments,
        catalogue,
        deadline_rules,
        drafts,
        forms,
        periods,
        petitions,
        receipts,
        reception_sessions,
        receptions,
        report_requests,
        sessions,
        submissions,
        units,
        usage,
        workflow,
    )
    from web.services import Services, close_db

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    services = Services.build(settings)
    app.extensions["kntc"] = services
    setup_broker(settings)
    if settings.embedded:
        from kntc.embedded import start_embedded_workers

        start_embedded_workers(services)
    errors.register(app)
    ops.instrument(app)
    foundation = (ops, openapi, sessions, units, periods, submissions, receipts, status)
    records = (catalogue, receptions, reception_sessions, petitions, drafts, usage, workflow)
    people = (accounts, deadline_rules, attachments)
    reports = (report_requests, forms)
    for module in (*foundation, *records, *people, *reports):
        app.register_blueprint(module.bp)
    app.teardown_appcontext(close_db)
    return app


def warm_up(app: Flask) -> None:
    """Before a web worker's first request (``post_worker_init`` in deploy/gunicorn.conf.py):
    load and connect what that request would wait for. A database or Redis not reachable
    yet is logged, not fatal: the first request connects as it would have anyway."""
    services = app.extensions.get("kntc")
    if services is None:  # another app under the same configuration (the bench's naive intake)
        return
    try:
        services.warm_up()
    except (sqlalchemy.exc.SQLAlchemyError, redis.RedisError) as error:
        log.warning("warm-up failed; the first request connects", error=str(error))
