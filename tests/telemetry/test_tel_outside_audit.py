"""Flight logs stored as something other than they hold (found from outside in session 43
against pymavlink's reading of the same logs; every one had exited 0). Each test fails on the
code before the fix."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import pytest

from telemetry.importer import import_file
from telemetry.store import open_store
from telemetry.tlog import iter_tlog, make_codec
from telemetry.track import MavlinkTrackBuilder

TLOG = "tlog_dronekit_flight.tlog"
BIN = "df_uob_2023-07-06_10-12-18.bin"


def _flights(store) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return store.query("SELECT * FROM flights ORDER BY start_utc")


@pytest.mark.parametrize("name", [TLOG, BIN])
def test_a_log_cut_in_the_air_is_an_incomplete_flight_with_no_landing(
    tmp_path: Path, shared_data: Path, name: str
) -> None:
    # cut at half: 5 m (tlog) and 16 m (.bin) up, armed, moving. It had been stored complete,
    # with a landing at the cut
    data = (shared_data / "logs" / name).read_bytes()
    cut = tmp_path / f"cut{Path(name).suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with open_store(tmp_path / "f.db") as store:
        import_file(store, cut)
        last = _flights(store)[-1]
        assert last["complete"] == 0 and last["landing_utc"] is None
        assert last["takeoff_utc"] is not None and last["airborne_s"] > 10.0
        assert last["airborne_s"] == pytest.approx(last["duration_s"], abs=60.0)
    with open_store(tmp_path / "whole.db") as store:  # the whole log: every flight ends
        import_file(store, shared_data / "logs" / name)
        assert all(f["complete"] == 1 for f in _flights(store))


def test_a_log_imported_under_a_name_is_known_without_it(tmp_path: Path, shared_data: Path):
    # `import --vehicle DroneA` then a copy of the same log without a name (or with another
    # name): the flights had been stored twice (14 instead of 7)
    data = (shared_data / "logs" / TLOG).read_bytes()
    cut = tmp_path / "cut.tlog"
    cut.write_bytes(data[: len(data) // 2])
    with open_store(tmp_path / "f.db") as store:
        import_file(store, shared_data / "logs" / TLOG, vehicle="DroneA")
        n = len(_flights(store))
        assert n == 7
        again = import_file(store, cut)
        assert len(_flights(store)) == n and again.duplicate
        import_file(store, cut, vehicle="DroneB")
        assert len(_flights(store)) == n


def test_a_ground_station_clock_gone_wrong_is_corrected_by_the_vehicles_gps_time(
    tmp_path: Path, shared_data: Path
) -> None:
    # a ground station without a real-time clock stamps 20 days early: the flights had been
    # dated 2015-06-15 without a word; SYSTEM_TIME carries the vehicle's GPS time
    data = bytearray((shared_data / "logs" / TLOG).read_bytes())
    early_us = 20 * 86400 * 10**6
    for off, t_s, _msg in list(iter_tlog(bytes(data))):
        struct.pack_into(">Q", data, off, round(t_s * 1e6) - early_us)
    wrong = tmp_path / "wrong_clock.tlog"
    wrong.write_bytes(bytes(data))
    with open_store(tmp_path / "f.db") as store:
        res = import_file(store, wrong)
        starts = [f["start_utc"] for f in _flights(store)]
    assert starts[0].startswith("2015-07-05T00:34:2"), starts
    assert any("20 d 0 h behind the vehicle's GPS time" in i.message for i in res.issues)


def test_a_vehicle_clock_standing_still_is_not_trusted() -> None:
    # time_boot_ms stuck at 0: every position at one instant, each flight 0 s long
    mav = make_codec()
    mav.srcSystem, mav.srcComponent = 1, 1
    builder = MavlinkTrackBuilder()
    for k in range(50):  # 5 Hz for 10 s
        fix = (497_480_000, 133_780_000, 350_000, 10_000)  # lat, lon (1e7 deg), alt, rel (mm)
        msg = mav.global_position_int_encode(0, *fix, 0, 0, 0, 0)
        builder.feed(mav.decode(bytearray(msg.pack(mav))), 1_000_000.0 + 0.2 * k)
    times = [item[1][1] for item in builder.out if item[0] == "S"]
    assert times[-1] - times[0] == pytest.approx(9.8, abs=2.1)  # was 0
    assert all(b >= a for a, b in itertools.pairwise(times))
    assert builder.states[1].clock_stalled


def test_a_lost_link_in_flight_leaves_one_flight_with_a_hole(
    tmp_path: Path, shared_data: Path
) -> None:
    """The real ArduCopter log with 90 s of its records taken out in the middle of its second
    flight (a ground station's log across a lost link, the vehicle airborne on both sides). It
    had been stored as two complete flights: a landing made up at the hole and a second
    'take-off' whose heights were measured from the hole (its maximum height 0 m)."""
    data = (shared_data / "logs" / TLOG).read_bytes()
    recs = [(p, t) for p, t, _m in iter_tlog(data)]
    span = recs[-1][1] - recs[0][1]
    a = next(i for i, (_p, t) in enumerate(recs) if t >= recs[0][1] + 0.45 * span)
    b = next(i for i, (_p, t) in enumerate(recs) if t >= recs[a][1] + 90.0)
    holed = tmp_path / "hole.tlog"
    holed.write_bytes(data[: recs[a][0]] + data[recs[b][0] :])
    with open_store(tmp_path / "whole.db") as store:
        import_file(store, shared_data / "logs" / TLOG)
        whole = [f for f in _flights(store) if not f["ground_run"]]
    with open_store(tmp_path / "hole.db") as store:
        import_file(store, holed)
        hole = [f for f in _flights(store) if not f["ground_run"]]
    assert len(hole) == len(whole) == 5
    second, second_whole = hole[1], whole[1]
    assert (second["takeoff_utc"], second["landing_utc"]) == (
        second_whole["takeoff_utc"],
        second_whole["landing_utc"],
    )
    assert second["complete"] == 1
    assert second["max_height_m"] > 5.0
