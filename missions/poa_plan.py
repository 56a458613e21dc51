"""A probability-driven search made flyable: the sensor's footprints, the reach of one battery,
the paths (:func:`missions.poa.plan_poa`) and each drone's path cut into sorties that pass the
guard. One core for ``plan poa`` (:mod:`missions.cli_poa`) and the GUI's probability search.

The caller brings the guard as a callable, since the CLI raises on an unsafe sortie (exit 3)
while the GUI shows the findings: :func:`cut_into_sorties` only needs to know whether the
endurance check alone failed, which a shorter cut may mend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from dronekit_plzen import geo
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

#: the farthest a searched cell may be from the launch point, as a share of the distance one
#: battery flies (out and back is 2 × that; the rest for climbing, turns and a little search)
REACH_SHARE = 0.4
#: the farthest a path's vertex may be from the launch point: this share of half of what one
#: battery flies after the climb, the landing and one piece of a leg (2 % for the stops at the
#: ends of the legs); the reach is never beyond it
FARTHEST_SHARE = 0.98
#: the sortie cutter's endurance, as shares of the vehicle's, tried in turn until every sortie
#: passes the guard's endurance check (the guard times a flight waypoint by waypoint, the cutter
#: with a smoother model); finely at first: near the edge of the reach a sortie only 5 % shorter
#: may still fly out to the far legs where one 20 % shorter cannot
CUT_SHARES = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)

T = TypeVar("T")


def footprints(
    alts: Sequence[float],
    *,
    fov_deg: float | None = None,
    camera: str | None = None,
    target: str | None = None,
    disc: bool = False,
    camera_dir: Any = None,
) -> tuple[list[Any], Any, Any]:
    """The detection footprint at each altitude, the camera profile and the target (both None
    with ``fov_deg``): a field of view finds everything in view, a camera finds the target with
    the probability its pixels give (:mod:`missions.detection`)."""
    from missions.poa_cover import Footprint

    if (fov_deg is None) == (camera is None):
        raise BadInputError(_("give either --fov-deg or --camera"))
    if fov_deg is not None:
        if not 0 < fov_deg < 170:
            raise BadInputError(_("--fov-deg must be in (0, 170), got {v:g}").format(v=fov_deg))
        if target:  # it was dropped without a word: detection was certain in view
            raise BadInputError(
                _(
                    "--target needs --camera: how well a subject is seen depends on the camera's "
                    "pixels (with --fov-deg alone, everything in view is found)"
                )
            )
        w = [2.0 * a * math.tan(math.radians(fov_deg) / 2.0) for a in alts]
        return [Footprint(x, x, 1.0, disc=disc) for x in w], None, None
    from missions.camera import get_camera
    from missions.detection import get_target, sweep_width_m

    assert camera is not None
    cam = get_camera(camera, camera_dir)
    tgt = get_target(target or "person", cam)
    fps = []
    for a in alts:
        sweep_width_m(cam, a, tgt)  # raises when the subject would be too small at this height
        across, along = cam.footprint_m(a)
        fps.append(Footprint(across, along, tgt.pd_in_footprint, disc=disc))
    return fps, cam, tgt


@dataclass(frozen=True)
class SearchSetup:
    """Where a search may go: the launch point in the map's CRS, the reach of its cells and the
    farthest a vertex may lie, both from the launch point (metres)."""

    launch_lonlat: tuple[float, float]
    launch_xy: tuple[float, float]
    reach_m: float
    farthest_m: float
    epsg: int


def prepare_search(
    grid: Any, launch_lonlat: tuple[float, float], alts: Sequence[float], veh: Any, where: str
) -> SearchSetup:
    """Check that a search from ``launch_lonlat`` at ``alts`` can be flown over ``grid`` by
    ``veh`` and work out its reach (BadInputError naming ``where``, the map, otherwise)."""
    from missions.metrics import climb_and_landing_s
    from missions.poa_cover import point_in_grid
    from missions.sorties import SORTIE_MARGIN, SORTIE_PIECES

    x, y = geo.transform([launch_lonlat[0]], [launch_lonlat[1]], geo.WGS84, grid.crs)
    lxy = (float(x[0]), float(y[0]))
    if not point_in_grid(grid, lxy):
        raise BadInputError(
            _("the launch point is far outside the map (latitude and longitude swapped?)"),
            where=where,
        )
    # a sortie flies out, searches and comes back on one battery: search only within reach,
    # and no vertex farther out than a sortie can fly to and back from after its climb and
    # landing (at the highest layer): at 200 m they take a quarter of a battery, and an
    # expanding square's corners (√2 × the reach out) could not be cut into sorties at all
    flight_s = veh.usable_endurance_s * SORTIE_MARGIN
    top = max(alts)
    up_down_s = climb_and_landing_s(veh, top)
    # out and back, and one piece of a leg (the sortie cutter's unit), in what is left
    piece_m = veh.cruise_speed_m_s * flight_s / SORTIE_PIECES
    level_m = max(flight_s - up_down_s, 0.0) * veh.cruise_speed_m_s
    farthest = FARTHEST_SHARE * max(level_m - piece_m, 0.0) / 2.0
    if farthest <= 0.0:
        raise BadInputError(
            _(
                "at {alt:g} m the climb and the landing alone take {t:.0f} s of the {u:.0f} s a "
                "sortie may fly: no search is left (fly lower)"
            ).format(alt=top, t=up_down_s, u=flight_s)
        )
    reach = min(REACH_SHARE * flight_s * veh.cruise_speed_m_s, farthest)
    epsg = geo.as_crs(grid.crs).to_epsg()
    if epsg is None:
        raise BadInputError(_("the map's CRS has no EPSG code"), where=where)
    return SearchSetup(launch_lonlat, lxy, reach, farthest, int(epsg))


def crop_to_reach(grid: Any, launch_xy: tuple[float, float], reach_m: float) -> Any:
    """The part of ``grid`` a search from ``launch_xy`` can reach: the whole cells within
    ``reach_m`` of it in each direction (and one more), their values as they are (not
    renormalised, so a share covered is still a share of the whole map). Far cells hold no
    probability the planner may use (:func:`missions.poa.within_reach` zeroes them), but they
    cost it time: a dementia map to its 95 % distance, 12.8 km, has 854 × 854 cells of 30 m, of
    which a 5 km reach needs a third a side (2 drones, 5 km each: 17 s → 3 s to plan)."""
    from missions.poa_map import PoaGrid

    ny, nx = grid.shape
    c = grid.cell_m
    lx, ly = launch_xy
    c0 = max(math.floor((lx - reach_m - grid.x0) / c) - 1, 0)
    c1 = min(math.ceil((lx + reach_m - grid.x0) / c) + 1, nx)
    r0 = max(math.floor((grid.y0 - (ly + reach_m)) / c) - 1, 0)
    r1 = min(math.ceil((grid.y0 - (ly - reach_m)) / c) + 1, ny)
    if (c0, r0, c1, r1) == (0, 0, nx, ny) or c1 <= c0 or r1 <= r0:
        return grid  # all of it within reach, or none (within_reach says so)
    prob = np.ascontiguousarray(grid.prob[r0:r1, c0:c1])
    return PoaGrid(prob, grid.x0 + c0 * c, grid.y0 - r0 * c, c, grid.crs)


def plan_search(
    grid: Any,
    setup: SearchSetup,
    fps: Sequence[Any],
    alts: Sequence[float],
    budget_m: float,
    veh: Any,
) -> Any:
    """The paths (:class:`missions.poa.PoaPlan`) of a prepared search."""
    from missions.poa import check_strips, plan_poa, within_reach

    grid = crop_to_reach(grid, setup.launch_xy, setup.reach_m)
    check_strips(within_reach(grid, setup.launch_xy, setup.reach_m), min(f.across_m for f in fps))
    return plan_poa(
        grid,
        setup.launch_xy,
        list(fps),
        list(alts),
        budget_m,
        speed_m_s=veh.cruise_speed_m_s,
        reach_m=setup.reach_m,
        max_radius_m=setup.farthest_m,
    )


def drone_missions(
    plan: Any,
    setup: SearchSetup,
    cam: Any,
    tgt: Any,
    veh: Any,
    share: float,
    *,
    end: str = "rtl",
    poa_name: str = "",
) -> list[Any]:
    """One PlanResult per needed drone, its path cut into sorties of ``share`` of the vehicle's
    endurance (a drone that is not needed stays on the ground: no mission)."""
    from missions.mission_build import MissionOptions
    from missions.patterns.base import SEARCH, PathPlan
    from missions.plan_core import finish, resolve_sensor

    cut_veh = replace(veh, endurance_min=veh.endurance_min * share)
    results = []
    for i, p in enumerate(plan.paths):
        if not p.needed:
            continue
        sensor = resolve_sensor(
            cam, alt_m=p.alt_m, spacing_m=p.footprint.across_m, target=tgt, trigger="none"
        )
        path = PathPlan(p.xy, np.full(len(p.xy) - 1, SEARCH, dtype=np.int8), setup.epsg, info={})
        meta = {
            "drone": i + 1,
            "probability_covered": round(p.covered, 6),
            "start_delay_s": p.start_delay_s,
            "poa_map": poa_name,
        }
        results.append(
            finish(
                path,
                sensor,
                cut_veh,
                pattern="poa",
                area_m=None,
                home=setup.launch_lonlat,
                options=MissionOptions(trigger="none", end=end),
                extra_meta=meta,
            )
        )
    return results


def cut_into_sorties(
    plan: Any,
    setup: SearchSetup,
    cam: Any,
    tgt: Any,
    veh: Any,
    check: Callable[[list[Any]], T | None],
    *,
    end: str = "rtl",
    poa_name: str = "",
) -> tuple[list[Any], T | None]:
    """Each drone's path cut into sorties, shorter in turn (:data:`CUT_SHARES`) while
    ``check`` (the caller's guard over every sortie) answers None: only the endurance check
    failed. The last results and ``check``'s answer (None when no cut passed: the caller
    gives the guard's verdict)."""
    results: list[Any] = []
    for share in CUT_SHARES:
        try:
            cut = drone_missions(plan, setup, cam, tgt, veh, share, end=end, poa_name=poa_name)
            verdict = check(cut)
        except BadInputError:
            if not results:
                raise
            break  # shorter sorties no longer reach the far legs: the caller's verdict
        results = cut
        if verdict is not None:
            return results, verdict
    return results, None
