"""Property tests: segmentation invariants, and the .tlog codec never raising on damage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from telemetry.segment import find_flights
from telemetry.tlog import ParseStats, iter_tlog

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "logs"
_HEAD = (SAMPLE / "tlog_dronekit_flight.tlog").read_bytes()[:60_000]
_GOOD = sum(1 for _ in iter_tlog(_HEAD))


@settings(max_examples=80, deadline=None)
@given(
    runs=st.lists(
        st.tuples(st.booleans(), st.integers(1, 40), st.floats(-2, 60), st.floats(0, 15)),
        min_size=1,
        max_size=12,
    )
)
def test_segments_lie_inside_armed_runs_and_never_overlap(
    runs: list[tuple[bool, int, float, float]],
) -> None:
    a = np.concatenate([np.full(k, arm) for arm, k, _h, _v in runs])
    h = np.concatenate([np.full(k, hh) for _a, k, hh, _v in runs])
    v = np.concatenate([np.full(k, vv) for _a, k, _h, vv in runs])
    n = a.size
    t = np.arange(n) * 0.5
    segs = find_flights(t, a.astype(float), h, v)
    covered = np.zeros(n, dtype=int)
    for s in segs:
        assert 0 <= s.start < s.stop <= n
        assert a[s.start : s.stop].all()
        covered[s.start : s.stop] += 1
        if s.takeoff is not None:
            assert s.landing is not None and s.start <= s.takeoff <= s.landing < s.stop
    assert (covered <= 1).all()
    assert covered.sum() == a.sum()  # every armed sample belongs to exactly one flight


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(_HEAD) - 1), st.binary(min_size=1, max_size=64)),
        min_size=1,
        max_size=8,
    ),
    cut=st.integers(1000, len(_HEAD)),
)
@example(edits=[(0, b"\x00")], cut=22336)  # a header cut right after its magic (found here)
def test_tlog_codec_survives_any_damage(edits: list[tuple[int, bytes]], cut: int) -> None:
    data = bytearray(_HEAD)
    for at, junk in edits:
        data[at : at + len(junk)] = junk
    data = data[:cut]
    stats = ParseStats()
    offsets = [o for o, _t, _m in iter_tlog(bytes(data), stats)]  # never raises
    assert offsets == sorted(set(offsets))
    assert all(0 <= o < len(data) for o in offsets)
    assert stats.messages == len(offsets) <= _GOOD + 8
    for issue in stats.issues:
        assert 0 <= issue.offset < len(data)


_BIN = (SAMPLE / "df_uob_2023-07-06_10-12-18.bin").read_bytes()[:150_000]
_ULG = (SAMPLE / "ulg_pyulog_sample_log_small.ulg").read_bytes()[:150_000]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(["bin", "ulg"]),
    edits=st.lists(
        st.tuples(st.integers(0, 149_999), st.binary(min_size=1, max_size=64)),
        min_size=1,
        max_size=6,
    ),
    cut=st.integers(2000, 150_000),
)
def test_dataflash_and_ulog_readers_survive_damage(
    tmp_path_factory, which: str, edits: list[tuple[int, bytes]], cut: int
) -> None:  # type: ignore[no-untyped-def]
    from telemetry.logreaders import read_log

    data = bytearray(_BIN if which == "bin" else _ULG)
    for at, junk in edits:
        data[at : at + len(junk)] = junk
    data = data[:cut]
    path = tmp_path_factory.mktemp("fz") / f"damaged.{which}"
    path.write_bytes(bytes(data))
    content = read_log(path, bytes(data))  # never raises on damage inside a readable file
    for issue in content.issues:
        assert 0 <= issue.offset <= len(data)
