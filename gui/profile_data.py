"""The altitude profile of a mission (no Qt): AMSL along the path, the ground under it.

:func:`mission_profile` samples the flown path (every positioned navigation item, take-off
and return included) every few metres: the planned altitude AMSL, linear between the items,
and the DEM's ground beneath. The widget (:mod:`gui.profile`) draws it with the band the drone
must stay in (ground to 120 m above it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.geo import geodesic_distance_m

FloatArray = NDArray[np.float64]

CMD_NAV_RETURN_TO_LAUNCH = 20
#: the EU open-category ceiling the band shows (metres above the ground)
MAX_AGL_M = 120.0


@dataclass(frozen=True)
class Profile:
    """A sampled profile; every array has one value per sample along the path."""

    distance_m: FloatArray  #: from the first point
    alt_amsl_m: FloatArray  #: planned altitude
    ground_amsl_m: FloatArray  #: DEM beneath (NaN without a DEM or outside it)
    item_distance_m: FloatArray  #: where the mission's points lie along the path
    home_amsl_m: float
    has_dem: bool
    #: False when neither the plan nor the DEM gives home an altitude: the profile is then
    #: relative to home (home at 0), not above mean sea level
    home_known: bool = True

    @property
    def agl_m(self) -> FloatArray:
        return self.alt_amsl_m - self.ground_amsl_m

    def above_band(self, max_agl_m: float = MAX_AGL_M) -> FloatArray:
        """Distances where the path is higher than ``max_agl_m`` above the ground."""
        bad = np.isfinite(self.ground_amsl_m) & (self.agl_m > max_agl_m + 0.5)
        return self.distance_m[bad]

    def below_ground(self, clearance_m: float = 0.0) -> FloatArray:
        bad = np.isfinite(self.ground_amsl_m) & (self.agl_m < clearance_m)
        return self.distance_m[bad]


def mission_profile(mission: Any, dem: Any = None, step_m: float = 10.0) -> Profile | None:
    """The profile of ``mission`` over ``dem`` (a :class:`missions.terrain.Raster` or None).

    The home's AMSL altitude is the DEM's ground at home when known, else the mission's home
    altitude, else 0 (then the profile is relative to home). None without two positioned points.
    """
    from missions.clearance import HOME_UNKNOWN, home_amsl_source
    from missions.terrain import amsl_altitudes

    items = [it for it in mission.items if it.has_position and it.is_nav]
    if len(items) < 2:
        return None
    home = mission.home
    home_amsl = float(home[2]) if home is not None and home[2] is not None else 0.0
    home_known = home_amsl_source(mission) != HOME_UNKNOWN
    if dem is not None and home is not None:
        g = float(dem.sample([home[0]], [home[1]])[0])
        if math.isfinite(g):
            home_amsl, home_known = g, True
    sub = type(mission)(items=items, home=home)
    alts = np.asarray(amsl_altitudes(sub, dem, home_amsl), dtype=np.float64)
    lon = np.array([it.lon_deg for it in items])
    lat = np.array([it.lat_deg for it in items])
    if home is not None:  # the climb from the launch point and, with a return, the way back
        first = np.nan_to_num(alts[0], nan=home_amsl)
        lon = np.concatenate([[home[0], home[0]], lon])
        lat = np.concatenate([[home[1], home[1]], lat])
        alts = np.concatenate([[home_amsl, first], alts])
        if any(it.command == CMD_NAV_RETURN_TO_LAUNCH for it in mission.items):
            last = np.nan_to_num(alts[-1], nan=home_amsl)
            lon = np.concatenate([lon, [home[0], home[0]]])
            lat = np.concatenate([lat, [home[1], home[1]]])
            alts = np.concatenate([alts, [last, home_amsl]])
    legs = np.asarray(geodesic_distance_m(lon[:-1], lat[:-1], lon[1:], lat[1:]), np.float64)
    cum = np.concatenate([[0.0], np.cumsum(legs)])
    total = float(cum[-1])
    n = int(min(max(total / step_m, 2), 2000)) + 1
    d = np.linspace(0.0, total, n)
    d = np.union1d(d, cum)  # the items themselves are samples (corners stay sharp)
    # position along the path (linear in lon/lat within a leg: legs are short)
    s_lon = np.interp(d, cum, lon)
    s_lat = np.interp(d, cum, lat)
    alt = np.interp(d, cum, np.where(np.isfinite(alts), alts, home_amsl))
    ground = (
        np.asarray(dem.sample(s_lon, s_lat), dtype=np.float64)
        if dem is not None
        else np.full(d.shape, np.nan)
    )
    return Profile(d, alt, ground, cum, home_amsl, dem is not None, home_known)
