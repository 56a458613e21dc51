"""What every CLI command shares: the application context, JSON output, progress, messages."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from dronekit_plzen.config import Config
from dronekit_plzen.i18n import _

T = TypeVar("T")


class FiniteFloatRange(click.FloatRange):
    """A :class:`click.FloatRange` that refuses NaN (it passes the range's comparisons:
    ``--speedup nan`` crashed the simulator's scheduler)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        v = super().convert(value, param, ctx)
        if not math.isfinite(v):
            self.fail(_("{v} is not a finite number.").format(v=v), param, ctx)
        return v


@dataclass
class AppContext:
    """Carried in ``click.Context.obj``: the resolved configuration and global flags."""

    config: Config
    debug: bool = False
    quiet: bool = False


def app(ctx: click.Context | None = None) -> AppContext:
    """The :class:`AppContext` of the running command (a default one outside the CLI)."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is not None:
        root = ctx.find_root()
        if isinstance(root.obj, AppContext):
            return root.obj
    from dronekit_plzen.config import load_config

    return AppContext(config=load_config())


def _default(o: Any) -> Any:
    if is_dataclass(o) and not isinstance(o, type):
        return asdict(o)
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, datetime | date):
        return o.isoformat()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def to_json(data: Any) -> str:
    """Serialise results as strict JSON (NaN/inf become null)."""
    raw = json.loads(json.dumps(data, default=_default, ensure_ascii=False))
    return json.dumps(_clean(raw), ensure_ascii=False, indent=2)


def echo_json(data: Any) -> None:
    click.echo(to_json(data))


def given_options(names: dict[str, str]) -> list[str]:
    """The options of ``names`` (parameter → option) the user gave, not left at their default
    (none outside a click command)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return []
    from click.core import ParameterSource

    unset = (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
    return [opt for param, opt in names.items() if ctx.get_parameter_source(param) not in unset]


def refuse_given(names: dict[str, str], message: str, **fields: Any) -> None:
    """Bad input naming the options of ``names`` the user gave where they do nothing (they had
    been dropped without a word); ``message`` may hold ``{opts}`` and ``fields``."""
    given = given_options(names)
    if given:
        from dronekit_plzen.errors import BadInputError

        raise BadInputError(message.format(opts=", ".join(given), **fields))


def info(message: str) -> None:
    """A progress/informational line for people, on stderr (stdout stays for data)."""
    if not app().quiet:
        click.echo(message, err=True)


def progress(items: Iterable[T], *, total: int | None = None, label: str = "") -> Iterator[T]:
    """A rich progress bar on stderr when attached to a terminal; silent otherwise."""
    if not sys.stderr.isatty() or app().quiet:
        yield from items
        return
    from rich.progress import Progress

    with Progress(transient=True) as prog:
        task = prog.add_task(label, total=total)
        for it in items:
            yield it
            prog.advance(task)
