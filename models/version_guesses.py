"""The next version of a unit's report, guessed before the intake's statement checks it.

The receipt names the version and is signed before the statement runs, so the intake
guesses the version (the latest it knows of, plus one) and the statement stores nothing
when the guess is taken; a wrong guess costs the statement a second run. A process
knows only what it stored itself; under gunicorn a unit's next report lands on any
worker, and with two workers guessing alone 41 % of the intake statements ran twice
(20,000 reports of 4,039 units, ``bench/intake.py``). So gunicorn's master maps one
table into memory before it forks (``share_between_forks``, from
``deploy/gunicorn.conf.py``) and every worker reads and writes the same guesses.

Only stdlib here: gunicorn's master imports this module and nothing else of the app.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
from typing import Protocol

Slot = tuple[int, int, str]  # unit id, period id, form code


class VersionGuesses(Protocol):
    def next(self, slot: Slot) -> int: ...

    def stored(self, slot: Slot, version: int) -> None: ...


class ProcessGuesses:
    """What this process stored: enough for one process (tests, the embedded demo)."""

    LIMIT = 200_000

    def __init__(self) -> None:
        self._known: dict[Slot, int] = {}

    def next(self, slot: Slot) -> int:
        return self._known.get(slot, 0) + 1

    def stored(self, slot: Slot, version: int) -> None:
        if len(self._known) >= self.LIMIT:
            self._known.clear()  # a forgotten slot costs one more statement when it is next used
        self._known[slot] = max(version, self._known.get(slot, 0))


class SharedGuesses:
    """A fixed table in shared memory: 8-byte entries of (tag, version), one per hashed slot.

    No locks: a lost update, two slots on one entry or a torn read only make a guess
    wrong, and the statement corrects every wrong guess.
    """

    ENTRIES = 1 << 20  # 8 MiB; a national tree has about 4,000 units x a few forms a period
    _ENTRY = struct.Struct("<II")

    def __init__(self) -> None:
        self._table = mmap.mmap(-1, self.ENTRIES * self._ENTRY.size)  # anonymous and shared across fork()

    def next(self, slot: Slot) -> int:
        offset, tag = self._locate(slot)
        found, version = self._ENTRY.unpack_from(self._table, offset)
        return (version if found == tag else 0) + 1

    def stored(self, slot: Slot, version: int) -> None:
        offset, tag = self._locate(slot)
        found, known = self._ENTRY.unpack_from(self._table, offset)
        if found != tag or known < version:
            self._ENTRY.pack_into(self._table, offset, tag, version)

    def _locate(self, slot: Slot) -> tuple[int, int]:
        unit_id, period_id, form_code = slot
        key = f"{unit_id}|{period_id}|{form_code}".encode()
        digest = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
        offset = (digest % self.ENTRIES) * self._ENTRY.size
        return offset, (digest >> 32) | 1  # tag 0 marks an empty entry


_shared: SharedGuesses | None = None


def share_between_forks() -> None:
    """Called once in a pre-fork server's master: every process it forks guesses from one table."""
    global _shared
    _shared = SharedGuesses()


def version_guesses() -> VersionGuesses:
    """The shared table when the master made one, else this process's own."""
    return _shared if _shared is not None else ProcessGuesses()
