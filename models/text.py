"""Vietnamese text is data: stored NFC-normalised so that equal words are equal bytes."""

from __future__ import annotations

import unicodedata


def nfc(text: str | None) -> str | None:
    return unicodedata.normalize("NFC", text) if text is not None else None


# Letters that Unicode does not decompose into a base letter plus a mark.
_UNDECOMPOSED = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str | None) -> str:
    """Text for comparison: diacritics, case and runs of spaces folded away.

    "Nguyễn  Văn Đức" and "nguyen van duc" fold to the same string, so a petitioner
    typed with or without accents (or by a keyboard that composes them differently)
    is recognised as the same person.
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", text.translate(_UNDECOMPOSED))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())
