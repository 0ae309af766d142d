"""Every setting the system reads from its environment, in one place.

With no ``DATABASE_URL`` and no ``REDIS_URL`` the system runs embedded: a SQLite file
under the data dir and an in-process broker with in-process workers, so that
``make demo`` works on a bare laptop. Production sets both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """The typed settings object; build it with :meth:`from_env`."""

    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    signing_key_pem: str | None = None
    # Largest request body the intake reads, in bytes (413 above it).
    max_body_bytes: int = 1_000_000
    # How long a login token lives.
    session_hours: int = 12
    # Rate limits shared by every worker process and host (Redis-backed).
    unit_concurrency: int = 1
    db_job_concurrency: int = 8
    # A limiter slot of a killed worker frees itself after this long; keep it just
    # above the actor's time limit so a live job never loses its slot.
    limiter_ttl_ms: int = 35_000
    submission_time_limit_ms: int = 30_000
    # While reports arrive faster than this a second (all web processes), workers hold each
    # back until it is max_decision_lag_seconds old or the surge passed (kntc/intake_rate.py);
    # 0: never.
    surge_rate: int = 200
    max_decision_lag_seconds: int = 30
    # The intake's messages leave a web process in batches gathered over this many ms, one
    # Redis round trip each (kntc/send_batches.py); 0: each in its own request.
    send_batch_ms: int = 20
    # Outbox relay: re-send what is still queued after this many seconds.
    relay_delay_seconds: int = 60
    relay_interval_seconds: int = 5
    # Embedded mode: worker threads inside the web process.
    embedded_worker_threads: int = 4
    # Attachments: largest upload (413 above it; separate from max_body_bytes, which is for JSON).
    max_attachment_bytes: int = 50_000_000
    # Where attachment bytes live: "" or file:// = <data_dir>/attachments, file:///path, or
    # s3://bucket[/prefix] (the S3 settings below) when web and workers run on several hosts.
    storage_url: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # Unset: boto3's own chain (instance role, AWS_* variables, ~/.aws).
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Attachment jobs at once across all worker hosts (they are CPU- and memory-heavy).
    attachment_concurrency: int = 2
    attachment_time_limit_ms: int = 120_000
    # Largest image accepted, in pixels (width x height of a page); memory is ~3 bytes each.
    max_image_pixels: int = 100_000_000
    # The scheduler (`kntc scheduler`): how often it asks for the overdue and stuck flags.
    overdue_interval_seconds: int = 600
    # A petition untouched this many days in one account is flagged stuck.
    stuck_days: int = 10
    # How often the scheduler asks the workers to compare newly accepted submissions with
    # their units' records (in batches, off the deadline-night path of the submissions queue).
    reconcile_interval_seconds: int = 60
    form_refresh_interval_seconds: int = 60
    # Report requests (the `reports` queue): jobs at once across all worker hosts, each job's
    # time limit, and how many days the result and its XLSX/CSV files are kept.
    report_concurrency: int = 2
    report_time_limit_ms: int = 300_000
    report_keep_days: int = 7

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            data_dir=Path(env.get("KNTC_DATA_DIR") or "var"),
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            signing_key_pem=env.get("KNTC_SIGNING_KEY") or None,
            max_body_bytes=_int(env, "KNTC_MAX_BODY_BYTES", 1_000_000),
            session_hours=_int(env, "KNTC_SESSION_HOURS", 12),
            unit_concurrency=_int(env, "KNTC_UNIT_CONCURRENCY", 1),
            db_job_concurrency=_int(env, "KNTC_DB_JOB_CONCURRENCY", 8),
            limiter_ttl_ms=_int(env, "KNTC_LIMITER_TTL_MS", 35_000),
            submission_time_limit_ms=_int(env, "KNTC_SUBMISSION_TIME_LIMIT_MS", 30_000),
            surge_rate=_int(env, "KNTC_SURGE_RATE", 200),
            max_decision_lag_seconds=_int(env, "KNTC_MAX_DECISION_LAG_SECONDS", 30),
            send_batch_ms=_int(env, "KNTC_SEND_BATCH_MS", 20),
            relay_delay_seconds=_int(env, "KNTC_RELAY_DELAY_SECONDS", 60),
            relay_interval_seconds=_int(env, "KNTC_RELAY_INTERVAL_SECONDS", 5),
            embedded_worker_threads=_int(env, "KNTC_EMBEDDED_WORKER_THREADS", 4),
            max_attachment_bytes=_int(env, "KNTC_MAX_ATTACHMENT_BYTES", 50_000_000),
            storage_url=env.get("KNTC_STORAGE_URL") or "",
            s3_endpoint_url=env.get("KNTC_S3_ENDPOINT_URL") or None,
            s3_region=env.get("KNTC_S3_REGION") or "us-east-1",
            s3_access_key_id=env.get("KNTC_S3_ACCESS_KEY_ID") or None,
            s3_secret_access_key=env.get("KNTC_S3_SECRET_ACCESS_KEY") or None,
            attachment_concurrency=_int(env, "KNTC_ATTACHMENT_CONCURRENCY", 2),
            attachment_time_limit_ms=_int(env, "KNTC_ATTACHMENT_TIME_LIMIT_MS", 120_000),
            max_image_pixels=_int(env, "KNTC_MAX_IMAGE_PIXELS", 100_000_000),
            overdue_interval_seconds=_int(env, "KNTC_OVERDUE_INTERVAL_SECONDS", 600),
            stuck_days=_int(env, "KNTC_STUCK_DAYS", 10),
            reconcile_interval_seconds=_int(env, "KNTC_RECONCILE_INTERVAL_SECONDS", 60),
            form_refresh_interval_seconds=_int(env, "KNTC_FORM_REFRESH_INTERVAL_SECONDS", 60),
            report_concurrency=_int(env, "KNTC_REPORT_CONCURRENCY", 2),
            report_time_limit_ms=_int(env, "KNTC_REPORT_TIME_LIMIT_MS", 300_000),
            report_keep_days=_int(env, "KNTC_REPORT_KEEP_DAYS", 7),
        )

    @property
    def embedded(self) -> bool:
        """True when the broker and workers live inside this process."""
        return self.redis_url is None

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kntc.sqlite3').resolve()}"

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)
