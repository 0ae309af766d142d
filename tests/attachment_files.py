"""Real files for the attachment tests and bench, made here with Pillow, pypdf and zlib."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib

from PIL import Image, ImageDraw


def photo(width: int = 640, height: int = 480, orientation: int | None = None, seed: int = 1) -> bytes:
    """A JPEG 'phone photo' of a page: noise-free drawing, optional EXIF orientation tag."""
    image = Image.new("RGB", (width, height), (235, 232, 220))
    draw = ImageDraw.Draw(image)
    rng = random.Random(seed)
    for line in range(12, height - 12, max(12, height // 40)):
        draw.line(
            (width // 10, line, width - width // 10 - rng.randint(0, width // 4), line), fill=(40, 40, 60), width=2
        )
    # A dark mark in the top-left corner tells which way is up after rotation.
    draw.rectangle((0, 0, width // 8, height // 8), fill=(0, 0, 0))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def noisy_photo(width: int, height: int, seed: int = 7) -> bytes:
    """A JPEG whose size is like a real camera's (noise does not compress)."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (width // 8, height // 8), rng.randbytes((width // 8) * (height // 8) * 3))
    image = small.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def png(width: int = 300, height: int = 200, mode: str = "RGBA") -> bytes:
    image = Image.new(mode, (width, height), (10, 120, 200, 255) if mode == "RGBA" else 128)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def tiff(frames: int = 3, size: tuple[int, int] = (200, 280)) -> bytes:
    pages = [Image.new("L", size, 255 - 40 * i) for i in range(frames)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_pixel_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG whose header claims width x height pixels (a few bytes of data)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def raw_pdf(streams: list[bytes], *, flate: bool = False) -> bytes:
    """A PDF with one page per content stream (Helvetica as /F1), written object by object."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    font_ref = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for content in streams:
        data = zlib.compress(content) if flate else content
        filters = b" /Filter /FlateDecode" if flate else b""
        objects.append(b"<< /Length %d%s >>\nstream\n" % (len(data), filters) + data + b"\nendstream")
        content_ref = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_ref, font_ref)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    return _assemble(objects)


def _assemble(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def text_pdf(pages: list[str]) -> bytes:
    """A PDF whose pages hold these (ASCII) lines of text."""
    return raw_pdf([b"BT /F1 18 Tf 72 760 Td (%s) Tj ET" % text.encode("ascii") for text in pages])


def encrypted_pdf(password: str = "mat-khau") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(["secret petition"]))))
    writer.encrypt(user_password=password, owner_password=password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def flate_bomb_pdf(inflated_mb: int = 200) -> bytes:
    """A small PDF whose one content stream inflates to ``inflated_mb`` MB of spaces."""
    compressor = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    data = b"".join(compressor.compress(chunk) for _ in range(inflated_mb)) + compressor.flush()
    page = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        page,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R /Resources << >> >>",
    ]
    return _assemble(objects)


def scanned_pdf(pages: int, width: int = 2480, height: int = 3508, seed: int = 3) -> bytes:
    """An image-only PDF like a scanner's: each page one JPEG."""
    rng = random.Random(seed)
    images = []
    for _ in range(pages):
        small = Image.frombytes("L", (width // 16, height // 16), rng.randbytes((width // 16) * (height // 16)))
        images.append(small.resize((width, height), Image.Resampling.BILINEAR).convert("RGB"))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=300, quality=85)
    return out.getvalue()


def zip_bomb(inflated_mb: int = 100) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.bin", "w") as member:
        for _ in range(inflated_mb):
            member.write(b"\x00" * (1 << 20))
    return out.getvalue()


WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200
