"""Training exercises for ZČU students: scenario files (YAML) with faults and failsafe settings.

>>> from simulators.exercises import list_exercises, load_exercise
>>> sorted(list_exercises())
['link_loss', 'low_battery', 'sar_gps_loss']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dronekit_plzen.errors import BadInputError, one_line
from dronekit_plzen.i18n import _
from simulators.faults import ScheduledFault, parse_schedule

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Exercise:
    """One scenario: fleet set-up, parameters per flavour, fault schedule, expected outcome."""

    name: str
    title: str
    title_cs: str
    description: str
    autopilot: str
    vehicles: int
    home: tuple[float, float, float]
    params: dict[str, dict[str, float]] = field(default_factory=dict)
    faults: tuple[ScheduledFault, ...] = ()
    expected: str = ""

    def params_for(self, autopilot: str) -> dict[str, float]:
        return dict(self.params.get(autopilot, {}))


def list_exercises() -> list[str]:
    """Names of the bundled exercises."""
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def _parse(data: Any, where: str) -> Exercise:
    if not isinstance(data, dict):
        raise BadInputError(_("{where}: an exercise must be a mapping").format(where=where))
    try:
        vehicles = int(data.get("vehicles", 1))
        home = tuple(float(x) for x in data["home"])
        if len(home) != 3:
            raise ValueError("home needs lat, lon, alt")
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(
            _("{where}: bad vehicles/home ({exc})").format(where=where, exc=exc)
        ) from None
    autopilot = str(data.get("autopilot", "px4"))
    if autopilot not in ("px4", "ardupilot"):
        raise BadInputError(_("{where}: autopilot must be px4 or ardupilot").format(where=where))
    params = data.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise BadInputError(
            _("{where}: params must map px4/ardupilot to name: value").format(where=where)
        )
    try:
        faults = tuple(parse_schedule(data.get("faults") or [], vehicles))
    except BadInputError as exc:
        raise BadInputError(f"{where}: {exc}") from None
    return Exercise(
        name=str(data.get("name", Path(where).stem)),
        title=str(data.get("title", "")),
        title_cs=str(data.get("title_cs", data.get("title", ""))),
        description=" ".join(str(data.get("description", "")).split()),
        autopilot=autopilot,
        vehicles=vehicles,
        home=(home[0], home[1], home[2]),
        params={k: {n: float(v) for n, v in d.items()} for k, d in params.items()},
        faults=faults,
        expected=str(data.get("expected", "")),
    )


def load_exercise(name_or_path: str | Path) -> Exercise:
    """A bundled exercise by name, or an exercise YAML file by path."""
    p = Path(name_or_path)
    if not p.suffix:
        p = HERE / f"{name_or_path}.yaml"
        if not p.exists():
            raise BadInputError(
                _("unknown exercise {name_or_path!r} (bundled: {exercises})").format(
                    name_or_path=name_or_path, exercises=", ".join(list_exercises())
                )
            )
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(
            _("{p}: cannot read exercise ({strerror})").format(p=p, strerror=exc.strerror)
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(
            _("{p}: not a UTF-8 text file (an exercise is YAML)").format(p=p)
        ) from None
    except yaml.YAMLError as exc:
        raise BadInputError(
            _("{p}: not valid YAML: {reason}").format(p=p, reason=one_line(exc))
        ) from None
    return _parse(data, str(p))
