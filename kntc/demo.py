"""Placeholder: the national deadline-surge demo (being written)."""

from __future__ import annotations

from kntc.settings import Settings


def run_demo(settings: Settings, units_limit: int | None = None) -> None:
    raise NotImplementedError("the demo is being written")
