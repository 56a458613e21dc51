"""Bad input through every door of the GUI: one translated message naming the file and the
problem, nothing loaded before lost, the window alive, no file written.

The table below drives the real widgets offscreen through their public methods (the file
dialogs only hand these methods a path): the planning panel's area, mission, zones and terrain
doors, the layer switcher's offline pack and GeoTIFF doors, the screenshot and the export, the
signing key field and the link field. Every case runs in English and in Czech. Inputs are real
files made here: empty, random bytes, truncated, a directory, a missing path, a 10 GB sparse
file, NaN and 1e308 coordinates, an area 5,000 km wide, GeoTIFFs without or with an unknown CRS
or an absurd extent, another program's SQLite database (which must stay byte for byte as it
was).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from missions.zones import sample_zones_path
from tests.gui.conftest import SHOTS

REPO = Path(__file__).resolve().parents[2]
AREA = REPO / "dronekit_plzen" / "demo" / "data" / "sar_area_bolevec.geojson"
MISSION = REPO.parent / "shared" / "data" / "missions" / "qgc_ArduPilotSITL-ArduCopter.plan"
SQUARE = [[13.37, 49.74], [13.375, 49.74], [13.375, 49.743], [13.37, 49.74]]
GIB = 1024**3


# ----------------------------------------------------------------------------- inputs
def _empty(d: Path, name: str) -> Path:
    p = d / name
    p.write_bytes(b"")
    return p


def _random(d: Path, name: str) -> Path:
    p = d / name
    p.write_bytes(np.random.default_rng(7).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return p


def _truncated(src: Path) -> Callable[[Path, str], Path]:
    def make(d: Path, name: str) -> Path:
        data = src.read_bytes()
        p = d / name
        p.write_bytes(data[: len(data) // 2])
        return p

    return make


def _directory(d: Path, name: str) -> Path:
    p = d / name
    p.mkdir()
    return p


def _missing(d: Path, name: str) -> Path:
    return d / name


def _sparse(d: Path, name: str) -> Path:
    """10 GB of nothing (a sparse file: no disk used)."""
    p = d / name
    with p.open("wb") as f:
        f.truncate(10 * GIB)
    return p


def _polygon(ring: list[list[float]]) -> Callable[[Path, str], Path]:
    def make(d: Path, name: str) -> Path:
        p = d / name
        geom = {"type": "Polygon", "coordinates": [ring]}
        feature = {"type": "Feature", "properties": {}, "geometry": geom}
        p.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        return p

    return make


def _nan_mission(d: Path, name: str) -> Path:
    plan = json.loads(MISSION.read_text())
    item = next(i for i in plan["mission"]["items"] if i.get("command") == 16)
    item["params"][4] = item["params"][5] = float("nan")
    p = d / name
    p.write_text(json.dumps(plan))  # NaN written as JSON's NaN
    return p


def _tif(crs: Any, origin: tuple[float, float], res: float) -> Callable[[Path, str], Path]:
    def make(d: Path, name: str) -> Path:
        p = d / name
        z = np.linspace(300.0, 400.0, 50 * 50, dtype=np.float32).reshape(50, 50)
        kw: dict[str, Any] = {"crs": crs} if crs is not None else {}
        with rasterio.open(
            p,
            "w",
            driver="GTiff",
            height=50,
            width=50,
            count=1,
            dtype="float32",
            transform=from_origin(origin[0], origin[1], res, res),
            **kw,
        ) as ds:
            ds.write(z, 1)
        return p

    return make


GOOD_TIF = _tif("EPSG:32633", (380_000.0, 5_520_000.0), 10.0)
NO_CRS_TIF = _tif(None, (380_000.0, 5_520_000.0), 10.0)
LOCAL_CRS_TIF = _tif(CRS.from_wkt('LOCAL_CS["site grid",UNIT["metre",1]]'), (1000.0, 2000.0), 1.0)
ABSURD_TIF = _tif("EPSG:32633", (-1e9, 1e9), 1e8)  # 5 million km across


def _cut_tif(d: Path, name: str) -> Path:
    """A valid GeoTIFF cut in half."""
    whole = GOOD_TIF(d, "whole.tif")
    return _truncated(whole)(d, name)


def _foreign_sqlite(d: Path, name: str) -> Path:
    """Another program's SQLite database with an .mbtiles name."""
    p = d / name
    db = sqlite3.connect(p)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('keep me')")
    db.commit()
    db.close()
    return p


def _digest(p: Path) -> str | None:
    """What shows that ``p`` was not written to: its size, modification time and the hash of
    its first and last MiB (a 10 GB sparse file is not read whole: that had taken 30 s a case
    and 10 GB of memory)."""
    if not p.is_file():
        return None
    st = p.stat()
    h = hashlib.sha256(f"{st.st_size} {st.st_mtime_ns}".encode())
    with p.open("rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(st.st_size - (1 << 20), 0))
        h.update(f.read(1 << 20))
    return h.hexdigest()


# ----------------------------------------------------------------------------- doors
@dataclass(frozen=True)
class Case:
    """One bad input: the door, how to make the input, the problem in each language."""

    id: str
    door: str  # area | mission | zones | dem | raster | pack
    make: Callable[[Path, str], Path]
    name: str
    en: str
    cs: str


CASES = [
    Case("area-empty", "area", _empty, "a.geojson", "not valid JSON", "JSON"),
    Case("area-random", "area", _random, "a.geojson", "not a UTF-8 text file", "UTF-8"),
    Case("area-truncated", "area", _truncated(AREA), "a.geojson", "not valid JSON", "JSON"),
    Case("area-directory", "area", _directory, "a.geojson", "it is a directory", "je to adresář"),
    # Czech had shown the C library's English "No such file or directory"
    Case("area-missing", "area", _missing, "a.geojson", "the file does not exist", "neexistuje"),
    Case("area-sparse-10gb", "area", _sparse, "a.geojson", "over the 256 MiB", "256 MiB"),
    Case(
        "area-nan",
        "area",
        _polygon([[13.37, 49.74], [float("nan"), 49.74], [13.375, 49.743], [13.37, 49.74]]),
        "a.geojson",
        "non-finite coordinate",
        "NaN",
    ),
    Case(
        "area-1e308",
        "area",
        _polygon([[13.37, 49.74], [1e308, 49.74], [13.375, 49.743], [13.37, 49.74]]),
        "a.geojson",
        "is not WGS84 lon/lat",
        "WGS84",
    ),
    Case(
        "area-5000km",
        "area",
        _polygon([[-20, 40], [50, 40], [50, 60], [-20, 60], [-20, 40]]),
        "a.geojson",
        "too large for a drone mission",
        "příliš velká",
    ),
    Case("mission-empty", "mission", _empty, "m.plan", "invalid JSON", "JSON"),
    Case("mission-random", "mission", _random, "m.plan", "not UTF-8", "UTF-8"),
    Case("mission-truncated", "mission", _truncated(MISSION), "m.plan", "invalid JSON", "JSON"),
    Case("mission-directory", "mission", _directory, "m.plan", "a directory", "adresář"),
    Case("mission-missing", "mission", _missing, "m.plan", "file not found", "nenalezen"),
    Case("mission-sparse-10gb", "mission", _sparse, "m.plan", "over the 256 MiB", "256 MiB"),
    Case("mission-nan", "mission", _nan_mission, "m.plan", "NaN is not valid JSON", "NaN"),
    Case("zones-random", "zones", _random, "z.geojson", "UTF-8", "UTF-8"),
    Case("zones-sparse-10gb", "zones", _sparse, "z.geojson", "over the 256 MiB", "256 MiB"),
    Case(
        "zones-nan",
        "zones",
        _polygon([[13.37, 49.74], [float("nan"), 49.74], [13.375, 49.743], [13.37, 49.74]]),
        "z.geojson",
        "non-finite coordinate",
        "NaN",
    ),
    Case("zones-missing", "zones", _missing, "z.geojson", "not found", "nenalezen"),
    # the terrain model had been taken as chosen, unread: planning then failed later, or
    # found nothing wrong with a file that was no terrain at all
    Case("dem-random", "dem", _random, "t.tif", "cannot read the terrain raster", "terénu"),
    Case("dem-empty", "dem", _empty, "t.tif", "cannot read the terrain raster", "terénu"),
    Case("dem-sparse-10gb", "dem", _sparse, "t.tif", "cannot read the terrain", "terénu"),
    Case("dem-directory", "dem", _directory, "t.tif", "is a directory", "adresář"),
    Case("dem-missing", "dem", _missing, "t.tif", "terrain file not found", "nenalezen"),
    Case("dem-no-crs", "dem", NO_CRS_TIF, "t.tif", "no CRS", "souřadnicový"),
    Case("dem-local-crs", "dem", LOCAL_CRS_TIF, "t.tif", "cannot be related to WGS84", "WGS84"),
    Case("raster-empty", "raster", _empty, "r.tif", "cannot read the raster", "nelze přečíst"),
    Case("raster-random", "raster", _random, "r.tif", "cannot read the raster", "nelze přečíst"),
    Case("raster-truncated", "raster", _cut_tif, "r.tif", "cannot read the raster", "nelze"),
    Case("raster-sparse-10gb", "raster", _sparse, "r.tif", "cannot read the raster", "nelze"),
    # had said "raster file not found" for a directory
    Case("raster-directory", "raster", _directory, "r.tif", "is a directory", "adresář"),
    Case("raster-missing", "raster", _missing, "r.tif", "raster file not found", "nenalezen"),
    Case("raster-no-crs", "raster", NO_CRS_TIF, "r.tif", "has no CRS", "souřadnicový systém"),
    # had shown PROJ's untranslated CRSError with the CRS's whole JSON, without the file name
    Case("raster-local-crs", "raster", LOCAL_CRS_TIF, "r.tif", "cannot be placed", "nelze"),
    # had been added to the map silently, a layer 70,000 km wide
    Case("raster-absurd-extent", "raster", ABSURD_TIF, "r.tif", "off the Earth", "mimo Zemi"),
    # the packs below had all been "added" (a warning in the log only) and silently not used
    Case("pack-empty", "pack", _empty, "p.mbtiles", "not an MBTiles", "MBTiles"),
    Case("pack-random", "pack", _random, "p.mbtiles", "not an MBTiles (SQLite)", "SQLite"),
    Case("pack-sparse-10gb", "pack", _sparse, "p.mbtiles", "not an MBTiles", "MBTiles"),
    Case("pack-directory", "pack", _directory, "p.mbtiles", "offline pack not found", "offline"),
    Case("pack-missing", "pack", _missing, "p.mbtiles", "offline pack not found", "offline"),
    Case("pack-other-sqlite", "pack", _foreign_sqlite, "p.mbtiles", "tables are missing", "tiles"),
]


def _state(win: Any) -> dict[str, Any]:
    """What a failed load must not change."""
    plan = win.plan_panel
    return {
        "area": (plan.area, plan.area_path, plan.area_label.text()),
        "mission": (plan.plan_view, plan.mission_label.text()),
        "zones": (plan.zones_source, plan.zones_label.text()),
        "dem": (plan.dem_path, plan.dem_label.text()),
        "rasters": sorted(win.map.rasters),
        "packs": list(win.map.basemap.settings.packs),
        "packs_label": win.map_tools.layers.packs_label.text(),
    }


def _messages(win: Any) -> list[str]:
    seen: list[str] = []
    win.statusBar().messageChanged.connect(lambda m: seen.append(m) if m else None)
    return seen


def _errors(seen: list[str]) -> list[str]:
    return [m for m in seen if m.startswith(("Error: ", "Chyba: "))]


@pytest.fixture
def loaded(qtbot, main_window, tmp_path: Path) -> Any:  # type: ignore[no-untyped-def]
    """The window with an area, a mission (a plan shown), zones, a terrain model, a raster
    and an offline pack already loaded: the state a failed load must keep."""
    win = main_window
    plan, layers = win.plan_panel, win.map_tools.layers
    qtbot.waitUntil(lambda: plan.vehicle.count() > 1, timeout=10_000)
    with qtbot.waitSignal(plan.areaLoaded, timeout=20_000):
        plan.load_area(AREA)
    with qtbot.waitSignal(plan.zonesLoaded, timeout=20_000):
        plan.load_zones(sample_zones_path("geojson"))
    with qtbot.waitSignal(plan.planReady, timeout=60_000):
        plan.open_mission(MISSION)
    good = tmp_path / "good"
    good.mkdir()
    plan.dem_path = GOOD_TIF(good, "terrain.tif")
    layers.add_raster(GOOD_TIF(good, "ortho.tif"))
    qtbot.waitUntil(lambda: "ortho.tif" in win.map.rasters, timeout=20_000)
    pack = good / "plzen.mbtiles"
    from dronekit_plzen.basemap import MBTiles

    MBTiles(pack, mode="w").close()
    win.map.basemap.configure(
        type(win.map.basemap.settings)(source=None, packs=[pack], cache_dir=tmp_path / "tiles")
    )
    layers.packs_label.setText(layers._packs_text())
    qtbot.waitUntil(lambda: not plan.runner.busy and not layers.runner.busy, timeout=20_000)
    return win


def _open(win: Any, door: str, path: Path) -> Any:
    plan, layers = win.plan_panel, win.map_tools.layers
    if door == "area":
        plan.load_area(path)
    elif door == "mission":
        plan.open_mission(path)
    elif door == "zones":
        plan.load_zones(path)
    elif door == "dem":
        plan.load_dem(path)
    elif door == "raster":
        layers.add_raster(path)
    else:
        layers.add_pack(path)
    return layers.runner if door in ("raster", "pack") else plan.runner


@pytest.mark.parametrize("lang", ["en", "cs"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_file_is_refused_with_its_name_and_problem(  # type: ignore[no-untyped-def]
    qtbot, loaded, tmp_path: Path, case: Case, lang: str
) -> None:
    win = loaded
    win.switch_language(lang)
    before = _state(win)
    inputs = tmp_path / "in"
    inputs.mkdir()
    path = case.make(inputs, case.name)
    digest = _digest(path)
    seen = _messages(win)
    runner = _open(win, case.door, path)
    qtbot.waitUntil(lambda: bool(_errors(seen)), timeout=30_000)
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)
    (message,) = _errors(seen)
    assert str(path) in message and (case.en if lang == "en" else case.cs) in message, message
    assert "Traceback" not in message and "\n" not in message
    if lang == "cs":
        assert message.startswith("Chyba: "), message
    # also above the map, wrapped in full (the status bar cuts a long path's problem off)
    assert win.alerts.texts().get("door-error") == message
    if case.id in ("raster-absurd-extent", "pack-other-sqlite"):  # looked at by a person
        win.grab().save(str(SHOTS / f"bad-input-{case.id}-{lang}.png"))
    assert _state(win) == before  # nothing loaded before is lost, nothing half-loaded
    assert _digest(path) == digest  # the input is never written to (another program's DB)
    assert win.isVisible()


# ----------------------------------------------------------------------------- saves
SAVE_CASES = [
    # (id, door, path from tmp_path, English problem, Czech problem)
    ("shot-missing-folder", "shot", "nowhere/map.png", "does not exist", "neexistuje"),
    ("shot-directory", "shot", "out", "it is a directory", "adresář"),
    ("shot-proc", "shot", "/proc/map.png", "/proc/map.png", "/proc/map.png"),
    ("shot-not-png", "shot", "map.txt", "the extension must be .png", ".png"),
    ("export-under-a-file", "export", "out/notes.txt/m.plan", "not a directory", "není to adresář"),
    ("export-directory", "export", "out/dir.plan", "it is a directory", "adresář"),
    ("export-proc", "export", "/proc/m.plan", "/proc/m.plan", "/proc/m.plan"),
]


def _files(folder: Path) -> list[Path]:
    """Every file and folder under ``folder`` but the flight database's (its -wal, -shm)."""
    return sorted(
        p.relative_to(folder) for p in folder.rglob("*") if not p.name.startswith("flights.")
    )


@pytest.mark.parametrize("lang", ["en", "cs"])
@pytest.mark.parametrize(
    ("door", "where", "en", "cs"), [c[1:] for c in SAVE_CASES], ids=[c[0] for c in SAVE_CASES]
)
def test_a_save_to_a_bad_path_says_why_and_leaves_no_file(  # type: ignore[no-untyped-def]
    qtbot, main_window, tmp_path: Path, door: str, where: str, en: str, cs: str, lang: str
) -> None:
    win = main_window
    plan = win.plan_panel
    out = tmp_path / "out"
    out.mkdir()
    (out / "dir.plan").mkdir()
    (out / "notes.txt").write_text("a file, not a folder")
    if door == "export":
        with qtbot.waitSignal(plan.planReady, timeout=60_000):
            plan.open_mission(MISSION)
        plan.apply_override("checked by the commander")
    win.switch_language(lang)
    path = Path(where) if where.startswith("/") else tmp_path / where
    before = _files(tmp_path)
    seen = _messages(win)
    if door == "shot":
        assert win.save_screenshot(path) is False
    else:
        plan.export(path, "plan")
        qtbot.waitUntil(lambda: bool(_errors(seen)), timeout=30_000)
    (message,) = _errors(seen)
    named = str(path) in message or str(path.parent) in message  # the file, or its folder
    assert named and (en if lang == "en" else cs) in message, message
    assert _files(tmp_path) == before
    assert not Path("/proc/map.png").exists() and not Path("/proc/m.plan").exists()
    assert win.isVisible()


def test_a_failed_mission_open_keeps_the_shown_plans_override(  # type: ignore[no-untyped-def]
    qtbot, main_window, tmp_path: Path
) -> None:
    """The override of the plan shown had been dropped when the next file failed to open:
    the plan stayed on the map and in the fly panel, but its export was then refused."""
    plan = main_window.plan_panel
    with qtbot.waitSignal(plan.planReady, timeout=60_000):
        plan.open_mission(MISSION)
    assert plan.plan_view is not None and plan.plan_view.violations
    plan.apply_override("checked by the commander")
    seen = _messages(main_window)
    plan.open_mission(_random(tmp_path, "garbage.plan"))
    qtbot.waitUntil(lambda: bool(_errors(seen)), timeout=30_000)
    assert plan.override_reason == "checked by the commander"
    with qtbot.waitSignal(plan.statusMessage, timeout=30_000) as done:
        plan.export(tmp_path / "kept.plan", "plan")
    assert done.args[0].startswith("Exported: "), done.args
    assert (tmp_path / "kept.plan").is_file()


# ----------------------------------------------------------------------------- fields
URL_CASES = [
    ("udp://999.1.1.1:99999", "port out of range 0..65535: 99999"),
    ("udpin://127.0.0.1:99999", "port out of range"),
    ("garbage", "needs a scheme"),
    ("udpin://999.1.1.1:14540", "udpin://999.1.1.1:14540"),
    ("udpin://127.0.0.1:-1", "port out of range"),
    ("", "type a link URL first"),
]


@pytest.mark.parametrize(("url", "problem"), URL_CASES, ids=[u or "empty" for u, _ in URL_CASES])
def test_a_bad_link_url_is_refused_under_the_field(  # type: ignore[no-untyped-def]
    qtbot, main_window, url: str, problem: str
) -> None:
    fly = main_window.fly_panel
    with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as done:
        fly.connect_to(url)
    _name, _sysid, ok, message = done.args
    assert not ok and problem in message, message
    qtbot.waitUntil(lambda: fly.session is None and fly.connect_button.isEnabled(), timeout=10_000)
    assert problem in fly.connect_box.status.text()
    assert main_window.isVisible()


def _key(d: Path, size: int, *, sparse: bool = False) -> Path:
    p = d / "fleet.key"
    with p.open("wb") as f:
        if sparse:
            f.truncate(size)
        else:
            f.write(b"\x00\xff" * (size // 2))
    p.chmod(0o600)
    return p


@pytest.mark.parametrize("lang", ["en", "cs"])
def test_a_10_gb_key_file_is_refused_before_it_is_read(  # type: ignore[no-untyped-def]
    qtbot, main_window, tmp_path: Path, lang: str
) -> None:
    """A 10 GB (sparse) file chosen as the signing key had been read whole into memory, on
    the GUI thread, by the check and again by the link. It is refused by its size, at once,
    and no link is opened with it."""
    main_window.switch_language(lang)
    fly = main_window.fly_panel
    box = fly.connect_box
    key = _key(tmp_path, 10 * GIB, sparse=True)
    box.key_file.setText(str(key))
    assert box.check_key_file() is False
    text = box.status.text()
    assert str(key) in text, text
    assert ("too many for a key" if lang == "en" else "na klíč příliš mnoho") in text, text
    with qtbot.waitSignal(fly.commandFinished, timeout=10_000) as done:
        fly.connect_to("udpin://127.0.0.1:14540")
    _name, _sysid, ok, message = done.args
    assert not ok and str(key) in message and fly.session is None, message


def test_a_binary_key_file_is_refused_under_the_field(  # type: ignore[no-untyped-def]
    main_window, tmp_path: Path
) -> None:
    box = main_window.fly_panel.connect_box
    key = _key(tmp_path, 1000)
    box.key_file.setText(str(key))
    assert box.check_key_file() is False
    assert "not a signing key" in box.status.text() and str(key) in box.status.text()


def test_numeric_fields_take_no_nan_or_inf(qtbot, main_window) -> None:  # type: ignore[no-untyped-def]
    """Typed NaN, inf or absurd values never reach a plan: the spin boxes keep a value in
    their range."""
    plan = main_window.plan_panel
    for box in (plan.alt_m, plan.gsd_cm, plan.spacing_m, plan.radius_m, plan.width_m, plan.pod):
        before = box.value()
        for typed in ("nan", "inf", "-inf", "1e308", "1e9"):
            box.lineEdit().selectAll()
            qtbot.keyClicks(box.lineEdit(), typed)
            box.interpretText()
            v = box.value()
            assert np.isfinite(v) and box.minimum() <= v <= box.maximum(), (typed, v)
        box.setValue(before)
