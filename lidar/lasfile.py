"""How many points a LAS/LAZ file can hold, from its size: a header's count is not trusted.

A header that claims 4,294,967,295 points in a 37 kB file made the reader allocate 32 GiB
before reading a single point. The claim is checked against the bytes first: an uncompressed
file holds at most ``(size - offset_to_point_data) // record_length`` points; a LAZ file at
most the sum of its chunk table's point counts (read by lazrs, a few bytes per chunk).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import BinaryIO

import laspy


def point_capacity(path: str | Path, header: laspy.LasHeader) -> int | None:
    """The most points ``path`` can hold, or None when its size cannot tell (a LAZ file
    whose chunk table cannot be read: the chunked reader then names the damage itself)."""
    p = Path(path)
    size = p.stat().st_size
    start = int(header.offset_to_point_data)
    if not header.are_points_compressed:
        rec = int(header.point_format.size)
        return max(0, size - start) // rec if rec > 0 else None
    return _laz_capacity(p, start)


def laz_table_offset(path: str | Path, header: laspy.LasHeader) -> tuple[int, int] | None:
    """(where the LAZ chunk table should start, the file's size) when that lies beyond the
    file's end: the file was cut short (a copy or a download that stopped). None otherwise,
    also for a file without the offset (LASzip writes -1 when it could not seek back)."""
    if not header.are_points_compressed:
        return None
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as fh:
        if _laz_compressor(fh) == _POINTWISE:
            return None  # LASzip 1.x point-wise: no chunk table, no offset to one
        fh.seek(int(header.offset_to_point_data))
        raw = fh.read(8)
    if len(raw) < 8:
        return (int(header.offset_to_point_data) + 8, size)
    table = int.from_bytes(raw, "little", signed=True)
    if table > 0 and table + 8 > size:
        return (table, size)
    return None


#: LASzip's compressor for point-wise compression without chunks (LASzip 1.0–1.2, e.g. PDAL's
#: ``simple-laszip-compressor-version-1.2r0.laz``): its point data start with no chunk-table offset
_POINTWISE = 1


def laz_pointwise(path: str | Path) -> bool:
    """Whether a LAZ file uses LASzip 1.x point-wise compression without chunks, which the
    LAZ backend (lazrs) cannot decompress (it panics: "Variable-size chunks, but no chunk
    table")."""
    with Path(path).open("rb") as fh:
        return _laz_compressor(fh) == _POINTWISE


def _laz_compressor(fh: BinaryIO) -> int | None:
    """The compressor field of the file's LASzip record (None when it cannot be read)."""
    fh.seek(0)
    try:
        full = laspy.LasHeader.read_from(fh)
    except Exception:  # unreadable here means unreadable to laspy too: it names it
        return None
    vlr = next((v for v in full.vlrs if type(v).__name__ == "LasZipVlr"), None)
    data = bytes(getattr(vlr, "record_data", b"") or b"")
    return int.from_bytes(data[:2], "little") if len(data) >= 2 else None


def _laz_capacity(p: Path, start: int) -> int | None:
    import lazrs

    with p.open("rb") as fh:
        try:
            full = laspy.LasHeader.read_from(fh)  # with its LASzip record (the reader drops it)
        except Exception:  # unreadable here means unreadable to laspy too: it names it
            return None
        vlr = next((v for v in full.vlrs if type(v).__name__ == "LasZipVlr"), None)
        if vlr is None:
            return None
        with contextlib.suppress(Exception):  # lazrs raises its own types on a bad table
            fh.seek(start)
            table = lazrs.read_chunk_table(fh, lazrs.LazVlr(vlr.record_data))
            if table is not None:
                return int(sum(int(n) for n, _b in table))
    return None
