"""What is inside an uploaded file: its pages, its text, a thumbnail; or why it is refused.

Every file here came from outside and may be hostile, so each step is bounded: the type
is sniffed from the bytes; images are refused above a pixel count before any pixel is
decoded (a PNG header can claim 100k x 100k); PDF streams inflate only up to a limit
(a Flate bomb stops there) and the text kept for search is capped.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdf
from PIL import Image, ImageOps, ImageSequence
from pypdf.errors import LimitReachedError

from models.filetypes import ACCEPTED, PDF, sniff_file
from models.text import nfc

log = logging.getLogger(__name__)

THUMBNAIL_PIXELS = 320
MAX_PAGES = 2_000
MAX_TEXT_CHARS = 200_000
# A page's content stream is text and drawing operators: megabytes at most. A stream that
# inflates past this is a decompression bomb (images are not inflated for text extraction).
MAX_INFLATED_BYTES = 32_000_000
# Bundled photos become pages of A4 height at up to this many pixels on the long side (300 dpi).
PAGE_LONG_SIDE = 3508
A4_LONG_SIDE_INCHES = 11.69
# PDFium is not thread-safe (pypdfium2's documentation): one render at a time per process.
_PDFIUM = threading.Lock()


class Rejected(Exception):
    """The file is refused; ``code`` labels the metric, ``reason`` tells a person what to do."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Findings:
    mime: str
    pages: int
    width: int | None = None
    height: int | None = None
    text: str | None = None
    thumbnail: bytes | None = None


def analyse(path: Path, max_pixels: int) -> Findings:
    """The findings of a stored file, or :class:`Rejected` with the reason."""
    sniffed = sniff_file(path)
    if sniffed.mime is None:
        code = "empty" if sniffed.description == "an empty file" else "type"
        accepted = ", ".join(m.split("/")[1].upper() for m in ACCEPTED)
        raise Rejected(code, f"the file is {sniffed.description}; accepted types: {accepted}")
    if sniffed.mime == PDF:
        return analyse_pdf(path)
    return analyse_image(path, sniffed.mime, max_pixels)


# --- PDF -----------------------------------------------------------------------------


def analyse_pdf(path: Path) -> Findings:
    _require_end_marker(path)
    with pypdf.apply_configuration(zlib_maximum_output_length=MAX_INFLATED_BYTES):
        try:
            reader = pypdf.PdfReader(path, strict=False)
            _require_readable(reader)
            pages = len(reader.pages)
            text = _text(reader)
        except Rejected:
            raise
        except LimitReachedError as error:
            raise Rejected("bomb", f"a compressed part of the PDF expands beyond safe limits ({error})") from None
        except Exception as error:  # a hostile file can break a parser in any way
            raise Rejected("corrupt", f"the PDF cannot be read ({type(error).__name__}: {error})") from None
    if pages == 0:
        raise Rejected("corrupt", "the PDF has no pages; export it again")
    if pages > MAX_PAGES:
        raise Rejected("pages", f"the PDF has {pages} pages; split it into parts of at most {MAX_PAGES}")
    return Findings(PDF, pages, text=text, thumbnail=pdf_thumbnail(path))


def _require_end_marker(path: Path) -> None:
    # Every complete PDF ends with %%EOF (PDF 1.7 section 7.5.5); a cut-off upload does not.
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - 2048))
        tail = f.read()
    if b"%%EOF" not in tail:
        raise Rejected("truncated", "the PDF is cut off (it has no end marker); upload the complete file again")


def _require_readable(reader: pypdf.PdfReader) -> None:
    if reader.is_encrypted and not reader.decrypt(""):
        raise Rejected("encrypted", "the PDF is protected by a password; upload a copy without a password")


def _text(reader: pypdf.PdfReader) -> str:
    parts: list[str] = []
    total = 0
    for page in reader.pages:
        # Decoded here first: extract_text() would swallow the limit's error and return "".
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()
        piece = page.extract_text() or ""
        parts.append(piece)
        total += len(piece)
        if total >= MAX_TEXT_CHARS:
            break
    # PostgreSQL text cannot hold NUL; PDFs often carry them.
    return nfc("\n".join(parts)[:MAX_TEXT_CHARS].replace("\x00", "")) or ""


def pdf_thumbnail(path: Path) -> bytes | None:
    """A JPEG of the first page (PDFium), or None if PDFium cannot render it."""
    import pypdfium2 as pdfium

    try:
        with _PDFIUM:
            pdf = pdfium.PdfDocument(str(path))
            try:
                page = pdf[0]
                width, height = page.get_size()
                scale = min(THUMBNAIL_PIXELS / max(width, 1.0), THUMBNAIL_PIXELS / max(height, 1.0), 4.0)
                image = page.render(scale=scale).to_pil()
            finally:
                pdf.close()
    except Exception as error:  # the PDF passed pypdf; a missing thumbnail must not refuse it
        log.warning("no thumbnail for %s: %r", path.name, error)
        return None
    return _jpeg(image)


# --- images --------------------------------------------------------------------------


def _limit_pixels(max_pixels: int) -> None:
    # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; a warning is a refusal here.
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise Rejected(
            "pixels",
            f"the image claims {width} x {height} pixels, more than the {max_pixels:,} allowed; "
            "photograph or scan it at a lower resolution",
        )


def analyse_image(path: Path, mime: str, max_pixels: int) -> Findings:
    _limit_pixels(max_pixels)
    try:
        with Image.open(path, formats=["JPEG", "PNG", "TIFF"]) as image:
            _check_pixels(image.size, max_pixels)
            pages = _frames(image, max_pixels)
            width, height = _oriented_size(image)
            if image.format == "JPEG":
                # Decoding at reduced scale still reads every byte (truncation is caught), 4-8x faster.
                image.draft("RGB", (THUMBNAIL_PIXELS * 2, THUMBNAIL_PIXELS * 2))
            image.load()
            thumbnail = _jpeg(ImageOps.exif_transpose(image))
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise Rejected("pixels", f"the image has too many pixels ({error}); use a lower resolution") from None
    except Exception as error:  # truncated or malformed image data
        raise Rejected("corrupt", f"the image cannot be decoded ({type(error).__name__}: {error})") from None
    return Findings(mime, pages, width, height, thumbnail=thumbnail)


def _frames(image: Image.Image, max_pixels: int) -> int:
    frames = int(getattr(image, "n_frames", 1))
    if frames > MAX_PAGES:
        raise Rejected("pages", f"the image has {frames} pages; split it into parts of at most {MAX_PAGES}")
    for index in range(1, frames):
        image.seek(index)
        _check_pixels(image.size, max_pixels)
    image.seek(0)
    return frames


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    # The size as a person sees it: EXIF orientations 5-8 turn the picture a quarter.
    width, height = image.size
    if image.getexif().get(0x0112, 1) in {5, 6, 7, 8}:
        return height, width
    return width, height


def _jpeg(image: Image.Image, size: int = THUMBNAIL_PIXELS) -> bytes | None:
    try:
        small = image.copy()
        small.thumbnail((size, size))
        out = io.BytesIO()
        _rgb(small).save(out, "JPEG", quality=80, optimize=True)
    except (OSError, ValueError) as error:  # an exotic mode (16-bit grey) that JPEG cannot hold
        log.warning("no thumbnail: %r", error)
        return None
    return out.getvalue()


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in {"RGBA", "LA", "P", "PA"}:
        # Transparent parts of a scan are paper: white, not black.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode == "I":
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")


# --- bundles: photos of a paper petition made into one PDF ---------------------------


@dataclass(frozen=True)
class Bundle:
    pages: int
    thumbnail: bytes | None


def build_bundle(images: list[Path], out: Path, max_pixels: int) -> Bundle:
    """Write one PDF to ``out``: every image (every frame of a TIFF) a page, in order, upright.

    Pages are made one at a time, so memory holds one decoded photo, not all of them.
    """
    _limit_pixels(max_pixels)
    writer = pypdf.PdfWriter()
    thumbnail = None
    pages = 0
    for page in _pages(images, max_pixels):
        if thumbnail is None:
            thumbnail = _jpeg(page)
        writer.append(pypdf.PdfReader(io.BytesIO(_pdf_page(page))))
        pages += 1
        if pages > MAX_PAGES:
            raise Rejected("pages", f"the bundle would have more than {MAX_PAGES} pages; make several")
    writer.add_metadata({"/Producer": "KNTC"})
    with out.open("wb") as f:
        writer.write(f)
    return Bundle(pages, thumbnail)


def _pages(images: list[Path], max_pixels: int) -> Iterator[Image.Image]:
    for path in images:
        try:
            with Image.open(path, formats=["JPEG", "PNG", "TIFF"]) as image:
                for frame in ImageSequence.Iterator(image):
                    _check_pixels(frame.size, max_pixels)
                    yield normalise_page(frame)
        except Rejected:
            raise
        except Exception as error:
            raise Rejected("source", f"an image of the bundle cannot be decoded ({error})") from None


def normalise_page(image: Image.Image) -> Image.Image:
    """Upright (EXIF orientation applied), RGB on white, at most A4 at 300 dpi."""
    page = _rgb(ImageOps.exif_transpose(image))
    if max(page.size) > PAGE_LONG_SIDE:
        page.thumbnail((PAGE_LONG_SIDE, PAGE_LONG_SIDE), Image.Resampling.LANCZOS)
    return page


def _pdf_page(page: Image.Image) -> bytes:
    # The resolution makes every page A4-sized whatever the photo's pixel count.
    out = io.BytesIO()
    page.save(out, "PDF", resolution=max(page.size) / A4_LONG_SIDE_INCHES, quality=85)
    return out.getvalue()
