"""Vietnamese text is data: stored NFC-normalised so that equal words are equal bytes."""

from __future__ import annotations

import unicodedata


def nfc(text: str | None) -> str | None:
    return unicodedata.normalize("NFC", text) if text is not None else None
