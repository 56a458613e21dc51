"""Vehicle performance profiles for time, endurance and sortie planning.

Example
-------
>>> v = get_vehicle("mavic3t")
>>> v.usable_endurance_s
1710.0
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dronekit_plzen import rtl_cone
from dronekit_plzen.errors import BadInputError, ConfigError
from dronekit_plzen.i18n import _
from dronekit_plzen.rtl_cone import RtlParams
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
    #: the return cone (:mod:`dronekit_plzen.rtl_cone`; None: the autopilot's default; ``fly``
    #: reads the vehicle's own parameters instead): PX4 RTL_CONE_ANG, RTL_MIN_DIST and
    #: NAV_ACC_RAD, ArduCopter RTL_CONE_SLOPE
    rtl_cone_deg: float | None = None
    rtl_min_dist_m: float | None = None
    nav_acc_rad_m: float | None = None
    rtl_cone_slope: float | None = None
    #: where RTL returns to and how (``fly`` reads the vehicle's own values instead): PX4
    #: RTL_TYPE (0 straight home, 2 and 4 the mission backwards, ...), ArduCopter RTL_ALT_TYPE
    #: (1: above the terrain); None: 0, the firmware default
    rtl_type: int | None = None
    rtl_alt_type: int | None = None

    def __post_init__(self) -> None:
        for k in ("cruise_speed_m_s", "accel_m_s2", "climb_rate_m_s", "descent_rate_m_s"):
            if not getattr(self, k) > 0:
                raise ConfigError(
                    _("vehicle {key}: {k} must be positive").format(key=self.key, k=k)
                )
        if self.turn_mode not in ("stop", "coordinated"):
            raise ConfigError(
                _("vehicle {key}: turn_mode must be 'stop' or 'coordinated'").format(key=self.key)
            )
        if not 0 <= self.battery_reserve_pct < 100:
            raise ConfigError(
                _("vehicle {key}: battery_reserve_pct must be in [0, 100)").format(key=self.key)
            )

    def return_alt_m(self) -> float | None:
        """The RTL climb altitude above home: the profile's, else the autopilot's default."""
        return (
            self.rtl_alt_m if self.rtl_alt_m is not None else RTL_ALT_DEFAULT_M.get(self.autopilot)
        )

    def rtl_params(self) -> RtlParams | None:
        """What the RTL return altitude depends on: the profile's values, else the autopilot's
        defaults (None for an autopilot whose RTL is not modelled, e.g. DJI). Not read from the
        vehicle, so the guard checks the ceiling with the climb a vehicle without cone flies."""
        alt = self.return_alt_m()
        if self.autopilot not in rtl_cone.AUTOPILOTS or alt is None:
            return None
        p = rtl_cone.defaults(self.autopilot, return_alt_m=alt)
        return replace(
            p,
            cone_half_angle_deg=_or(self.rtl_cone_deg, p.cone_half_angle_deg),
            min_dist_m=_or(self.rtl_min_dist_m, p.min_dist_m),
            nav_acc_rad_m=_or(self.nav_acc_rad_m, p.nav_acc_rad_m),
            cone_slope=_or(self.rtl_cone_slope, p.cone_slope),
            rtl_type=self.rtl_type or 0,
            alt_type=self.rtl_alt_type or 0,
        )

    @property
    def usable_endurance_s(self) -> float:
        """Planned flight time available per battery (endurance minus reserve)."""
        return self.endurance_min * 60.0 * (1.0 - self.battery_reserve_pct / 100.0)

    def with_speed(self, speed_m_s: float) -> Vehicle:
        if not 0 < speed_m_s <= max(self.max_speed_m_s, self.cruise_speed_m_s):
            raise BadInputError(
                _("speed {v} m/s is outside (0, {top}] for {name}").format(
                    v=speed_m_s, top=self.max_speed_m_s, name=self.name
                )
            )
        return Vehicle(**{**self.to_dict(), "cruise_speed_m_s": speed_m_s})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


#: the firmware defaults of the altitude above home RTL climbs to first: ArduCopter RTL_ALT
#: (1500 cm; higher flight returns at its altitude), PX4 RTL_RETURN_ALT (60 m)
RTL_ALT_DEFAULT_M = {"ardupilot": 15.0, "px4": rtl_cone.PX4_MC_RETURN_ALT_M}

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
    "rtl_cone_deg": float,
    "rtl_min_dist_m": float,
    "nav_acc_rad_m": float,
    "rtl_cone_slope": float,
    "rtl_type": int,
    "rtl_alt_type": int,
}


def vehicle_from_dict(data: dict[str, Any], where: str = "vehicle") -> Vehicle:
    vals = field_values(data, _SPEC, where)
    vals.setdefault("name", vals.get("key", "vehicle"))
    if "key" not in vals:
        raise ConfigError(_("vehicle profile lacks key"), where=where)
    return Vehicle(**vals)


def load_vehicles(user_dir: str | Path | None = None) -> dict[str, Vehicle]:
    """Shipped vehicle profiles plus ``*.toml`` in ``user_dir`` (same key overrides)."""
    return load_profiles("vehicles", vehicle_from_dict, user_dir)


def get_vehicle(name: str, user_dir: str | Path | None = None) -> Vehicle:
    """A vehicle by key or name, e.g. ``"mavic3t"`` or ``"DJI Matrice 30T"``."""
    return lookup(load_vehicles(user_dir), name, "vehicle")
