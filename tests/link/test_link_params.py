"""Parameter read and write through the link layer, on both simulator flavours over real sockets.

PX4 copies an integer parameter's bytes into PARAM_VALUE's float field, ArduPilot casts it: a
reader that decodes one way only reads NAV_DLL_ACT = 2 as 2.8e-45 on PX4.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from dronekit_plzen.errors import BadInputError, LinkTimeout, ParameterError
from dronekit_plzen.link import connect
from dronekit_plzen.link.params import (
    PARAM_TYPE_INT32,
    PARAM_TYPE_REAL32,
    decode_value,
    encode_value,
    read_params,
)

CASES = {
    # flavour: (float param, new value, int param, new value, out-of-range value)
    "px4": ("MPC_XY_CRUISE", 7.5, "NAV_DLL_ACT", 2, 99),
    "ardupilot": ("WPNAV_SPEED", 750.0, "FS_GCS_ENABLE", 1, 99),
}


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_read_and_write_float_and_integer_parameters(
    sim_factory: Any, sim_url_of: Any, autopilot: str
) -> None:
    fname, fval, iname, ival, bad = CASES[autopilot]
    fleet = sim_factory(1, autopilot, boot_settle_s=1.0)
    with connect(sim_url_of(fleet, 0), heartbeat_hz=5) as link:
        v = link.wait_vehicle(timeout_s=10)
        assert v.get_param(iname) == 0.0
        assert v.set_param(fname, fval) == pytest.approx(fval)
        assert v.set_param(iname, ival) == ival
        assert v.get_param(iname) == ival and v.get_param(fname) == pytest.approx(fval)
        sim_params = fleet.vehicles[0].model.params
        assert sim_params[iname].value == ival and sim_params[fname].value == pytest.approx(fval)
        with pytest.raises(ParameterError, match=f"{iname} is {ival} after setting it to {bad}"):
            v.set_param(iname, bad)  # out of range: the vehicle keeps its value
        with pytest.raises(LinkTimeout, match="NO_SUCH_PARAM"):
            v.get_param("NO_SUCH_PARAM", timeout_s=1.0)
        with pytest.raises(BadInputError):
            v.set_param(iname, 1.5, param_type=PARAM_TYPE_INT32)


@pytest.mark.parametrize("bytewise", [True, False])
@pytest.mark.parametrize("value", [0, 1, 2, 7, -3, 4001, 2**31 - 1])
def test_integer_encoding_round_trips(value: int, bytewise: bool) -> None:
    wire = encode_value(value, PARAM_TYPE_INT32, bytewise)
    assert decode_value(wire, PARAM_TYPE_INT32, bytewise) == value
    assert decode_value(12.25, PARAM_TYPE_REAL32, bytewise) == 12.25


def test_px4_bytewise_is_not_a_cast() -> None:
    wire = encode_value(2, PARAM_TYPE_INT32, bytewise=True)
    assert wire != 2.0 and 0 < wire < 1e-40  # the float whose bits are 0x00000002


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_read_params_asks_together_and_a_missing_name_costs_the_shared_time_once(
    sim_factory: Any, sim_url_of: Any, autopilot: str
) -> None:
    """Twenty names and four the firmware lacks (put first, so they would hold the window of
    requests in flight): every known one is read, with its value, within the one timeout;
    asked one by one, the four missing names alone would cost four timeouts."""
    fleet = sim_factory(1, autopilot, boot_settle_s=0.5)
    sim_params = fleet.vehicles[0].model.params
    known = list(sim_params)[:20]
    missing = [f"NO_SUCH_{i}" for i in range(4)]
    with connect(sim_url_of(fleet, 0), heartbeat_hz=5) as link:
        v = link.wait_vehicle(timeout_s=10)
        t0 = time.monotonic()
        got = read_params(v, [*missing, *known], timeout_s=1.5, window=4)
        took = time.monotonic() - t0
    assert list(got) == known  # in the order asked, the missing ones absent
    for name in known:
        assert got[name].value == pytest.approx(sim_params[name].value, rel=1e-6, abs=1e-6)
    assert took < 1.5 + 1.0, took


def test_vehicle_rtl_params_waits_once_for_names_an_older_firmware_lacks(
    sim_factory: Any, sim_url_of: Any
) -> None:
    """An ArduCopter build without RTL_ALT_TYPE, TERRAIN_SPACING and the rally parameters (an
    older version): the RTL parameters are read in one go, the lacking ones keep their
    defaults, and the wait is the shared 3 s, not 2 s per lacking name as when they were read
    one by one."""
    from dronekit_plzen.fleet import vehicle_rtl_params

    fleet = sim_factory(1, "ardupilot", boot_settle_s=0.5)
    fleet.vehicles[0].lack_params(
        "RTL_ALT_TYPE", "TERRAIN_SPACING", "RALLY_LIMIT_KM", "RALLY_INCL_HOME"
    )
    with connect(sim_url_of(fleet, 0), heartbeat_hz=5) as link:
        v = link.wait_vehicle(timeout_s=10)
        v.set_param("RTL_ALT", 4500.0)
        with pytest.raises(LinkTimeout, match="RTL_ALT_TYPE"):
            v.get_param("RTL_ALT_TYPE", timeout_s=1.0)  # the build has none
        t0 = time.monotonic()
        rtl = vehicle_rtl_params(v)
        took = time.monotonic() - t0
    assert rtl is not None and rtl.from_vehicle and rtl.return_alt_m == pytest.approx(45.0)
    assert rtl.alt_type == 0 and rtl.rally_limit_km == pytest.approx(0.3)  # the defaults
    assert took < 3.0 + 1.0, took  # one by one: 4 × 2 s for the lacking names alone
