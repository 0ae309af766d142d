"""The real type of a file, from its first bytes (magic numbers), never from its name or Content-Type.

Accepted: PDF, JPEG, PNG, TIFF (what reception desks scan and phones photograph, and what
the parsers here handle safely). Everything else is refused with a reason that says
what to send instead.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 1024
PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
TIFF = "image/tiff"
ACCEPTED = (PDF, JPEG, PNG, TIFF)


@dataclass(frozen=True)
class Sniffed:
    mime: str | None  # one of ACCEPTED, or None when refused
    description: str  # what the bytes are, for a person


# Refused types a citizen's or officer's file is likely to be, each with what to do instead.
_REFUSED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "a ZIP archive (Word/Excel/ODF documents are ZIPs too); export each document to PDF"),
    (0, b"PK\x05\x06", "an empty ZIP archive; export each document to PDF"),
    (0, b"MZ", "a Windows program; programs are never accepted"),
    (0, b"\x7fELF", "a Linux program; programs are never accepted"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Word/Excel document; export it to PDF"),
    (0, b"Rar!", "a RAR archive; send each document as PDF"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive; send each document as PDF"),
    (0, b"\x1f\x8b", "a gzip archive; send each document as PDF"),
    (0, b"GIF8", "a GIF image; send photos as JPEG or scans as PNG or PDF"),
    (0, b"BM", "a BMP image; send it as PNG or JPEG"),
    (8, b"WEBP", "a WebP image; send it as JPEG or PNG"),
    (4, b"ftypheic", "an HEIC photo (iPhone); set the camera to 'Most Compatible' (JPEG) or convert it"),
    (4, b"ftypheix", "an HEIC photo (iPhone); set the camera to 'Most Compatible' (JPEG) or convert it"),
    (4, b"ftypmif1", "an HEIF photo; set the camera to JPEG or convert it"),
    (4, b"ftyp", "a video or MP4-family file; send a PDF or photos of the document"),
)


_ACCEPTED_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", JPEG, "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", PNG, "a PNG image"),
    (b"II*\x00", TIFF, "a TIFF image"),
    (b"MM\x00*", TIFF, "a TIFF image"),
)


def sniff_bytes(head: bytes) -> Sniffed:
    """The type of a file from its first :data:`HEAD_BYTES` bytes."""
    if not head:
        return Sniffed(None, "an empty file")
    # The PDF header may follow some junk (PDF 1.7 section 7.5.2 readers accept it in the first KB).
    if b"%PDF-" in head[:HEAD_BYTES]:
        return Sniffed(PDF, "a PDF document")
    for magic, mime, description in _ACCEPTED_MAGIC:
        if head.startswith(magic):
            return Sniffed(mime, description)
    for offset, magic, description in _REFUSED:
        if head[offset : offset + len(magic)] == magic:
            return Sniffed(None, description)
    if _looks_like_text(head):
        return Sniffed(None, "plain text or HTML; print it to PDF")
    return Sniffed(None, "an unrecognised kind of file; send a PDF, or photos as JPEG, PNG or TIFF")


def sniff_file(path: Path) -> Sniffed:
    with path.open("rb") as f:
        return sniff_bytes(f.read(HEAD_BYTES))


def _looks_like_text(head: bytes) -> bool:
    try:
        # Incremental: the head may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head
