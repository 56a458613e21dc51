"""Small typing helpers for PyQt5's optional return values."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def must(obj: T | None) -> T:
    """``obj``, asserting Qt returned one (menus, headers, viewports always exist here)."""
    if obj is None:
        raise RuntimeError("Qt returned no object where one always exists")
    return obj
