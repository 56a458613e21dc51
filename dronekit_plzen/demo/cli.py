"""CLI for `dronekit-plzen demo` (work in progress in this session)."""

from __future__ import annotations

import click


@click.group(name="demo")
def demo() -> None:
    """Run the end-to-end demonstration."""
