"""Vehicle performance profiles for time, endurance and sortie planning.

Example
-------
>>> v = get_vehicle("mavic3t")
>>> v.usable_endurance_s
1710.0
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError, ConfigError
from missions._profiles import field_values, load_profiles, lookup


@dataclass(frozen=True)
class Vehicle:
    """How a vehicle flies a mission, as the planner's time model needs it.

    ``turn_mode`` ``"stop"``: a multirotor that stops at each corner, yaws at ``yaw_rate_deg_s``
    and accelerates again (``accel_m_s2``); ``"coordinated"``: it turns on a circle of
    ``turn_radius_m`` at cruise speed (fixed wing, or a multirotor with cornering).
    ``battery_reserve_pct`` of ``endurance_min`` is never planned.
    """

    key: str
    name: str
    cruise_speed_m_s: float = 10.0
    max_speed_m_s: float = 15.0
    accel_m_s2: float = 3.0
    climb_rate_m_s: float = 3.0
    descent_rate_m_s: float = 2.0
    turn_mode: str = "stop"
    yaw_rate_deg_s: float = 90.0
    turn_radius_m: float = 0.0
    endurance_min: float = 20.0
    battery_reserve_pct: float = 25.0
    wind_limit_m_s: float = 10.0
    camera: str = ""
    autopilot: str = "px4"  # "px4" | "ardupilot" | "dji"
    #: the altitude above home RTL climbs to before it returns (None: the autopilot's default,
    #: :data:`RTL_ALT_DEFAULT_M`; ``fly`` reads the vehicle's own parameter instead)
    rtl_alt_m: float | None = None

    def __post_init__(self) -> None:
        for k in ("cruise_speed_m_s", "accel_m_s2", "climb_rate_m_s", "descent_rate_m_s"):
            if not getattr(self, k) > 0:
                raise ConfigError(f"vehicle {self.key}: {k} must be positive")
        if self.turn_mode not in ("stop", "coordinated"):
            raise ConfigError(f"vehicle {self.key}: turn_mode must be 'stop' or 'coordinated'")
        if not 0 <= self.battery_reserve_pct < 100:
            raise ConfigError(f"vehicle {self.key}: battery_reserve_pct must be in [0, 100)")

    def return_alt_m(self) -> float | None:
        """The RTL climb altitude above home: the profile's, else the autopilot's default."""
        return (
            self.rtl_alt_m if self.rtl_alt_m is not None else RTL_ALT_DEFAULT_M.get(self.autopilot)
        )

    @property
    def usable_endurance_s(self) -> float:
        """Planned flight time available per battery (endurance minus reserve)."""
        return self.endurance_min * 60.0 * (1.0 - self.battery_reserve_pct / 100.0)

    def with_speed(self, speed_m_s: float) -> Vehicle:
        if not 0 < speed_m_s <= max(self.max_speed_m_s, self.cruise_speed_m_s):
            raise BadInputError(
                f"speed {speed_m_s} m/s is outside (0, {self.max_speed_m_s}] for {self.name}"
            )
        return Vehicle(**{**self.to_dict(), "cruise_speed_m_s": speed_m_s})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


#: the firmware defaults of the altitude above home RTL climbs to first: ArduCopter RTL_ALT
#: (1500 cm; higher flight returns at its altitude), PX4 RTL_RETURN_ALT (60 m)
RTL_ALT_DEFAULT_M = {"ardupilot": 15.0, "px4": 60.0}

_SPEC: dict[str, type] = {
    "key": str,
    "name": str,
    "cruise_speed_m_s": float,
    "max_speed_m_s": float,
    "accel_m_s2": float,
    "climb_rate_m_s": float,
    "descent_rate_m_s": float,
    "turn_mode": str,
    "yaw_rate_deg_s": float,
    "turn_radius_m": float,
    "endurance_min": float,
    "battery_reserve_pct": float,
    "wind_limit_m_s": float,
    "camera": str,
    "autopilot": str,
    "rtl_alt_m": float,
}


def vehicle_from_dict(data: dict[str, Any], where: str = "vehicle") -> Vehicle:
    vals = field_values(data, _SPEC, where)
    vals.setdefault("name", vals.get("key", "vehicle"))
    if "key" not in vals:
        raise ConfigError("vehicle profile lacks key", where=where)
    return Vehicle(**vals)


def load_vehicles(user_dir: str | Path | None = None) -> dict[str, Vehicle]:
    """Shipped vehicle profiles plus ``*.toml`` in ``user_dir`` (same key overrides)."""
    return load_profiles("vehicles", vehicle_from_dict, user_dir)


def get_vehicle(name: str, user_dir: str | Path | None = None) -> Vehicle:
    """A vehicle by key or name, e.g. ``"mavic3t"`` or ``"DJI Matrice 30T"``."""
    return lookup(load_vehicles(user_dir), name, "vehicle")
