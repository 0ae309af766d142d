"""Attachment benchmark: upload throughput through gunicorn, processing time, memory of a big upload.

    .venv/bin/python bench/attachments.py [--uploads 5] [--upload-mb 20] [--big-mb 100]

It recreates the database ``kntc_bench_attachments`` (migrated, one unit, one reporter
token), flushes Redis db 11, starts gunicorn with ``deploy/gunicorn.conf.py`` (2 sync
workers, file storage in a temporary data dir) and then:

1. uploads ``--uploads`` files of ``--upload-mb`` MB of distinct random bytes, one after
   another over real HTTP (multipart, streamed from disk): MB/s;
2. uploads one ``--big-mb`` MB file while sampling the RSS of the gunicorn workers: the
   peak (VmHWM) against their RSS before it shows that memory stays flat;
3. times what a worker does per file (``models.documents.analyse``: sniff, parse, text,
   thumbnail) on a ~10 MB scanned PDF (A4 pages at 300 dpi, JPEG) and on a 12 MP phone
   photo (4000 x 3000 JPEG), median of 5 runs each. Target: under 1 s each.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import procs
import psycopg
import redis
import sqlalchemy as sa
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kntc.migrate import upgrade  # noqa: E402
from kntc.settings import Settings  # noqa: E402
from kntc.stack import free_port, gunicorn_command, processes, service_env, wait_healthy  # noqa: E402
from models.accounts import Account  # noqa: E402
from models.auth import issue_token  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.documents import analyse  # noqa: E402
from models.unit_import import import_units, parse_csv  # noqa: E402
from models.units import Unit  # noqa: E402

DATABASE = "kntc_bench_attachments"
PG = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/11"
BOUNDARY = "kntc-bench-boundary"
MB = 1 << 20


def prepare(data_dir: Path) -> tuple[Settings, str]:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    settings = Settings(
        data_dir=data_dir, database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}", redis_url=REDIS_URL
    )
    upgrade(settings)
    engine = make_engine(settings.sqlalchemy_url)
    with make_sessionmaker(engine)() as session:
        import_units(session, parse_csv("code,name,parent_code,level\nVN,Thanh tra Chính phủ,,central\n"))
        session.flush()
        unit_id = session.execute(sa.select(Unit.id).where(Unit.code == "VN")).scalar_one()
        account = Account(username="bench", unit_id=unit_id, role="officer")
        session.add(account)
        session.flush()
        token, _ = issue_token(session, account, kind="api", lifetime=None)
        session.commit()
    engine.dispose()
    return settings, token


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        for _ in range(size // MB):
            out.write(os.urandom(MB))
    return path


def _head(path: Path) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def _body(path: Path) -> Iterator[bytes]:
    yield _head(path)
    with path.open("rb") as f:
        while chunk := f.read(MB):
            yield chunk
    yield TAIL


def upload(port: int, token: str, path: Path) -> tuple[int, dict[str, object]]:
    """One multipart upload streamed from disk, as a client with a large scan would send it."""
    length = len(_head(path)) + path.stat().st_size + len(TAIL)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.putrequest("POST", "/api/v1/attachments")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        for chunk in _body(path):
            conn.send(chunk)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def scanned_pdf(target_mb: int) -> bytes:
    rng = random.Random(3)
    pages = []
    size = 0
    while size < target_mb * MB:
        small = Image.frombytes("L", (155, 219), rng.randbytes(155 * 219))
        page = small.resize((2480, 3508), Image.Resampling.BILINEAR).convert("RGB")
        pages.append(page)
        out = io.BytesIO()
        pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=300, quality=92)
        size = out.tell()
    return out.getvalue()


def phone_photo() -> bytes:
    rng = random.Random(7)
    small = Image.frombytes("RGB", (500, 375), rng.randbytes(500 * 375 * 3))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # held upright: the pixels lie on their side
    small.resize((4000, 3000), Image.Resampling.BILINEAR).save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def time_analyse(path: Path, runs: int = 5) -> tuple[float, str]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        findings = analyse(path, max_pixels=100_000_000)
        times.append(time.perf_counter() - started)
    return statistics.median(times), f"{findings.mime}, {findings.pages} page(s)"


def measure_uploads(port: int, token: str, run: Path, count: int, size_mb: int) -> None:
    files = [random_file(run / f"u{i}-{uuid.uuid4().hex[:6]}.bin", size_mb * MB) for i in range(count)]
    began = time.perf_counter()
    for path in files:
        status, _ = upload(port, token, path)
        assert status == 202, status
    elapsed = time.perf_counter() - began
    rate = count * size_mb / elapsed
    print(f"upload throughput: {count} x {size_mb} MB in {elapsed:.2f} s = {rate:.0f} MB/s (gunicorn, file storage)")


def measure_big_upload(port: int, token: str, run: Path, workers: list[int], size_mb: int) -> None:
    before = {pid: (rss_kb(pid), rss_kb(pid, "VmHWM")) for pid in workers}
    big = random_file(run / "big.bin", size_mb * MB)
    status, body = upload(port, token, big)
    assert status == 202 and body["size"] == size_mb * MB, (status, body)
    for pid in workers:
        rss, peak_before = before[pid]
        print(f"gunicorn worker {pid}: before the {size_mb} MB upload RSS {rss / 1024:.0f} MB, "
              f"peak {peak_before / 1024:.0f} MB; peak after it {rss_kb(pid, 'VmHWM') / 1024:.0f} MB")  # fmt: skip


def measure_processing() -> None:
    with tempfile.TemporaryDirectory(prefix="kntc-bench-att-files-") as tmp:
        pdf = Path(tmp) / "scan.pdf"
        pdf.write_bytes(scanned_pdf(10))
        photo = Path(tmp) / "photo.jpg"
        photo.write_bytes(phone_photo())
        for label, path in (("scanned PDF", pdf), ("12 MP phone photo", photo)):
            seconds, what = time_analyse(path)
            verdict = "meets" if seconds < 1 else "MISSES"
            print(f"processing {label} ({path.stat().st_size / MB:.1f} MB, {what}): median {seconds * 1000:.0f} ms "
                  f"({verdict} the 1 s target)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--upload-mb", type=int, default=20)
    parser.add_argument("--big-mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kntc-bench-att-") as tmp:
        run = Path(tmp)
        settings, token = prepare(run / "data")
        extra = {"KNTC_WEB_WORKERS": "2", "KNTC_MAX_ATTACHMENT_BYTES": str(2 * args.big_mb * MB)}
        env = service_env(settings, run, extra)
        (run / "prom-web").mkdir()
        port = free_port()
        with processes({"gunicorn": gunicorn_command(port)}, env, run / "logs") as started:
            wait_healthy(port, started, run / "logs")
            measure_uploads(port, token, run, args.uploads, args.upload_mb)
            measure_big_upload(port, token, run, procs.children(started[0].pid), args.big_mb)
    measure_processing()


if __name__ == "__main__":
    main()
