"""Training exercises for ZČU students: scenario files (YAML) with faults and failsafe settings.

>>> from simulators.exercises import list_exercises, load_exercise
>>> sorted(list_exercises())
['link_loss', 'low_battery', 'sar_gps_loss']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_reason
from simulators.faults import (
    Brief,
    ScheduledFault,
    load_yaml,
    parse_schedule,
    read_scenario_text,
)

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


#: the fields of an exercise file (a misspelt ``falts:`` had been ignored: no fault at all)
KEYS = {
    "name",
    "title",
    "title_cs",
    "description",
    "autopilot",
    "vehicles",
    "home",
    "params",
    "faults",
    "expected",
}
#: as many vehicles as ``dronekit-plzen sim --vehicles`` takes
MAX_VEHICLES = 200


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadInputError(
            _("{where}: must be a number, got {value!r}").format(where=where, value=Brief(value))
        )
    return float(value)


def _home(value: Any, where: str) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise BadInputError(
            _("{where}.home: must be [lat, lon, alt_amsl_m], got {home!r}").format(
                where=where, home=Brief(value)
            )
        )
    lat, lon, alt = (_number(v, f"{where}.home[{i}]") for i, v in enumerate(value))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadInputError(
            _("{where}: [lat, lon] out of range, got {value!r}").format(
                where=f"{where}.home", value=Brief(value[:2])
            )
        )
    if not -500.0 <= alt <= 9000.0:  # NaN or 1e308 had crashed the simulator's scheduler
        raise BadInputError(
            _("{where}.home[2]: {alt:g} m AMSL is not on the Earth's surface").format(
                where=where, alt=alt
            )
        )
    return lat, lon, alt


def _params(value: Any, where: str) -> dict[str, dict[str, float]]:
    """``{px4: {NAME: value}, ardupilot: {...}}``, each name and value checked against the
    simulated firmware's table (an unknown flavour had been ignored, a text value an internal
    error)."""
    from simulators.params import check_range, defaults

    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise BadInputError(
            _("{where}: params must map px4/ardupilot to name: value").format(where=where)
        )
    out: dict[str, dict[str, float]] = {}
    for flavour, table in value.items():
        if flavour not in ("px4", "ardupilot"):
            raise BadInputError(
                _("{where}: params must map px4/ardupilot to name: value").format(where=where)
            )
        known = defaults(flavour, 1)
        out[flavour] = {}
        for name, raw in table.items():
            at = f"{where}.params.{flavour}.{name}"
            num = _number(raw, at)
            try:
                if name not in known:
                    raise BadInputError(_("unknown parameter {name}").format(name=Brief(name)))
                check_range(name, known[name], num)
            except BadInputError as exc:
                raise BadInputError(f"{where}: {exc}") from None
            out[flavour][name] = num
    return out


def _text(data: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise BadInputError(
            _("{where}: {key} must be a text, got {value!r}").format(
                where=where, key=key, value=Brief(value)
            )
        )
    return value


def _parse(data: Any, where: str) -> Exercise:
    if not isinstance(data, dict):
        raise BadInputError(_("{where}: an exercise must be a mapping").format(where=where))
    extra = sorted(set(map(str, data)) - KEYS)
    if extra:
        raise BadInputError(
            _("{where}: unknown field {extra!r} (valid: {allowed})").format(
                where=where, extra=Brief(extra[0]), allowed=", ".join(sorted(KEYS))
            )
        )
    vehicles = data.get("vehicles", 1)
    if (
        isinstance(vehicles, bool)
        or not isinstance(vehicles, int)
        or not 1 <= vehicles <= MAX_VEHICLES
    ):
        raise BadInputError(  # 1.9 had been 1 vehicle
            _("{where}.vehicles: must be an integer 1..{n}, got {value!r}").format(
                where=where, n=MAX_VEHICLES, value=Brief(vehicles)
            )
        )
    if "home" not in data:
        raise BadInputError(_("{where}: missing field 'home'").format(where=where))
    home = _home(data["home"], where)
    autopilot = data.get("autopilot", "px4")
    if autopilot not in ("px4", "ardupilot"):
        raise BadInputError(_("{where}: autopilot must be px4 or ardupilot").format(where=where))
    params = _params(data.get("params"), where)
    try:
        faults = tuple(parse_schedule(data.get("faults") or [], vehicles))
    except BadInputError as exc:
        raise BadInputError(f"{where}: {exc}") from None
    title = _text(data, "title", where)
    return Exercise(
        name=_text(data, "name", where, Path(where).stem),
        title=title,
        title_cs=_text(data, "title_cs", where, title),
        description=" ".join(_text(data, "description", where).split()),
        autopilot=autopilot,
        vehicles=vehicles,
        home=home,
        params=params,
        faults=faults,
        expected=_text(data, "expected", where),
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
        text = read_scenario_text(p)
    except OSError as exc:
        raise BadInputError(
            _("{p}: cannot read exercise ({strerror})").format(p=p, strerror=read_reason(exc))
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(
            _("{p}: not a UTF-8 text file (an exercise is YAML)").format(p=p)
        ) from None
    data = load_yaml(text, p)
    return _parse(data, str(p))
