"""Version guesses: one process's own, and a table shared by the processes a master forks."""

from __future__ import annotations

import multiprocessing

from models.version_guesses import ProcessGuesses, SharedGuesses, version_guesses

SLOT = (7, 3, "01/TCD")


def _store_in_child(guesses: SharedGuesses, version: int) -> None:
    guesses.stored(SLOT, version)


def test_a_forked_process_stores_what_its_parent_then_guesses_from() -> None:
    guesses = SharedGuesses()
    child = multiprocessing.get_context("fork").Process(target=_store_in_child, args=(guesses, 4))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert guesses.next(SLOT) == 5
    assert guesses.next((7, 3, "01/XLD")) == 1  # another form of the same unit and period


def test_a_guess_never_goes_back_and_starts_at_one() -> None:
    for guesses in (SharedGuesses(), ProcessGuesses()):
        assert guesses.next(SLOT) == 1
        guesses.stored(SLOT, 3)
        guesses.stored(SLOT, 2)  # a slower process reporting an older version
        assert guesses.next(SLOT) == 4


def test_two_slots_on_one_entry_only_make_the_guess_wrong() -> None:
    guesses = SharedGuesses()
    guesses.ENTRIES = 1  # every slot on the same entry (instance attribute: this table only)
    guesses.stored(SLOT, 9)
    other = (8, 3, "01/TCD")
    assert guesses.next(other) == 1  # the tag tells the entry holds another slot
    guesses.stored(other, 2)
    assert (guesses.next(other), guesses.next(SLOT)) == (3, 1)


def test_without_a_master_each_process_guesses_alone() -> None:
    assert isinstance(version_guesses(), ProcessGuesses)
