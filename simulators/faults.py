"""Faults to inject into a running fleet, from Python or from a JSON/YAML schedule.

Schedule format (JSON or YAML)::

    faults:
      - {at_s: 30, vehicle: 0, type: gps_loss, duration_s: 20}
      - {at_s: 45, type: wind_gust, speed_m_s: 12, from_deg: 270, duration_s: 8}   # all vehicles
      - {at_s: 60, vehicle: 1, type: link, loss: 1.0, duration_s: 15}
      - {at_s: 90, vehicle: 2, type: battery_drop, drop_pct: 40}

The whole schedule is validated before the fleet starts; an error names the entry and field.

Training exercises (``dronekit-plzen train``) also trigger faults on events instead of a time:
exactly one of ``at_s``, ``at_waypoint`` (mission item N reached), ``battery_below_pct``,
``distance_from_home_m`` (beyond D metres) or ``airborne_s`` (S seconds after take-off), plus
an optional ``id`` that scoring rules refer to. :class:`TriggeredFault` holds one; the
:mod:`simulators.scenario` driver fires it, once, on the simulator's own clock.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from dronekit_plzen.errors import BadInputError, one_line
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_reason

#: the largest exercise or fault schedule read (the bundled ones: 2-3 kB)
MAX_SCENARIO_BYTES = 1024 * 1024
#: YAML nesting an exercise needs: 5 levels; deeper is a broken or hostile file
MAX_YAML_DEPTH = 32
#: values of a document once its aliases are expanded (a "billion laughs" file: a few lines
#: that expand to 9**9 values, which a consumer walking them or an error message's repr of
#: them would hold in memory)
MAX_YAML_VALUES = 100_000


class Brief:
    """A value in an error message, its ``repr`` cut to ``limit`` characters (a 10 kB value
    or a list of 100,000 gives one short line)."""

    def __init__(self, value: Any, limit: int = 60) -> None:
        self.value, self.limit = value, limit

    def __repr__(self) -> str:
        text = repr(self.value)
        return text if len(text) <= self.limit else text[: self.limit - 1] + "…"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)


def read_scenario_text(path: Path) -> str:
    """The text of an exercise or fault schedule file: a regular file (a named pipe would
    block for ever, ``/dev/zero`` fill the memory) of at most :data:`MAX_SCENARIO_BYTES`.

    :class:`OSError` (not found, a directory, permission) and :class:`UnicodeDecodeError`
    pass through for the caller to word; the rest is :class:`BadInputError`.
    """
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, os.strerror(21), str(path))
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(_("{p}: not a regular file (a named pipe or a device?)").format(p=path))
    with open(path, "rb") as fh:
        data = fh.read(MAX_SCENARIO_BYTES + 1)
    if len(data) > MAX_SCENARIO_BYTES:
        raise BadInputError(
            _("{p}: larger than the {kib:,} KiB an exercise or fault schedule can be").format(
                p=path, kib=MAX_SCENARIO_BYTES // 1024
            )
        )
    return data.decode("utf-8")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys (the second ``rules:`` of a file had
    silently replaced the first), nesting deeper than :data:`MAX_YAML_DEPTH` and documents
    whose aliases expand beyond :data:`MAX_YAML_VALUES` values."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise ComposerError(
                    None,
                    None,
                    _("nested deeper than {n} levels").format(n=MAX_YAML_DEPTH),
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _value in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
                if key in seen:
                    raise ConstructorError(
                        None,
                        None,
                        _("duplicate key {key!r}").format(key=Brief(key)),
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: Any, memo: dict[int, int]) -> int:
    """Values under ``node`` with every alias expanded (an alias is the node it names)."""
    done = memo.get(id(node))
    if done is not None:
        return done
    memo[id(node)] = MAX_YAML_VALUES + 1  # an alias of a node inside itself: endless
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(_expanded_size(c, memo) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = n = min(n, MAX_YAML_VALUES + 1)
    return n


def load_yaml(text: str, where: str | Path) -> Any:
    """A YAML document (exercise, fault schedule) from ``text``; ``where`` names the file.

    Bad YAML, duplicate keys, deep nesting and alias bombs are one :class:`BadInputError`
    ``<file>: not valid YAML: <problem> (line L, column C)``.
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_YAML_VALUES:
            raise ComposerError(
                None,
                None,
                _("more than {n:,} values (each use of an alias *name counted)").format(
                    n=MAX_YAML_VALUES
                ),
                node.start_mark,
            )
        return None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise BadInputError(
            _("{p}: not valid YAML: {reason}").format(p=where, reason=one_line(exc))
        ) from None
    except RecursionError:
        raise BadInputError(
            _("{p}: not valid YAML: {reason}").format(
                p=where, reason=_("nested deeper than {n} levels").format(n=MAX_YAML_DEPTH)
            )
        ) from None
    finally:
        loader.dispose()


@dataclass(frozen=True)
class GpsLoss:
    """No GPS fix for ``duration_s`` (satellites 0, fix type 1)."""

    duration_s: float = math.inf


@dataclass(frozen=True)
class BatteryDrop:
    """The pack loses ``drop_pct`` percentage points of charge at once (failing cell)."""

    drop_pct: float = 30.0


@dataclass(frozen=True)
class WindGust:
    """A gust of ``speed_m_s`` blowing from ``from_deg`` for ``duration_s``."""

    speed_m_s: float = 10.0
    from_deg: float = 270.0
    duration_s: float = 5.0


@dataclass(frozen=True)
class SteadyWind:
    """A steady wind (also settable with SIM_WIND_SPD / SIM_WIND_DIR)."""

    speed_m_s: float = 5.0
    from_deg: float = 270.0


@dataclass(frozen=True)
class LinkFault:
    """Radio impairment on the vehicle's links (``link``: all, api, gcs, tcp) both ways.

    ``loss``, ``duplicate`` and ``corrupt`` are probabilities per packet; ``delay_s`` is
    wall-clock latency added to each packet; ``loss=1`` is a total link loss.
    """

    loss: float = 0.0
    delay_s: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0
    duration_s: float = math.inf
    link: str = "all"


@dataclass(frozen=True)
class Reboot:
    """Power cycle: silent for 2 s, disarmed, GPS re-acquires; parameters and mission kept."""


@dataclass(frozen=True)
class LowBattery:
    """The pack's charge falls to ``remaining_pct`` at once (a failing cell, a cold pack)."""

    remaining_pct: float = 25.0

    def apply(self, vm: Any) -> None:
        bat = vm.battery
        used = bat.consumed_mah / bat.capacity_mah
        bat.soc_offset = max(0.0, 1.0 - used - self.remaining_pct / 100.0)


#: the sensors a :class:`SensorFailure` can hit, and what the firmware says when it does
SENSOR_TEXTS = {
    "gps": "GPS 1: failed",
    "compass": "Compass 0 inconsistent: check calibration",
    "baro": "Baro 0: unhealthy",
}


@dataclass(frozen=True)
class SensorFailure:
    """A sensor fails for ``duration_s``: ``gps`` loses the fix (as :class:`GpsLoss`);
    ``compass`` and ``baro`` raise the firmware's critical warning (no physics behind them)."""

    sensor: str = "gps"
    duration_s: float = math.inf

    def apply(self, vm: Any) -> None:
        vm.text(SENSOR_TEXTS[self.sensor], 2)
        if self.sensor == "gps":
            vm.gps.lost_until_s = vm.t_s + self.duration_s


Fault = (
    GpsLoss | BatteryDrop | WindGust | SteadyWind | LinkFault | Reboot | LowBattery | SensorFailure
)

FAULT_TYPES: dict[str, type] = {
    "gps_loss": GpsLoss,
    "battery_drop": BatteryDrop,
    "wind_gust": WindGust,
    "wind": SteadyWind,
    "link": LinkFault,
    "packet_loss": LinkFault,
    "reboot": Reboot,
    "low_battery": LowBattery,
    "sensor_failure": SensorFailure,
}

#: event triggers of training exercises (one per fault; ``at_s`` is the time trigger)
TRIGGERS = ("at_s", "at_waypoint", "battery_below_pct", "distance_from_home_m", "airborne_s")
_NOT_FAULT_FIELDS = {"type", "vehicle", "id", *TRIGGERS}


@dataclass(frozen=True)
class ScheduledFault:
    """A fault at simulated time ``at_s`` for one vehicle index (None = every vehicle)."""

    at_s: float
    vehicle: int | None
    fault: Any


#: the largest value of a fault's field (the simulated wind: ArduPilot's SIM_WIND_SPD range)
FIELD_MAX = {
    "speed_m_s": 40.0,
    "from_deg": 360.0,
    "drop_pct": 100.0,
    "delay_s": 30.0,
}


def parse_fault(entry: dict[str, Any], where: str) -> Any:
    """Build one fault from a mapping with ``type`` and the dataclass's fields."""
    if not isinstance(entry, dict):
        raise BadInputError(
            _("{where}: a fault must be a mapping, got {type_name}").format(
                where=where, type_name=type(entry).__name__
            )
        )
    kind = entry.get("type")
    cls = FAULT_TYPES.get(str(kind))
    if cls is None:
        raise BadInputError(
            _("{where}: unknown fault type {kind!r} (one of {fault_types})").format(
                where=where, kind=Brief(kind), fault_types=", ".join(FAULT_TYPES)
            )
        )
    allowed = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _NOT_FAULT_FIELDS:
            continue
        if key not in allowed:
            raise BadInputError(
                _("{where}: field {key!r} not valid for {kind} (valid: {valid})").format(
                    where=where, key=Brief(key), kind=kind, valid=", ".join(allowed) or _("none")
                )
            )
        if key == "link":
            if value not in ("all", "api", "gcs", "tcp"):
                raise BadInputError(
                    _("{where}: link must be all, api, gcs or tcp, got {value!r}").format(
                        where=where, value=Brief(value)
                    )
                )
            kwargs[key] = value
            continue
        if key == "sensor":
            if value not in SENSOR_TEXTS:
                raise BadInputError(
                    _("{where}: sensor must be one of {sensor_texts}, got {value!r}").format(
                        where=where, sensor_texts=", ".join(SENSOR_TEXTS), value=Brief(value)
                    )
                )
            kwargs[key] = value
            continue
        try:
            if isinstance(value, bool):  # YAML's yes/no: not a number of anything
                raise TypeError
            num = float(value)
        except (TypeError, ValueError):
            raise BadInputError(
                _("{where}: field {key!r} must be a number, got {value!r}").format(
                    where=where, key=key, value=Brief(value)
                )
            ) from None
        if num < 0 or math.isnan(num):
            raise BadInputError(
                _("{where}: field {key!r} must be ≥ 0, got {value!r}").format(
                    where=where, key=key, value=Brief(value)
                )
            )
        hi = FIELD_MAX.get(key)
        if hi is not None and num > hi:  # a gust of 1e308 m/s: the vehicle at lat 1e288
            raise BadInputError(
                _("{where}: field {key!r} must be 0 to {hi:g}, got {value!r}").format(
                    where=where, key=key, hi=hi, value=Brief(value)
                )
            )
        if key in ("loss", "duplicate", "corrupt") and num > 1:
            raise BadInputError(
                _("{where}: field {key!r} is a probability in [0, 1], got {value!r}").format(
                    where=where, key=key, value=Brief(value)
                )
            )
        if key == "remaining_pct" and num > 100:
            raise BadInputError(
                _("{where}: field {key!r} is a percentage 0..100, got {value!r}").format(
                    where=where, key=key, value=Brief(value)
                )
            )
        kwargs[key] = num
    return cls(**kwargs)


def parse_schedule(data: Any, n_vehicles: int | None = None) -> list[ScheduledFault]:
    """Validate a whole schedule (a mapping with ``faults`` or a bare list), sorted by time."""
    entries = data.get("faults") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise BadInputError(_("fault schedule: expected a list under 'faults'"))
    out = []
    for i, e in enumerate(entries):
        where = _("fault schedule entry {n}").format(n=i + 1)
        if not isinstance(e, dict):
            raise BadInputError(_("{where}: must be a mapping").format(where=where))
        events = [k for k in TRIGGERS[1:] if k in e]
        if events:
            raise BadInputError(
                _(
                    "{where}: {events} is an event trigger: only training exercises "
                    "(dronekit-plzen train) take those; a schedule takes at_s"
                ).format(where=where, events=events[0])
            )
        fault = parse_fault(e, where)
        try:
            if isinstance(e.get("at_s"), bool):
                raise TypeError
            at_s = float(e.get("at_s", 0.0))
        except (TypeError, ValueError):
            raise BadInputError(_("{where}: at_s must be a number").format(where=where)) from None
        if at_s < 0 or math.isnan(at_s):
            raise BadInputError(_("{where}: at_s must be ≥ 0").format(where=where))
        veh = e.get("vehicle")
        if veh is not None and (
            isinstance(veh, bool)  # "vehicle: yes" had been vehicle 1
            or not isinstance(veh, int)
            or veh < 0
            or (n_vehicles is not None and veh >= n_vehicles)
        ):
            raise BadInputError(
                _("{where}: vehicle must be an index 0..{last}, got {veh!r}").format(
                    where=where, last=(n_vehicles or 1) - 1, veh=Brief(veh)
                )
            )
        out.append(ScheduledFault(at_s, veh, fault))
    return sorted(out, key=lambda s: s.at_s)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (the second had replaced the first)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(_("duplicate key {key!r}").format(key=Brief(key)))
        out[key] = value
    return out


def load_schedule(path: str | Path, n_vehicles: int | None = None) -> list[ScheduledFault]:
    """Read a JSON or YAML fault schedule file."""
    p = Path(path)
    try:
        text = read_scenario_text(p)
    except OSError as exc:
        raise BadInputError(
            _("{p}: cannot read fault schedule ({strerror})").format(p=p, strerror=read_reason(exc))
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(
            _("{p}: fault schedule: not a UTF-8 text file (JSON or YAML)").format(p=p)
        ) from None
    if p.suffix.lower() in (".yaml", ".yml"):
        data = load_yaml(text, p)
    else:
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except (ValueError, RecursionError) as exc:
            raise BadInputError(
                _("{p}: not valid {fmt}: {reason}").format(p=p, fmt="JSON", reason=one_line(exc))
            ) from None
    try:
        return parse_schedule(data, n_vehicles)
    except BadInputError as exc:
        raise BadInputError(f"{p}: {exc}") from None


@dataclass(frozen=True)
class Trigger:
    """When a training fault fires: ``kind`` is one of :data:`TRIGGERS`, ``value`` its threshold."""

    kind: str
    value: float

    def describe(self) -> str:
        unit = {
            "at_s": " s",
            "battery_below_pct": " %",
            "distance_from_home_m": " m",
            "airborne_s": " s",
        }
        return f"{self.kind}={self.value:g}{unit.get(self.kind, '')}"

    def text(self) -> str:
        """In words, for instructors: ``at waypoint 2``, ``battery below 30 %``."""
        words = {
            "at_s": "at {v:g} s",
            "at_waypoint": "at waypoint {v:g}",
            "battery_below_pct": "battery below {v:g} %",
            "distance_from_home_m": "{v:g} m from home",
            "airborne_s": "{v:g} s after take-off",
        }
        return words.get(self.kind, self.kind + " {v:g}").format(v=self.value)


@dataclass(frozen=True)
class TriggeredFault:
    """A training fault: ``fault`` on ``vehicle`` (None: every vehicle) when ``trigger`` holds."""

    id: str
    trigger: Trigger
    vehicle: int | None
    fault: Any


#: the highest mission item number (MISSION_ITEM_INT.seq is 16 bits)
MAX_WAYPOINT = 65535


def parse_triggered(entries: Any, n_vehicles: int, where: str) -> list[TriggeredFault]:
    """Validate an exercise's fault list (time or event triggers, unique ids), in file order."""
    if not isinstance(entries, list):
        raise BadInputError(_("{where}: expected a list of faults").format(where=where))
    out: list[TriggeredFault] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        at = f"{where}[{i + 1}]"
        if not isinstance(e, dict):
            raise BadInputError(_("{at}: a fault must be a mapping").format(at=at))
        fault = parse_fault(e, at)
        kinds = [k for k in TRIGGERS if k in e]
        if len(kinds) != 1:
            if kinds:
                raise BadInputError(
                    _("{at}: give exactly one trigger of {triggers} (got {got})").format(
                        at=at, triggers=", ".join(TRIGGERS), got=", ".join(kinds)
                    )
                )
            raise BadInputError(
                _("{at}: give exactly one trigger of {triggers}").format(
                    at=at, triggers=", ".join(TRIGGERS)
                )
            )
        raw = e[kinds[0]]
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise BadInputError(
                _("{at}: {trigger} must be a number, got {raw!r}").format(
                    at=at, trigger=kinds[0], raw=Brief(raw)
                )
            ) from None
        if isinstance(raw, bool) or value < 0 or math.isnan(value) or math.isinf(value):
            raise BadInputError(
                _("{at}: {trigger} must be ≥ 0, got {raw!r}").format(
                    at=at, trigger=kinds[0], raw=Brief(raw)
                )
            )
        if kinds[0] == "at_waypoint" and not (value.is_integer() and value <= MAX_WAYPOINT):
            # 1.5 had fired at waypoint 1 and 1e308 never, each "valid"
            raise BadInputError(
                _("{at}: at_waypoint must be a mission item number 0..{n}, got {raw!r}").format(
                    at=at, n=MAX_WAYPOINT, raw=Brief(raw)
                )
            )
        if kinds[0] == "battery_below_pct" and value > 100:  # 500 % had fired at power-on
            raise BadInputError(
                _("{at}: battery_below_pct is a percentage 0..100, got {raw!r}").format(
                    at=at, raw=Brief(raw)
                )
            )
        veh = e.get("vehicle")
        if veh is not None and (
            isinstance(veh, bool) or not isinstance(veh, int) or not 0 <= veh < n_vehicles
        ):
            raise BadInputError(
                _("{at}: vehicle must be an index 0..{last}, got {veh!r}").format(
                    at=at, last=n_vehicles - 1, veh=Brief(veh)
                )
            )
        fid = str(e.get("id", f"fault{i + 1}"))
        if fid in seen:
            raise BadInputError(_("{at}: duplicate fault id {fid!r}").format(at=at, fid=fid))
        seen.add(fid)
        out.append(TriggeredFault(fid, Trigger(kinds[0], value), veh, fault))
    return out
