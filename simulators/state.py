"""Immutable snapshots and events the vehicle model publishes (safe to share across threads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# MAV_SEVERITY
SEVERITY_EMERGENCY = 0
SEVERITY_CRITICAL = 2
SEVERITY_WARNING = 4
SEVERITY_NOTICE = 5
SEVERITY_INFO = 6


@dataclass(frozen=True)
class VehicleState:
    """One vehicle at one instant of simulated time (SI units, WGS84 degrees)."""

    sysid: int
    autopilot: str
    time_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    relative_alt_m: float
    vn_m_s: float
    ve_m_s: float
    vd_m_s: float
    groundspeed_m_s: float
    airspeed_m_s: float
    heading_deg: float
    roll_deg: float
    pitch_deg: float
    armed: bool
    mode: str
    landed: bool
    battery_remaining_pct: float
    battery_voltage_v: float
    battery_current_a: float
    battery_consumed_mah: float
    gps_fix_type: int
    gps_satellites: int
    home_lat_deg: float
    home_lon_deg: float
    home_alt_amsl_m: float
    mission_current_seq: int
    mission_count: int
    fence_count: int
    rally_count: int
    mission_finished: bool
    failsafes: tuple[str, ...]
    reached_seqs: tuple[int, ...]
    images_captured: int
    wind_e_m_s: float
    wind_n_m_s: float
    fence_breached: bool
    booting: bool
    signing_enabled: bool = False
    statustexts: tuple[str, ...] = field(default=())

    @property
    def in_air(self) -> bool:
        return not self.landed


@dataclass(frozen=True)
class Event:
    """Something the model did that the protocol layer reports (STATUSTEXT, reached, camera…)."""

    kind: str
    data: dict[str, Any]
