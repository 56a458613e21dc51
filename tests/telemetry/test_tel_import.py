"""Import of the real sample logs (pinned figures), idempotency and damaged copies."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from telemetry.importer import import_file, import_files
from telemetry.store import open_store

TLOG = "tlog_dronekit_flight.tlog"
BIN = "df_uob_2023-07-06_10-12-18.bin"
ULG = "ulg_pyulog_sample_log_small.ulg"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, shared_data: Path):  # type: ignore[no-untyped-def]
    db = tmp_path_factory.mktemp("imp") / "flights.db"
    logs = shared_data / "logs"
    with open_store(db) as store:
        results = {r.kind: r for r in import_files(store, [logs / TLOG, logs / BIN, logs / ULG])}
    return db, results


def _flights(db: Path, source_id: int) -> list[dict]:  # type: ignore[type-arg]
    with open_store(db) as store:
        return store.query(
            "SELECT * FROM flights WHERE source_id = ? ORDER BY start_utc", (source_id,)
        )


def test_tlog_canberra_flights(imported) -> None:  # type: ignore[no-untyped-def]
    db, res = imported
    r = res["tlog"]
    assert r.error is None
    # 76,791 messages in the file, of which 1,314 fail their CRC (msg id 142)
    assert r.messages == 75477
    assert r.bad_messages == 1314
    assert r.messages + r.bad_messages == 76791
    # the file ends with a cut-off frame: reported with its offset, not fatal
    assert any(i.offset == 2723821 and "truncated" in i.message for i in r.issues)
    fl = _flights(db, r.source_id)
    assert [f["ground_run"] for f in fl] == [0, 0, 1, 1, 0, 0, 0]
    assert [f["duration_s"] for f in fl] == pytest.approx(
        [111.62, 141.6, 4.4, 3.41, 63.2, 28.81, 70.99], abs=0.05
    )
    assert [f["airborne_s"] for f in fl] == pytest.approx(
        [95.81, 134.01, 0, 0, 58.21, 25.4, 43.39], abs=0.05
    )
    assert [f["distance_m"] for f in fl] == pytest.approx(
        [235.15, 480.34, 1.15, 0.76, 137.81, 43.89, 127.52], rel=0.01
    )
    assert [f["max_height_m"] for f in fl] == pytest.approx(
        [10.75, 13.23, 0.08, 0.09, 10.87, 5.56, 5.29], abs=0.05
    )
    # near Canberra (Mount Stromlo area), on 5 July 2015
    assert fl[0]["start_lat"] == pytest.approx(-35.36233, abs=1e-5)
    assert fl[0]["start_lon"] == pytest.approx(149.16572, abs=1e-5)
    # as sent, in 1e-7 degrees: 149.1657211 (not 149.16572109999998) wherever it is shown
    assert repr(fl[0]["start_lon"]) == "149.1657211" and repr(fl[0]["start_lat"]) == "-35.3623323"
    assert fl[0]["start_utc"].startswith("2015-07-05T00:34:25.5")
    # times follow the vehicle's clock (time_boot_ms) anchored at the first receive time, so
    # the radio link's delays do not stretch or shrink flights
    # the file spans about 23 min; the armed time is inside it
    total_armed = sum(f["duration_s"] for f in fl)
    assert 400 < total_armed < 23 * 60
    path = json.loads(fl[1]["path_geojson"])
    assert path["type"] == "LineString" and len(path["coordinates"]) > 300


def test_dataflash_bin_wales_flight(imported) -> None:  # type: ignore[no-untyped-def]
    db, res = imported
    r = res["dataflash-bin"]
    assert r.error is None
    fl = _flights(db, r.source_id)
    assert len(fl) == 1
    f = fl[0]
    # logging starts armed (ARM disarm record at the end): 83 s armed of the 98 s log
    assert f["duration_s"] == pytest.approx(83.0, abs=0.1)
    assert f["airborne_s"] == pytest.approx(69.2, abs=0.2)
    assert f["ground_run"] == 0
    # README says "up to about 14 m": that is CTUN.Alt above the EKF origin (14.2 m); the
    # height above the take-off point (POS.RelHomeAlt) reaches 17.1 m
    assert f["max_height_m"] == pytest.approx(17.08, abs=0.05)
    assert f["distance_m"] == pytest.approx(123.3, rel=0.01)
    assert f["start_lat"] == pytest.approx(52.80694, abs=1e-5)
    assert f["start_lon"] == pytest.approx(-4.12244, abs=1e-5)
    assert f["start_utc"].startswith("2023-07-06T09:12:18")  # GPS time, 10:12 BST
    assert f["battery_used_mah"] == pytest.approx(219.7, abs=0.5)
    assert any("truncated DataFlash record" in i.message for i in r.issues)


def test_ulog_norway_ground_run(imported) -> None:  # type: ignore[no-untyped-def]
    db, res = imported
    r = res["ulog"]
    assert r.error is None
    fl = _flights(db, r.source_id)
    # the header spans ~20 min (a 'mission' topic at 1194 s) but the data covers 6.6 s: the
    # vehicle is armed for 5.2 s on the ground (PX4's own land detector flickers for 1.1 s,
    # height never leaves the ground by more than ~0.1 m above the arming height)
    assert len(fl) == 1
    f = fl[0]
    assert f["ground_run"] == 1
    assert f["duration_s"] == pytest.approx(5.19, abs=0.05)
    assert f["start_lat"] == pytest.approx(63.41706, abs=1e-5)
    assert f["start_lon"] == pytest.approx(10.40822, abs=1e-5)
    assert f["start_utc"].startswith("2021-04-21T06:30:58")


def test_events_and_vehicles(imported) -> None:  # type: ignore[no-untyped-def]
    db, _res = imported
    with open_store(db) as store:
        keys = {r["key"] for r in store.query("SELECT key FROM vehicles")}
        kinds = {r["kind"] for r in store.query("SELECT DISTINCT kind FROM events")}
    assert "ardupilot-CubeOrange-002E0046-3030510A-33303739" in keys
    assert "px4-000600000000383638393239510d0035002d" in keys
    assert {"armed", "disarmed", "mode", "statustext"} <= kinds
    with open_store(db) as store:
        modes = [
            r["text"]
            for r in store.query(
                "SELECT e.text FROM events e JOIN sources s ON s.id = e.source_id "
                "WHERE e.kind = 'mode' AND s.kind = ? ORDER BY e.t_s",
                ("dataflash-bin",),
            )
        ]
        ulg_modes = store.query(
            "SELECT e.text FROM events e JOIN sources s ON s.id = e.source_id "
            "WHERE e.kind = 'mode' AND s.kind = 'ulog'"
        )
        tlog_modes = {
            r["text"]
            for r in store.query(
                "SELECT e.text FROM events e JOIN sources s ON s.id = e.source_id "
                "WHERE e.kind = 'mode' AND s.kind = 'tlog'"
            )
        }
    assert modes == ["LOITER", "RTL"]  # ArduCopter mode numbers 5 and 6
    assert [r["text"] for r in ulg_modes] == ["MANUAL"]
    assert {"AUTO", "LOITER", "RTL"} <= tlog_modes  # the README's AUTO/LOITER/RTL flight


def test_import_is_idempotent(imported, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    db, res = imported
    with open_store(db) as store:
        before = (store.count("flights"), store.count("samples"))
        again = import_file(store, shared_data / "logs" / TLOG)
        assert again.duplicate and again.flight_ids == res["tlog"].flight_ids
        assert (store.count("flights"), store.count("samples")) == before


def _damage(src: Path, dst: Path, *, cut: float | None = None, garbage_at: float | None = None):  # type: ignore[no-untyped-def]
    data = bytearray(src.read_bytes())
    if cut is not None:
        data = data[: int(len(data) * cut)]
    at = None
    if garbage_at is not None:
        at = int(len(data) * garbage_at)
        data[at : at + 3000] = bytes((i * 37 + 11) % 256 for i in range(3000))
    dst.write_bytes(bytes(data))
    return len(data), at


@pytest.mark.parametrize("name", [TLOG, BIN, ULG])
def test_truncated_copies_keep_good_data(name: str, shared_data: Path, tmp_path: Path) -> None:
    size, _ = _damage(shared_data / "logs" / name, tmp_path / name, cut=0.6)
    with open_store(tmp_path / "t.db") as store:
        (r,) = import_files(store, [tmp_path / name])
        assert r.error is None
        assert r.samples > 10
        cut_issue = [i for i in r.issues if "truncated" in i.message]
        assert cut_issue, r.issues
        # the reported offset is the start of the cut record, within one record of the end
        assert size - 300 <= cut_issue[-1].offset < size
        (ok,) = store.conn.execute("PRAGMA integrity_check").fetchone()
        assert ok == "ok"


@pytest.mark.parametrize("name", [TLOG, BIN, ULG])
def test_corrupted_copies_report_offset(name: str, shared_data: Path, tmp_path: Path) -> None:
    _, at = _damage(shared_data / "logs" / name, tmp_path / name, garbage_at=0.4)
    assert at is not None
    with open_store(tmp_path / "c.db") as store:
        (r,) = import_files(store, [tmp_path / name])
    with open_store(tmp_path / "clean.db") as store:
        clean = import_file(store, shared_data / "logs" / name)
    assert r.error is None
    bad = [i for i in r.issues if "garbage" in i.message or "bad" in i.message]
    assert bad, r.issues
    # the first bad record starts inside (or one record before) the overwritten bytes
    assert any(at - 300 <= i.offset <= at + 3000 for i in bad), (at, bad)
    # data on both sides of the damage is kept
    assert r.samples >= clean.samples * 0.9
    assert len(r.flight_ids) >= 1


def test_batch_goes_on_after_bad_files(shared_data: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tlog"
    junk.write_bytes(os.urandom(64))
    text = tmp_path / "notes.txt"
    text.write_text("not a log")
    with open_store(tmp_path / "b.db") as store:
        res = import_files(
            store, [junk, tmp_path / "missing.bin", text, shared_data / "logs" / ULG]
        )
    assert res[1].error and "missing.bin" in res[1].error
    assert res[2].error and "notes.txt" in res[2].error
    assert res[3].error is None and len(res[3].flight_ids) == 1


def test_dataflash_text_log(shared_data: Path, tmp_path: Path) -> None:
    """A text .log (Mission Planner's export of the same .bin) gives the same flight."""
    from pymavlink import DFReader

    reader = DFReader.DFReader_binary(str(shared_data / "logs" / BIN), zero_time_base=True)
    lines, fmts = [], set()
    while (m := reader.recv_msg()) is not None:
        mt = m.get_type()
        if mt not in {"FMT", "GPS", "POS", "BAT", "EV", "ARM", "MODE", "MSG", "PARM"}:
            continue
        if mt == "FMT":
            continue
        if mt not in fmts:
            f = m.fmt
            lines.append(f"FMT, {f.type}, {f.len}, {f.name}, {f.format}, {','.join(f.columns)}")
            fmts.add(mt)
        vals = [str(getattr(m, c)) for c in m.fmt.columns]
        lines.append(f"{mt}, " + ", ".join(vals))
    log = tmp_path / "flight.log"
    log.write_text("FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format,Columns\n" + "\n".join(lines))
    with open_store(tmp_path / "x.db") as store:
        r = import_file(store, log)
        assert r.kind == "dataflash-log" and r.error is None
        (f,) = store.flights()
    assert f["duration_s"] == pytest.approx(83.0, abs=0.1)
    assert f["max_height_m"] == pytest.approx(17.08, abs=0.05)


def test_database_is_sqlite_wal(imported) -> None:  # type: ignore[no-untyped-def]
    db, _ = imported
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
