"""CSV: one row per item for spreadsheets and scripts.

Columns: ``kind`` (``home``, ``mission``, ``fence``, ``rally``, ``speed``), ``index`` and the
MAVLink fields
(``command``, ``frame``, ``param1``..``param4``, ``lat_deg``, ``lon_deg``, ``alt_m``,
``autocontinue``), ``alt_datum`` beside ``alt_m`` (what the altitude is measured from: "AMSL",
"above home", "above terrain"; the home's "unknown" when no DEM gave it; read back against the
frame: a row without a frame takes its datum's, a frame that disagrees with it is refused, and
an item with a place and neither is refused) and ``meta`` (JSON annotations, may be empty).
The autopilot the mission is written for goes to the sidecar (the guard's fence rules
differ). Fence rows are the MAVLink fence items (vertex count or radius in param1), so polygons
and circles read back. The two ``speed`` rows hold the mission's planning speeds as
``DO_CHANGE_SPEED`` rows (speed in param2): index 0 the cruise speed the safety guard times the
legs with, index 1 the hover speed. Metadata goes to ``NAME.csv.meta.json`` beside the file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.mission_items import (
    ALT_DATUMS,
    CMD_DO_CHANGE_SPEED,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    FRAME_MISSION,
    MISSION_TYPE_FENCE,
    MISSION_TYPE_RALLY,
    POSITION_COMMANDS,
    MissionItem,
    alt_datum,
)
from missions.formats._common import (
    ITEM_FIELDS,
    atomic_write_text,
    fence_from_items,
    home_alt_datum,
    item_from_dict,
    json_safe,
    note_speed,
    rally_from_items,
    read_sidecar,
    read_text,
    sidecar_metadata,
    speed_stated,
    take_autopilot,
    write_sidecar,
)
from missions.model import Mission

_FIELDS = tuple(f for f in ITEM_FIELDS if f != "mission_type")
#: the item's fields, with what its altitude is measured from beside alt_m (read by name)
COLUMNS = ("kind", "index", *_FIELDS[: _FIELDS.index("alt_m") + 1], "alt_datum",
           *_FIELDS[_FIELDS.index("alt_m") + 1 :], "meta")  # fmt: skip


def _cell(v: object) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return str(v)


def dump_csv(mission: Mission) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    rows: list[tuple[str, int, MissionItem]] = []
    if mission.home is not None:
        lon, lat, alt = mission.home
        rows.append(
            (
                "home",
                0,
                MissionItem(CMD_NAV_WAYPOINT, FRAME_GLOBAL, lat_deg=lat, lon_deg=lon, alt_m=alt),
            )
        )
    rows += [("mission", k, it) for k, it in enumerate(mission.items)]
    rows += [("fence", k, it) for k, it in enumerate(mission.fence_items())]
    rows += [("rally", k, it) for k, it in enumerate(mission.rally_items())]
    rows += [
        ("speed", k, MissionItem(CMD_DO_CHANGE_SPEED, FRAME_MISSION, param2=v, param3=-1.0))
        for k, v in enumerate((mission.cruise_speed_m_s, mission.hover_speed_m_s))
    ]
    for kind, k, it in rows:
        meta = json.dumps(json_safe(it.meta), ensure_ascii=False) if it.meta else ""
        datum = alt_datum(it.frame) if it.has_position else None
        if kind == "home":
            datum = home_alt_datum(mission)
        cells = {f: _cell(getattr(it, f)) for f in _FIELDS}
        cells["alt_datum"] = datum or ""
        w.writerow([kind, k, *(cells[f] for f in COLUMNS[2:-1]), meta])
    return buf.getvalue()


#: a row's stated datum → the frame it names (the frame the writer wrote beside it)
_DATUM_FRAMES = {d.lower(): f for f, d in ALT_DATUMS.items()}


def _frame_from_datum(row: dict[str, str | None], where: str) -> None:
    """The row's frame checked against its ``alt_datum`` (a spreadsheet's edit): a frame
    missing is the datum's, a frame that disagrees with it is refused. No frame and no datum on
    an item with a place is refused too: an altitude without its datum (it had been taken
    above home)."""
    frame = (row.get("frame") or "").strip()
    datum = (row.get("alt_datum") or "").strip()
    if datum and datum.lower() not in _DATUM_FRAMES:
        raise BadInputError(
            _("alt_datum {d!r} is not one of {k}").format(
                d=datum, k=", ".join(sorted(ALT_DATUMS.values()))
            ),
            where=where,
        )
    if not frame:
        if datum:
            row["frame"] = str(_DATUM_FRAMES[datum.lower()])
        elif _positioned(row):
            raise BadInputError(
                _("the item's altitude has no datum: give its frame (MAV_FRAME) or alt_datum"),
                where=where,
            )
        return
    try:
        stated = alt_datum(int(float(frame)))
    except ValueError:
        return  # the item's own check names it
    if datum and stated is not None and stated.lower() != datum.lower():
        raise BadInputError(
            _("frame {f} is {s}, but alt_datum says {d}").format(f=frame, s=stated, d=datum),
            where=where,
        )


def _positioned(row: dict[str, str | None]) -> bool:
    """A row whose command flies to or marks a place (its altitude means something)."""
    try:
        cmd = int(float(row.get("command") or ""))
    except ValueError:
        return False
    return cmd in POSITION_COMMANDS


def parse_csv(text: str, path: str = "<csv>") -> Mission:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"command", "lat_deg", "lon_deg", "alt_m"} - set(reader.fieldnames or [])
    if missing:
        raise BadInputError(
            _("CSV lacks columns: {missing}").format(missing=", ".join(sorted(missing))),
            where=f"{path}:1",
        )
    m = Mission()
    speed_rows = False
    fence: list[MissionItem] = []
    rally: list[MissionItem] = []
    for lineno, row in enumerate(reader, start=2):
        kind = (row.get("kind") or "mission").strip()
        if kind != "home":
            _frame_from_datum(row, f"{path}:{lineno}")
        it = item_from_dict(dict(row), f"{path}:{lineno}")
        if kind == "home":
            m.home = (it.lon_deg, it.lat_deg, it.alt_m)
        elif kind == "mission":
            m.items.append(it)
        elif kind == "fence":
            fence.append(it.with_(mission_type=MISSION_TYPE_FENCE))
        elif kind == "rally":
            rally.append(it.with_(mission_type=MISSION_TYPE_RALLY))
        elif kind == "speed":
            speed_rows = True
            if not (math.isfinite(it.param2) and it.param2 > 0):
                raise BadInputError(
                    _("speed row needs a speed > 0 m/s in param2, not {param2}").format(
                        param2=it.param2
                    ),
                    where=f"{path}:{lineno}",
                )
            if str(row.get("index", "0")).strip() == "1":
                m.hover_speed_m_s = it.param2
            else:
                m.cruise_speed_m_s = it.param2
        else:
            raise BadInputError(
                _("unknown row kind {kind!r}").format(kind=kind), where=f"{path}:{lineno}"
            )
    m.fence_polygons, m.fence_circles = fence_from_items(fence, path)
    m.rally_points = rally_from_items(rally)
    note_speed(m.metadata, speed_rows)  # (no speed rows: a CSV of an older version)
    return m


def read_csv(path: Path) -> Mission:
    m = parse_csv(read_text(path), str(path))
    stated = speed_stated(m.metadata)
    m.metadata = read_sidecar(path)
    take_autopilot(m)  # recorded beside the file by our writer (CSV has no column for it)
    if not stated:
        note_speed(m.metadata, False)
    return m


def write_csv(mission: Mission, path: Path) -> Path:
    atomic_write_text(path, dump_csv(mission))
    write_sidecar(path, sidecar_metadata(mission))
    return path
