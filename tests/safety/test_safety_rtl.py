"""RTL as the autopilots fly it: a climb to the return altitude first (ArduCopter RTL_ALT,
PX4 RTL_RETURN_ALT), then to the nearest of home and the rally points, and down there."""

from __future__ import annotations

import pytest

from missions.clearance import clear_for_flight
from missions.model import Mission, RallyPoint
from missions.trajectory import trajectory
from missions.validation import validate
from missions.vehicles import get_vehicle

from .conftest import GROUND_M, ORIGIN, offset, simple_items


def _mission(alt_m: float = 30.0, rally: tuple[float, float] | None = None) -> Mission:
    m = Mission(
        items=simple_items(ORIGIN, [offset(ORIGIN, 400, 0)], alt_m),
        home=(ORIGIN[0], ORIGIN[1], GROUND_M),
    )
    if rally is not None:
        lon, lat = offset(ORIGIN, *rally)
        m.rally_points = [RallyPoint(lon, lat, 20.0)]
    return m


def _rtl(tr: object, k: int = 2) -> tuple[float, float]:
    """(highest altitude above home, the last east position) of the RTL (item ``k``)."""
    sel = tr.item == k  # type: ignore[attr-defined]
    return (
        float(tr.alt[sel].max() - GROUND_M),  # type: ignore[attr-defined]
        float(tr.x[sel][-1] - tr.home_xy[0]),  # type: ignore[attr-defined]
    )


def test_rtl_climbs_to_the_return_altitude_first() -> None:
    flat = trajectory(_mission())
    assert _rtl(flat) == pytest.approx((30.0, 0.0), abs=0.01)
    px4 = trajectory(_mission(), rtl_alt_m=60.0)
    assert _rtl(px4) == pytest.approx((60.0, 0.0), abs=0.01)
    assert px4.duration_s > flat.duration_s + 9.0  # 30 m up at 3 m/s, 30 m more down at 2
    assert any("up to 60 m above home" in n for n in px4.notes)
    higher = trajectory(_mission(alt_m=80.0), rtl_alt_m=60.0)  # above it: returns as it is
    assert _rtl(higher)[0] == pytest.approx(80.0, abs=0.01)


def test_rtl_goes_to_the_nearest_rally_point() -> None:
    near = trajectory(_mission(rally=(350, 50)))
    assert _rtl(near)[1] == pytest.approx(350.0, abs=0.5)
    far = trajectory(_mission(rally=(-600, 0)))  # home is nearer
    assert _rtl(far)[1] == pytest.approx(0.0, abs=0.5)


def test_a_return_altitude_above_120_m_is_unsafe() -> None:
    assert validate(_mission(), rtl_alt_m=60.0).ok
    rep = validate(_mission(), rtl_alt_m=130.0)
    high = [v for v in rep.violations if v.rule == "max_agl"]
    assert high and high[0].item_index == 2 and high[0].value == pytest.approx(130.0, abs=1)


def test_the_profile_gives_the_autopilots_default() -> None:
    # PX4's multicopter default (rc.mc_defaults), not the parameter's 60 m
    assert get_vehicle("px4-quad").return_alt_m() == 30.0
    low = _mission(alt_m=20.0)
    fc = clear_for_flight(low, vehicle=get_vehicle("px4-quad"), raise_on_unsafe=False)
    assert any("up to 30 m above home" in n for n in fc.sorties[0].report.notes)
    fc = clear_for_flight(
        low, vehicle=get_vehicle("px4-quad"), rtl_alt_m=15.0, raise_on_unsafe=False
    )
    assert not any("above home before it returns" in n for n in fc.sorties[0].report.notes)
