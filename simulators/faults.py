"""Faults to inject into a running fleet, from Python or from a JSON/YAML schedule.

Schedule format (JSON or YAML)::

    faults:
      - {at_s: 30, vehicle: 0, type: gps_loss, duration_s: 20}
      - {at_s: 45, type: wind_gust, speed_m_s: 12, from_deg: 270, duration_s: 8}   # all vehicles
      - {at_s: 60, vehicle: 1, type: link, loss: 1.0, duration_s: 15}
      - {at_s: 90, vehicle: 2, type: battery_drop, drop_pct: 40}

The whole schedule is validated before the fleet starts; an error names the entry and field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError, one_line


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


Fault = GpsLoss | BatteryDrop | WindGust | SteadyWind | LinkFault | Reboot

FAULT_TYPES: dict[str, type] = {
    "gps_loss": GpsLoss,
    "battery_drop": BatteryDrop,
    "wind_gust": WindGust,
    "wind": SteadyWind,
    "link": LinkFault,
    "packet_loss": LinkFault,
    "reboot": Reboot,
}


@dataclass(frozen=True)
class ScheduledFault:
    """A fault at simulated time ``at_s`` for one vehicle index (None = every vehicle)."""

    at_s: float
    vehicle: int | None
    fault: Any


def parse_fault(entry: dict[str, Any], where: str) -> Any:
    """Build one fault from a mapping with ``type`` and the dataclass's fields."""
    if not isinstance(entry, dict):
        raise BadInputError(f"{where}: a fault must be a mapping, got {type(entry).__name__}")
    kind = entry.get("type")
    cls = FAULT_TYPES.get(str(kind))
    if cls is None:
        raise BadInputError(
            f"{where}: unknown fault type {kind!r} (one of {', '.join(FAULT_TYPES)})"
        )
    allowed = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("type", "at_s", "vehicle"):
            continue
        if key not in allowed:
            raise BadInputError(
                f"{where}: field {key!r} not valid for {kind} "
                f"(valid: {', '.join(allowed) or 'none'})"
            )
        if key == "link":
            if value not in ("all", "api", "gcs", "tcp"):
                raise BadInputError(f"{where}: link must be all, api, gcs or tcp, got {value!r}")
            kwargs[key] = value
            continue
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise BadInputError(f"{where}: field {key!r} must be a number, got {value!r}") from None
        if num < 0 or math.isnan(num):
            raise BadInputError(f"{where}: field {key!r} must be ≥ 0, got {value!r}")
        if key in ("loss", "duplicate", "corrupt") and num > 1:
            raise BadInputError(f"{where}: field {key!r} is a probability in [0, 1], got {value!r}")
        kwargs[key] = num
    return cls(**kwargs)


def parse_schedule(data: Any, n_vehicles: int | None = None) -> list[ScheduledFault]:
    """Validate a whole schedule (a mapping with ``faults`` or a bare list), sorted by time."""
    entries = data.get("faults") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise BadInputError("fault schedule: expected a list under 'faults'")
    out = []
    for i, e in enumerate(entries):
        where = f"fault schedule entry {i + 1}"
        if not isinstance(e, dict):
            raise BadInputError(f"{where}: must be a mapping")
        fault = parse_fault(e, where)
        try:
            at_s = float(e.get("at_s", 0.0))
        except (TypeError, ValueError):
            raise BadInputError(f"{where}: at_s must be a number") from None
        if at_s < 0 or math.isnan(at_s):
            raise BadInputError(f"{where}: at_s must be ≥ 0")
        veh = e.get("vehicle")
        if veh is not None and (
            not isinstance(veh, int) or veh < 0 or (n_vehicles is not None and veh >= n_vehicles)
        ):
            raise BadInputError(
                f"{where}: vehicle must be an index 0..{(n_vehicles or 1) - 1}, got {veh!r}"
            )
        out.append(ScheduledFault(at_s, veh, fault))
    return sorted(out, key=lambda s: s.at_s)


def load_schedule(path: str | Path, n_vehicles: int | None = None) -> list[ScheduledFault]:
    """Read a JSON or YAML fault schedule file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"{p}: cannot read fault schedule ({exc.strerror})") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise BadInputError(
            f"{p}: not valid {'YAML' if p.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: "
            f"{one_line(exc)}"
        ) from None
    try:
        return parse_schedule(data, n_vehicles)
    except BadInputError as exc:
        raise BadInputError(f"{p}: {exc}") from None
