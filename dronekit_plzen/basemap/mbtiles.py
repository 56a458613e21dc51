"""Offline packs in the MBTiles 1.3 format (an SQLite file: ``metadata`` and ``tiles``).

Rows are stored the TMS way (``tile_row = 2**z - 1 - y``); :class:`MBTiles` takes and gives XYZ
:class:`~dronekit_plzen.basemap.grid.TileId` so callers never see the flip.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

from dronekit_plzen.basemap.grid import TileId
from dronekit_plzen.errors import BadInputError, CorruptFileError, StorageError
from dronekit_plzen.i18n import _

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metadata (name TEXT, value TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS metadata_name ON metadata (name);
CREATE TABLE IF NOT EXISTS tiles (
    zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS tile_index ON tiles (zoom_level, tile_column, tile_row);
"""


class MBTiles:
    """An MBTiles file opened for reading (``mode="r"``) or writing (``mode="w"``).

    Use it in a ``with`` block. Reading is thread-safe (one connection behind a lock), so the
    map's tile worker can read while the window runs.

    >>> # with MBTiles("plzen.mbtiles") as pack: data = pack.get(TileId(15, 17601, 11148))
    """

    def __init__(self, path: Path | str, mode: str = "r"):
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.Lock()
        if mode == "r":
            if not self.path.is_file():
                raise BadInputError(_("offline pack not found"), where=str(self.path))
            uri = f"file:{self.path.resolve()}?mode=ro"
            self._damaged = False
            try:
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                names = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
            except sqlite3.DatabaseError as exc:
                raise CorruptFileError(
                    _("not an MBTiles (SQLite) file: {err}").format(err=exc), where=str(self.path)
                ) from exc
            if not {"tiles", "metadata"} <= names:
                self._db.close()
                raise BadInputError(
                    _("not an MBTiles file: the 'tiles' and 'metadata' tables are missing"),
                    where=str(self.path),
                )
            try:  # the columns every reader asks for (a look at the schema, no rows read)
                self._db.execute(
                    "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles LIMIT 0"
                )
                self._db.execute("SELECT name, value FROM metadata LIMIT 0")
            except sqlite3.DatabaseError as exc:
                self._db.close()
                raise BadInputError(
                    _("not an MBTiles file: {err}").format(err=exc), where=str(self.path)
                ) from None
        elif mode == "w":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, check_same_thread=False)
                self._db.executescript(_SCHEMA)
            except (sqlite3.DatabaseError, OSError) as exc:
                raise StorageError(
                    _("cannot write the offline pack: {err}").format(err=exc), where=str(self.path)
                ) from exc
        else:
            raise ValueError(f"mode must be 'r' or 'w', not {mode!r}")

    def __enter__(self) -> MBTiles:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self.mode == "w":
                self._db.commit()
            self._db.close()

    # ------------------------------------------------------------------ reading
    def get(self, tile: TileId) -> bytes | None:
        """The tile's bytes, or None when the pack has it not, holds no bytes for it (NULL,
        text) or is damaged where it is stored (a warning names the pack once; never raised:
        the map shows the tile as missing)."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT tile_data FROM tiles "
                    "WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                    (tile.z, tile.x, tile.tms_y),
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            if not getattr(self, "_damaged", False):
                self._damaged = True
                log.warning(_("offline pack %s is damaged: %s"), self.path, exc)
            return None
        if not row or not isinstance(row[0], bytes):
            return None
        return bytes(row[0])

    def _read(self, sql: str) -> list[tuple[object, ...]]:
        try:
            with self._lock:
                return list(self._db.execute(sql))
        except sqlite3.DatabaseError as exc:
            raise CorruptFileError(
                _("the offline pack is damaged: {err}").format(err=exc), where=str(self.path)
            ) from None

    @property
    def metadata(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._read("SELECT name, value FROM metadata")}

    def count(self) -> int:
        return int(str(self._read("SELECT COUNT(*) FROM tiles")[0][0]))

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(west, south, east, north) from the metadata, when given."""
        text = self.metadata.get("bounds")
        if not text:
            return None
        try:
            w, s, e, n = (float(v) for v in text.split(","))
        except ValueError:
            return None
        return w, s, e, n

    # ------------------------------------------------------------------ writing
    def set_metadata(self, values: Mapping[str, object]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO metadata (name, value) VALUES (?, ?)",
                [(k, str(v)) for k, v in values.items()],
            )

    def put_many(self, tiles: Iterable[tuple[TileId, bytes]]) -> int:
        rows = [(t.z, t.x, t.tms_y, sqlite3.Binary(d)) for t, d in tiles]
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            self._db.commit()
        return len(rows)
