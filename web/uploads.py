"""Receiving an upload: the multipart body streamed to a staging file, hashed on the way.

Flask's form parsing would spool the file and then we would read it again; here the body
is read in chunks from the request stream straight into a file in the storage's staging
dir, hashing as it goes, so memory stays flat whatever the size and the limit is checked
on the bytes actually received (a chunked upload has no Content-Length to trust).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from models.errors import DomainError, Invalid
from models.storage import new_staging_file
from models.text import nfc

CHUNK_BYTES = 256 * 1024
FIELD = "file"
MAX_NAME_CHARS = 200
# Part headers and small fields held in memory while parsing (a part without headers' end is refused).
MAX_PART_HEADER_BYTES = 1 << 20


class TooLarge(DomainError):
    status = 413
    title = "Payload too large"


class BadMultipart(DomainError):
    status = 400
    title = "Bad request"


@dataclass(frozen=True)
class Received:
    path: Path  # the staging file, fsynced; the caller stores or deletes it
    sha256: str
    size: int
    name: str


def safe_name(raw: str | None) -> str:
    """The client's file name as a label only: no directories, no control characters, NFC.

    It is never used as a path (objects are stored under their SHA-256).
    """
    name = (nfc(raw) or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".").strip()
    return name[:MAX_NAME_CHARS] or "attachment"


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"the file is larger than {limit:,} bytes; scan at a lower resolution or split it",
        [{"field": FIELD, "message": f"at most {limit:,} bytes"}],
    )


class _Sink:
    """The staging file being written, its hash and size."""

    def __init__(self, staging_dir: Path, limit: int, filename: str) -> None:
        self.path = new_staging_file(staging_dir)
        self.file: BinaryIO = self.path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.limit = limit
        self.name = safe_name(filename)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise too_large(self.limit)
        self.digest.update(data)
        self.file.write(data)

    def finish(self) -> Received:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return Received(self.path, self.digest.hexdigest(), self.size, self.name)

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


def receive(stream: IO[bytes], content_type: str | None, limit: int, staging_dir: Path) -> Received:
    """Stream the multipart part named ``file`` into a staging file; raises a DomainError otherwise."""
    mimetype, options = parse_options_header(content_type or "")
    if mimetype != "multipart/form-data" or not options.get("boundary"):
        raise Invalid.field(FIELD, "send multipart/form-data with the file in a part named 'file'")
    decoder = MultipartDecoder(options["boundary"].encode(), max_form_memory_size=MAX_PART_HEADER_BYTES)
    try:
        sink = _pump(stream, decoder, limit, staging_dir)
    except ValueError as error:
        raise BadMultipart(f"the body is not valid multipart/form-data ({error}); send it again") from None
    try:
        return sink.finish()
    except BaseException:
        sink.discard()
        raise


def _pump(stream: IO[bytes], decoder: MultipartDecoder, limit: int, staging_dir: Path) -> _Sink:
    sink: _Sink | None = None
    writing = False
    done = False
    try:
        while not done:
            chunk = stream.read(CHUNK_BYTES)
            decoder.receive_data(chunk or None)
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                if isinstance(event, Epilogue):
                    done = True
                    break
                if isinstance(event, File | Field):
                    writing = isinstance(event, File) and event.name == FIELD and sink is None
                    if writing:
                        sink = _Sink(staging_dir, limit, event.filename)  # type: ignore[union-attr]
                elif isinstance(event, Data) and writing and sink is not None:
                    sink.write(event.data)
                event = decoder.next_event()
    except BaseException:
        if sink is not None:
            sink.discard()
        raise
    if sink is None:
        raise Invalid.field(FIELD, "no part named 'file'; send the file as multipart field 'file'")
    return sink
