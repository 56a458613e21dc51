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
    ),
    holes=st.lists(st.integers(1, 500), max_size=3),
)
@example(runs=[(True, 10, 0.0, 0.0), (True, 10, 30.0, 0.0), (True, 10, 0.0, 0.0)], holes=[15])
@example(runs=[(True, 10, 0.0, 0.0), (True, 10, 30.0, 0.0), (True, 10, 0.0, 0.0)], holes=[20])
def test_segments_lie_inside_armed_runs_and_never_overlap(
    runs: list[tuple[bool, int, float, float]], holes: list[int]
) -> None:
    a = np.concatenate([np.full(k, arm) for arm, k, _h, _v in runs])
    h = np.concatenate([np.full(k, hh) for _a, k, hh, _v in runs])
    v = np.concatenate([np.full(k, vv) for _a, k, _h, vv in runs])
    n = a.size
    t = np.arange(n) * 0.5
    for i in holes:  # a hole in the log (a lost link) longer than the 60 s that cuts a run
        t[i:] += 100.0
    segs = find_flights(t, a.astype(float), h, v)
    covered = np.zeros(n, dtype=int)
    for s in segs:
        assert 0 <= s.start < s.stop <= n
        assert a[s.start : s.stop].all()
        covered[s.start : s.stop] += 1
        if s.takeoff is not None and s.landing is None:  # the log ends, or a hole follows
            assert s.open_end and s.start <= s.takeoff < s.stop
        elif s.takeoff is not None:
            assert s.landing is not None and s.start <= s.takeoff <= s.landing < s.stop
        # armed at the log's end, or after a hole that follows: the flight's end is not seen
        assert s.open_end == (s.stop == n or bool(a[s.stop]))
        assert s.open_start == (s.start > 0 and bool(a[s.start - 1]))
        # a piece ends at a hole only where the vehicle is not airborne on both of its sides
        if s.stop < n and a[s.stop]:
            assert t[s.stop] - t[s.stop - 1] > 60.0
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
# the example that failed on a fresh machine: an FMTU record whose multiplier ids lost their end
# (pymavlink's DFReader raised IndexError in set_mult_ids; the reader no longer uses it)
@example(which="bin", edits=[(18054, b"\x00")], cut=150_000)
# make fuzz: a damaged log that begins with the words of a Git LFS pointer was refused as one
@example(which="bin", edits=[(0, b"version https://git-lfs.github.com/spec/")], cut=2000)
# make fuzz: a ULog whose damaged timestamps (the year 2107) were left out with an issue not at
# one place in the file (offset -1), which this test took for an offset outside the file
@example(which="ulg", edits=[(64928, b"\x00\x00\x00\x00\t")], cut=64977)
# make fuzz: a record made 18,767 bytes long, which pyulog takes for damage and resyncs inside;
# a size field there ran past the end and sent it back before where it began, for ever
@example(
    which="ulg",
    edits=[
        (220, b"*\nQh\xe7\xa51\xed\x1a\xd5\xef;\x00\xd2FI4\xbc"),
        (405, b"Mission: invalid sequence"),
        (5536, b"\x0e^\xbb"),
        (29155, b"\xeb\xca\t6\xe0\x9f\xf7"),
        (34782, b"E"),
    ],
    cut=54846,
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
    from dronekit_plzen.errors import BadInputError

    try:
        content = read_log(path, bytes(data))  # never raises on damage inside a readable file
    except BadInputError as exc:  # … and only this when no record (or no datable one) is left
        assert "no valid record" in str(exc) or "no time in the log is possible" in str(exc)
        return
    for issue in content.issues:  # at a place in the file, or -1: not at one place
        assert issue.offset == -1 or 0 <= issue.offset <= len(data), issue
        assert issue.to_dict()["offset"] == (None if issue.offset < 0 else issue.offset)
    for track in content.tracks:
        t = track.columns["t_s"]
        assert all(v.size == t.size for v in track.columns.values())


#: the FMT, FMTU, UNIT and MULT records of the sample .bin lie in its first 20 kB
_FMT_REGION = 20_000


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, _FMT_REGION), st.binary(min_size=1, max_size=16)),
        min_size=1,
        max_size=8,
    ),
)
@example(edits=[(18054, b"\x00")])  # FMTU multiplier ids cut short (DFReader: IndexError)
def test_dataflash_reader_survives_damaged_format_records(
    tmp_path_factory, edits: list[tuple[int, bytes]]
) -> None:  # type: ignore[no-untyped-def]
    """Damage aimed at the format definitions: the reader never raises, keeps the records
    whose FMT is intact, and every value it returns belongs to a declared column."""
    from telemetry.dataflash import read_binary

    data = bytearray(_BIN)
    for at, junk in edits:
        data[at : at + len(junk)] = junk
    recs = read_binary(bytes(data))
    for name, rows in recs.rows.items():
        fmt = recs.formats[name]
        assert all(set(values) == set(fmt.columns) for _t, values in rows)
    path = tmp_path_factory.mktemp("fmt") / "damaged.bin"
    path.write_bytes(bytes(data))
    read_log_or_bad_input(path, bytes(data))


_TEXT_LINES = [
    "FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format,Columns",
    "FMT, 130, 45, GPS, BIHBcLLeeEefI, Status,TimeMS,Week,NSats,HDop,Lat,Lng,RelAlt,Alt,Spd,"
    "GCrs,VZ,T",
    "FMT, 131, 23, CURR, IhIhhhf, TimeMS,ThrOut,ThrInt,Volt,Curr,Vcc,CurrTot",
    "FMT, 132, 5, MODE, Mh, Mode,ThrCrs",
    "FMT, 133, 4, EV, B, Id",
    *(
        f"GPS, 3, {130040000 + 200 * k}, 1769, 10, 1.2, {49.7 + k * 1e-5:.7f}, 13.37, "
        f"{k * 0.1:.2f}, {300 + k * 0.1:.2f}, 1.0, 90.0, 0.0, {100000 + 200 * k}"
        for k in range(40)
    ),
    "CURR, 100000, 0, 0, 1230, 450, 5000, 12.5",
    "MODE, LOITER, 0",
    "EV, 10",
]


@settings(max_examples=60, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(_TEXT_LINES) - 1),
            st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
        ),
        max_size=6,
    ),
    crlf=st.booleans(),
)
def test_dataflash_text_reader_survives_damaged_lines(
    edits: list[tuple[int, str]], crlf: bool
) -> None:
    from telemetry.dataflash import read_text

    lines = list(_TEXT_LINES)
    for at, text in edits:
        lines[at] = text
    data = ("\r\n" if crlf else "\n").join(lines).encode("utf-8", "surrogatepass")
    recs = read_text(data)  # never raises
    assert recs.records <= len(lines)
    for issue in recs.issues:
        assert 0 <= issue.offset <= len(data)
    read_log_or_bad_input(Path("damaged.log"), data)


def read_log_or_bad_input(path: Path, data: bytes) -> None:
    """``read_log`` returns content, or refuses a file with no valid record: nothing else."""
    from dronekit_plzen.errors import BadInputError
    from telemetry.logreaders import read_log

    try:
        content = read_log(path, data)
    except BadInputError as exc:
        assert "no valid record" in str(exc)
        return
    for track in content.tracks:
        n = track.columns["t_s"].size
        assert all(v.size == n for v in track.columns.values())
