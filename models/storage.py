"""Where attachment bytes and report files live: the data dir by default, an S3-compatible bucket for several hosts.

The web stores uploads and serves them; the workers read and write through the same
interface, so a worker on another host finds what the web stored (and the web serves the
report files a worker wrote, under ``reports/<id>/``). Objects are keyed by
content (``objects/ab/<sha256>``), so the same bytes are stored once; writes are atomic
(a file appears whole or not at all) and durable before they return.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import urlparse

if TYPE_CHECKING:
    from kntc.settings import Settings

CHUNK_BYTES = 1 << 20


def object_key(sha256: str) -> str:
    """The key of the stored bytes whose SHA-256 (hex) is ``sha256``."""
    return f"objects/{sha256[:2]}/{sha256}"


def thumbnail_key(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256}.jpg"


class Storage(Protocol):
    """What the web and the workers need of a place to keep bytes."""

    staging_dir: Path

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` durably and atomically; ``path`` is consumed."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store small bytes (a thumbnail) under ``key`` durably and atomically."""

    def exists(self, key: str) -> bool: ...

    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object; the caller closes it. FileNotFoundError if absent."""

    def local_copy(self, key: str) -> Any:
        """A context manager yielding a local, seekable path of the object (for the parsers)."""

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens if it is absent."""


def new_staging_file(staging_dir: Path) -> Path:
    """A fresh file name in the staging dir (created empty, owner-only)."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=staging_dir, prefix="upload-", suffix=".part")
    os.close(fd)
    return Path(name)


def sweep_staging(staging_dir: Path, older_than_s: float = 86_400) -> int:
    """Delete staging files older than ``older_than_s`` (uploads of a process that died); returns how many.

    Live uploads write to their file continuously, so an old modification time means dead.
    """
    if not staging_dir.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for path in staging_dir.iterdir():
        with suppress(FileNotFoundError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


class FileStorage:
    """Objects as files under ``root``; the staging dir is on the same filesystem (rename is atomic)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging_dir = root / "tmp"

    def _path(self, key: str) -> Path:
        # Keys are made by this module from hex digests, never from what a client sent.
        assert ".." not in key and not key.startswith("/"), key
        return self.root / key

    def put_file(self, key: str, path: Path) -> None:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fsync_file(path)
        path.replace(final)
        _fsync_dir(final.parent)

    def put_bytes(self, key: str, data: bytes) -> None:
        staged = new_staging_file(self.staging_dir)
        staged.write_bytes(data)
        self.put_file(key, staged)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # A per-request folder (reports/<id>/) goes with its last file; a non-empty one stays.
        with suppress(OSError):
            path.parent.rmdir()


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Storage:
    """Objects in an S3-compatible bucket (AWS, MinIO, Ceph...). A PUT is atomic by S3's design."""

    def __init__(self, settings: Settings, bucket: str, prefix: str) -> None:
        self.settings = settings
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.staging_dir = settings.data_dir / "attachments" / "tmp"
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        # Made on first use: never before a fork (gunicorn, dramatiq), and once per process.
        with self._lock:
            if self._client is None:
                import boto3

                s = self.settings
                self._client = boto3.session.Session().client(
                    "s3",
                    endpoint_url=s.s3_endpoint_url,
                    region_name=s.s3_region,
                    aws_access_key_id=s.s3_access_key_id,
                    aws_secret_access_key=s.s3_secret_access_key,
                )
            return self._client

    def put_file(self, key: str, path: Path) -> None:
        try:
            self.client.upload_file(str(path), self.bucket, self.prefix + key)
        finally:
            path.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise FileNotFoundError(key) from None
            raise
        return body  # type: ignore[no-any-return]

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        path = self.staging_dir / f"read-{uuid.uuid4().hex}"
        try:
            with self.open(key) as body, path.open("wb") as out:
                shutil.copyfileobj(body, out, CHUNK_BYTES)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        # S3 answers 204 for an absent key too.
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)


def open_storage(settings: Settings) -> Storage:
    """The storage the settings name: ``""``/``file://`` (the data dir), ``file:///path``, ``s3://bucket/prefix``."""
    url = settings.storage_url.strip()
    parsed = urlparse(url)
    if not url or parsed.scheme == "file":
        root = Path(parsed.path) if parsed.path else settings.data_dir / "attachments"
        return FileStorage(root)
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Storage(settings, parsed.netloc, parsed.path)
    raise ValueError(f"KNTC_STORAGE_URL must be file://[/path] or s3://bucket[/prefix], got {url!r}")


def read_chunks(stream: BinaryIO, chunk: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The stream's bytes in chunks, closing it at the end (for streamed HTTP responses)."""
    try:
        while data := stream.read(chunk):
            yield data
    finally:
        stream.close()
