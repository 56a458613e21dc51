"""Pure multicopter kinematics, battery, wind and GPS models (no I/O, no threads).

Positions are metres in a local East-North-Up frame at the vehicle's power-on point; every
function takes the state and ``dt_s`` and returns the next value, so the vehicle model is a
deterministic function of its inputs and one seeded ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GRAVITY_M_S2 = 9.80665
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


@dataclass(frozen=True)
class Geodetic:
    """Flat-earth conversion around an origin, accurate to centimetres over a few kilometres."""

    lat0_deg: float
    lon0_deg: float
    alt0_m: float

    @property
    def _radii(self) -> tuple[float, float]:
        s = math.sin(math.radians(self.lat0_deg))
        w = math.sqrt(1.0 - _WGS84_E2 * s * s)
        r_meridian = _WGS84_A * (1.0 - _WGS84_E2) / (w * w * w)
        r_normal = _WGS84_A / w
        return r_meridian, r_normal * math.cos(math.radians(self.lat0_deg))

    def to_lla(self, east_m: float, north_m: float, up_m: float) -> tuple[float, float, float]:
        rm, rn = self._radii
        return (
            self.lat0_deg + math.degrees(north_m / rm),
            self.lon0_deg + math.degrees(east_m / rn),
            self.alt0_m + up_m,
        )

    def to_enu(self, lat_deg: float, lon_deg: float, alt_m: float) -> tuple[float, float, float]:
        rm, rn = self._radii
        return (
            math.radians(lon_deg - self.lon0_deg) * rn,
            math.radians(lat_deg - self.lat0_deg) * rm,
            alt_m - self.alt0_m,
        )


@dataclass(frozen=True)
class Limits:
    """Motion limits of the position controller (from the flavour's parameters)."""

    speed_h_m_s: float
    speed_up_m_s: float
    speed_down_m_s: float
    accel_h_m_s2: float
    accel_v_m_s2: float = 3.0
    yaw_rate_deg_s: float = 60.0


def approach(current: float, target: float, speed_max: float, accel: float, dt_s: float) -> float:
    """1-D velocity toward ``target`` with a speed cap and braking distance (v² = 2·a·d)."""
    d = target - current
    v = min(speed_max, math.sqrt(2.0 * accel * abs(d)))
    return math.copysign(v, d) if abs(d) > 1e-3 else 0.0


#: the least closing speed the vertical paces itself by while the aircraft turns onto a leg
LINE_MIN_CLOSING_M_S = 0.5


def guide_velocity(
    pos: tuple[float, float, float],
    vel: tuple[float, float, float],
    target: tuple[float, float, float] | None,
    limits: Limits,
    dt_s: float,
    vz_override_m_s: float | None = None,
) -> tuple[float, float, float]:
    """Next commanded velocity (E, N, U) toward ``target``, acceleration limited.

    ``target`` None means brake to a stop; ``vz_override_m_s`` forces the vertical speed
    (landing descent).
    """
    if target is None:
        des_e = des_n = des_u = 0.0
    else:
        de, dn = target[0] - pos[0], target[1] - pos[1]
        dist = math.hypot(de, dn)
        dz = target[2] - pos[2]
        # the fastest each axis may go (its cap, braking to stop at the target) ...
        sp_h = min(limits.speed_h_m_s, math.sqrt(2.0 * limits.accel_h_m_s2 * dist), dist / dt_s)
        cap = limits.speed_up_m_s if dz > 0 else limits.speed_down_m_s
        sp_u = min(cap, math.sqrt(2.0 * limits.accel_v_m_s2 * abs(dz)), abs(dz) / dt_s)
        # ... and both flown so that they arrive together: the straight 3-D line to the target,
        # as both firmwares fly a leg (ArduCopter's AC_WPNav track; PX4's PositionSmoothing
        # keeps the velocity along the line and scales it down to the tighter of its limits).
        # Flying each axis at its own speed climbed a leg at the start and crossed the
        # guard's sampled line metres above or below it.
        t_h = dist / sp_h if dist > 1e-3 else 0.0
        t_u = abs(dz) / sp_u if abs(dz) > 1e-3 else 0.0
        togo_s = max(t_h, t_u)
        # the vertical keeps pace with the horizontal progress actually made: turning onto a
        # leg or speeding up along it, the aircraft does not climb ahead of its line
        closing = (vel[0] * de + vel[1] * dn) / dist if dist > 1e-3 else 0.0
        togo_u = max(togo_s, dist / max(closing, LINE_MIN_CLOSING_M_S)) if dist > 1.0 else togo_s
        des_e = de / togo_s if dist > 1e-3 and togo_s > 0.0 else 0.0
        des_n = dn / togo_s if dist > 1e-3 and togo_s > 0.0 else 0.0
        des_u = dz / togo_u if abs(dz) > 1e-3 and togo_u > 0.0 else 0.0
    if vz_override_m_s is not None:
        des_u = vz_override_m_s
    # acceleration limit (horizontal as a vector, vertical separately)
    ae, an = des_e - vel[0], des_n - vel[1]
    amag = math.hypot(ae, an)
    amax = limits.accel_h_m_s2 * dt_s
    if amag > amax:
        ae, an = ae * amax / amag, an * amax / amag
    au = des_u - vel[2]
    avmax = limits.accel_v_m_s2 * dt_s
    au = max(-avmax, min(avmax, au))
    return vel[0] + ae, vel[1] + an, vel[2] + au


@dataclass
class Wind:
    """Steady wind plus a gust; velocities are the air mass moving toward (E, N)."""

    steady_e_m_s: float = 0.0
    steady_n_m_s: float = 0.0
    gust_e_m_s: float = 0.0
    gust_n_m_s: float = 0.0
    gust_until_s: float = -1.0

    @staticmethod
    def from_direction(speed_m_s: float, from_deg: float) -> tuple[float, float]:
        """(E, N) velocity of a wind blowing FROM ``from_deg`` (meteorological convention)."""
        to = math.radians(from_deg + 180.0)
        return speed_m_s * math.sin(to), speed_m_s * math.cos(to)

    def at(self, t_s: float) -> tuple[float, float]:
        if t_s < self.gust_until_s:
            return self.steady_e_m_s + self.gust_e_m_s, self.steady_n_m_s + self.gust_n_m_s
        return self.steady_e_m_s, self.steady_n_m_s


@dataclass
class Battery:
    """A LiPo pack: open-circuit voltage from state of charge, sag from internal resistance."""

    cells: int
    capacity_mah: float
    consumed_mah: float = 0.0
    internal_r_ohm: float = 0.012
    current_a: float = 0.0
    soc_offset: float = 0.0  # instant loss (cell failure fault)

    @property
    def remaining(self) -> float:
        """State of charge 0..1."""
        return max(0.0, 1.0 - self.consumed_mah / self.capacity_mah - self.soc_offset)

    @property
    def voltage_v(self) -> float:
        soc = self.remaining
        # piecewise LiPo open-circuit curve per cell (empty 3.3 V, nominal 3.8 V, full 4.2 V)
        if soc > 0.2:
            cell = 3.7 + 0.5 * (soc - 0.2) / 0.8
        else:
            cell = 3.3 + 0.4 * soc / 0.2
        return self.cells * cell - self.current_a * self.internal_r_ohm * self.cells

    def draw(self, current_a: float, dt_s: float) -> None:
        self.current_a = current_a
        self.consumed_mah += current_a * dt_s / 3.6


def flight_current_a(
    hover_a: float, airspeed_m_s: float, climb_m_s: float, flying: bool, armed: bool
) -> float:
    """Electrical current: hover power grows with airspeed² (drag) and with climb rate."""
    if not armed:
        return 0.4  # avionics only
    if not flying:
        return 0.15 * hover_a  # props idling on the ground
    return hover_a * (1.0 + 0.004 * airspeed_m_s * airspeed_m_s + 0.08 * max(0.0, climb_m_s))


@dataclass
class Gps:
    """GPS receiver: fix state, satellites, noise (Gauss-Markov random walk) per sample."""

    fix_type: int = 0
    satellites: int = 0
    eph_m: float = 99.99
    noise_e_m: float = 0.0
    noise_n_m: float = 0.0
    noise_u_m: float = 0.0
    lost_until_s: float = -1.0
    fix_after_s: float = 3.0

    def step(self, t_s: float, dt_s: float, rng: np.random.Generator) -> None:
        if t_s < self.lost_until_s or t_s < self.fix_after_s:
            self.fix_type, self.satellites, self.eph_m = (
                (1 if t_s >= self.fix_after_s else 0),
                0,
                99.99,
            )
            return
        self.fix_type, self.satellites, self.eph_m = 3, 14, 0.8
        k = math.exp(-dt_s / 30.0)
        s = math.sqrt(1.0 - k * k)
        n = rng.standard_normal(3)
        self.noise_e_m = k * self.noise_e_m + s * 0.3 * float(n[0])
        self.noise_n_m = k * self.noise_n_m + s * 0.3 * float(n[1])
        self.noise_u_m = k * self.noise_u_m + s * 0.5 * float(n[2])

    @property
    def has_fix(self) -> bool:
        return self.fix_type >= 3
