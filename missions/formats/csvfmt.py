"""CSV: one row per item for spreadsheets and scripts.

Columns: ``kind`` (``home``, ``mission``, ``fence``, ``rally``, ``speed``), ``index`` and the
MAVLink fields
(``command``, ``frame``, ``param1``..``param4``, ``lat_deg``, ``lon_deg``, ``alt_m``,
``autocontinue``), ``alt_datum`` beside ``alt_m`` (what the altitude is measured from: "AMSL",
"above home", "above terrain"; the home's "unknown" when no DEM gave it; written for the
reader, the frame decides) and ``meta`` (JSON annotations, may be empty). Fence rows are the
MAVLink fence items (vertex count or radius in param1), so polygons
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
    CMD_DO_CHANGE_SPEED,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    FRAME_MISSION,
    MISSION_TYPE_FENCE,
    MISSION_TYPE_RALLY,
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
    speed_stated,
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
    if not stated:
        note_speed(m.metadata, False)
    return m


def write_csv(mission: Mission, path: Path) -> Path:
    atomic_write_text(path, dump_csv(mission))
    write_sidecar(path, mission.metadata)
    return path
