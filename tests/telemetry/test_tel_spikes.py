"""A damaged record in a log without checksums is left out, not taken as flight.

A DataFlash or ULog record has no checksum: one flipped byte in an altitude made a 17 m
flight's maximum height 1,843 m in the flight list (and in the GOV 16 export). An isolated
sample that jumps away and back faster than any aircraft flies is now dropped, and the import
says so; steady climbs, fast flights, steps and gaps in the data are kept.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from telemetry.importer import import_file
from telemetry.store import open_store
from telemetry.track import drop_spikes, empty_columns

BIN = "df_uob_2023-07-06_10-12-18.bin"


def _cols(t: np.ndarray, alt: np.ndarray, lat: np.ndarray | None = None) -> dict[str, np.ndarray]:
    c = empty_columns(t.size)
    c["t_s"] = t.astype(float)
    c["alt_amsl_m"] = alt.astype(float) + 300.0
    c["rel_alt_m"] = alt.astype(float)
    c["lat_deg"] = np.full(t.size, 49.74) if lat is None else lat
    c["lon_deg"] = np.full(t.size, 13.37)
    return c


def test_an_isolated_altitude_spike_is_dropped_and_flight_kept() -> None:
    t = np.arange(0, 60, 0.1)
    alt = np.clip(t * 5.0, 0, 120)  # a 5 m/s climb to 120 m
    alt[300] += 1_826.0
    out, n = drop_spikes(_cols(t, alt))
    assert n == 1
    assert np.isnan(out["rel_alt_m"][300]) and np.isnan(out["alt_amsl_m"][300])
    assert np.nanmax(out["rel_alt_m"]) == 120.0
    assert np.isfinite(np.delete(out["rel_alt_m"], 300)).all()
    assert np.isfinite(out["lat_deg"]).all()  # the position of that sample is kept


def test_climbs_steps_gaps_and_fast_flight_are_kept() -> None:
    t = np.arange(0, 60, 0.1)
    fast = np.clip(t * 40.0, 0, 500)  # 40 m/s: a steep but real climb
    step = np.where(t < 30, 50.0, 250.0)  # a jump that stays (a new datum), not a spike
    gap_t = t.copy()
    gap_t[300:] += 3600.0  # an hour without data, then 1,000 m higher
    gap = np.where(np.arange(t.size) < 300, 10.0, 1010.0)
    gap[300] = 5000.0  # one sample far away, after the hour's gap: reachable in an hour
    lat = 49.74 + t * (130.0 / 110_574.0)  # 130 m/s north
    for tt, alt, la in ((t, fast, None), (t, step, None), (gap_t, gap, None), (t, fast, lat)):
        out, n = drop_spikes(_cols(tt, alt, la))
        assert n == 0
        assert out["rel_alt_m"] is not None and np.isfinite(out["rel_alt_m"]).all()


def test_a_position_spike_is_dropped() -> None:
    t = np.arange(0, 20, 0.2)
    lat = np.full(t.size, 49.74)
    lat[50] = 49.84  # 11 km away for one sample
    out, n = drop_spikes(_cols(t, np.full(t.size, 30.0), lat))
    assert n == 1
    assert np.isnan(out["lat_deg"][50]) and np.isnan(out["lon_deg"][50])
    assert np.isfinite(out["rel_alt_m"]).all()


def _flipped(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    r = random.Random(1)
    for _ in range(200):
        i = r.randrange(len(data))
        data[i] = r.randrange(256)
    dst.write_bytes(bytes(data))
    return dst


def test_a_real_log_with_flipped_bytes_keeps_its_true_maximum_height(
    shared_data: Path, tmp_path: Path
) -> None:
    log = _flipped(shared_data / "logs" / BIN, tmp_path / "flipped.bin")
    with open_store(tmp_path / "f.db") as store:
        res = import_file(store, log)
        (fid,) = res.flight_ids
        row = store.conn.execute("SELECT max_height_m FROM flights WHERE id = ?", (fid,)).fetchone()
    assert 16.0 < row[0] < 18.0, row  # 1,843 m before
    assert any("left out: its altitude or position jumps" in i.message for i in res.issues)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "dronekit_plzen",
            "import",
            "--db",
            str(tmp_path / "g.db"),
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "\n  1 sample of ardupilot-CubeOrange" in p.stdout, p.stdout


def test_the_shared_real_logs_lose_no_sample(shared_data: Path, tmp_path: Path) -> None:
    with open_store(tmp_path / "f.db") as store:
        for log in sorted((shared_data / "logs").iterdir()):
            res = import_file(store, log)
            assert not any(i.offset < 0 for i in res.issues), (log.name, res.issues)


_RATES = st.lists(st.floats(-55.0, 55.0), min_size=3, max_size=200)
_STEPS = st.lists(st.floats(0.01, 2.0), min_size=3, max_size=200)


@given(_RATES, _STEPS, st.data())
def test_property_flight_within_the_rates_loses_nothing_a_spike_is_found(
    rates: list[float], steps: list[float], data: st.DataObject
) -> None:
    n = min(len(rates), len(steps))
    dt = np.asarray(steps[:n])
    t = np.cumsum(dt)
    alt = np.cumsum(np.asarray(rates[:n]) * dt)
    out, dropped = drop_spikes(_cols(t, alt))
    assert dropped == 0
    k = data.draw(st.integers(1, n - 2))
    sign = data.draw(st.sampled_from([-1.0, 1.0]))
    alt[k] += sign * 2_000.0
    out, dropped = drop_spikes(_cols(t, alt))
    assert dropped == 1 and np.isnan(out["rel_alt_m"][k])


def test_a_position_off_the_earth_is_dropped() -> None:
    t = np.arange(0, 20, 0.2)
    lat = np.full(t.size, 49.74)
    lat[10] = 200.0  # was passed to the distance as it was
    out, n = drop_spikes(_cols(t, np.full(t.size, 30.0), lat))
    assert n == 1 and np.isnan(out["lat_deg"][10]) and np.isnan(out["lon_deg"][10])
