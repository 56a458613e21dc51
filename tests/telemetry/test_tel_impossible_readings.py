"""A damaged or hostile sender's impossible readings are not stored as readings.

Found from outside with a fake vehicle on loopback (``tests/link/test_link_hostile_vehicle.py``
covers the link's state): ``record`` and a ``.tlog`` import stored GLOBAL_POSITION_INT's
INT32_MAX coordinates as a sample at 214.7°, a charge of 120 % as it came, and a STATUSTEXT's
terminal escape sequences as they came.
"""

from __future__ import annotations

import math

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.track import MavlinkTrackBuilder

_MAV = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)


def _msg(m: mavlink.MAVLink_message) -> mavlink.MAVLink_message:
    """``m`` as it arrives: packed and decoded, from system 1."""
    return _MAV.decode(bytearray(m.pack(_MAV)))


def _builder() -> MavlinkTrackBuilder:
    b = MavlinkTrackBuilder(vehicle_clock=False)
    b.feed(_msg(mavlink.MAVLink_heartbeat_message(2, 3, 81, 4, 4, 3)), 1000.0)
    return b


def _position(lat_e7: int, lon_e7: int) -> mavlink.MAVLink_message:
    return _msg(
        mavlink.MAVLink_global_position_int_message(
            1000, lat_e7, lon_e7, 350_000, 40_000, 0, 0, 0, 0
        )
    )


def _samples(b: MavlinkTrackBuilder) -> list[tuple]:  # type: ignore[type-arg]
    return [row for kind, row in b.out if kind == "S"]


def test_an_impossible_position_is_no_position() -> None:
    b = _builder()
    for lat, lon in ((2**31 - 1, 2**31 - 1), (-(2**31), 133_776_000), (497_475_000, 1_900_000_000)):
        b.feed(_position(lat, lon), 1001.0)
    b.feed(_position(497_475_000, 133_776_000), 1002.0)
    rows = _samples(b)
    assert len(rows) == 4
    for row in rows[:3]:
        assert math.isnan(row[2]) and math.isnan(row[3]) and math.isnan(row[4]), row
    assert (round(rows[3][2], 4), round(rows[3][3], 4)) == (49.7475, 13.3776)


def test_an_impossible_charge_is_no_charge() -> None:
    b = _builder()
    for remaining in (120, 100, 0):
        b.feed(
            _msg(
                mavlink.MAVLink_sys_status_message(
                    0, 0, 0, 500, 15_800, 1200, remaining, 0, 0, 0, 0, 0, 0
                )
            ),
            1001.0,
        )
        b.feed(_position(497_475_000, 133_776_000), 1001.5)
    charges = [row[11] for row in _samples(b)]
    assert math.isnan(charges[0]) and charges[1:] == [100.0, 0.0]


def test_a_statustext_cannot_rewrite_the_operators_terminal() -> None:
    b = _builder()
    b.feed(
        _msg(mavlink.MAVLink_statustext_message(4, b"PreArm: \x1b[2J\x1b[31mGPS\x07 bad")), 1001.0
    )
    texts = [row[3] for kind, row in b.out if kind == "E" and row[2] == "statustext"]
    assert texts == ["PreArm: \ufffd[2J\ufffd[31mGPS\ufffd bad"]
