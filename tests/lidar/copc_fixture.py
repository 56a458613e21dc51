"""A small test-only COPC 1.0 writer (laspy reads COPC but cannot write it).

Layout of the file it writes, following the COPC 1.0 specification (https://copc.io):

* LAS 1.4 header (375 bytes), point data format 6, 7 or 8 with the LAZ compression bit set;
  global encoding bit 4 (WKT) when a CRS is given.
* VLR 1: COPC ``info`` (user id ``copc``, record id 1, 160 bytes) starting at offset 375.
* VLR 2: LASzip (``laszip encoded``/22204) announcing variable-size chunks.
* VLR 3 (optional): OGC WKT coordinate system (``LASF_Projection``/2112).
* Point data: the 8-byte offset to the LAZ chunk table, then one LAZ chunk per octree node, then
  the chunk table (written by lazrs).
* EVLR 1: COPC ``hierarchy`` (user id ``copc``, record id 1000): a single page of 32-byte entries
  (VoxelKey level/x/y/z as int32, offset uint64, byteSize int32, pointCount int32).

Points are distributed over an octree of ``levels`` levels as EPT/COPC writers do: each node keeps
at most one point per cell of its spacing (the root's spacing halves at every level) and passes the
rest down; the deepest level keeps everything that is left. Every ancestor of a populated node has
an entry (pointCount 0 when it kept no points), so a reader can walk from the root.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import laspy
import lazrs
import numpy as np
from pyproj import CRS

HEADER_SIZE = 375
VLR_HEADER_SIZE = 54
EVLR_HEADER_SIZE = 60
INFO_SIZE = 160
ENTRY = struct.Struct("<iiiiQii")  # VoxelKey (level, x, y, z), offset, byteSize, pointCount


@dataclass(frozen=True)
class CopcLayout:
    """What the writer put where (for tests that check skipping and offsets)."""

    path: Path
    center: tuple[float, float, float]
    halfsize: float
    spacing: float
    nodes: dict[tuple[int, int, int, int], int]  # key -> point count (0 for empty ancestors)
    hierarchy_offset: int
    hierarchy_size: int  # of the root page
    point_data_offset: int
    child_pages: int


def _vlr_header(user_id: str, record_id: int, length: int, description: str) -> bytes:
    return struct.pack(
        "<H16sHH32s",
        0,
        user_id.encode("ascii"),
        record_id,
        length,
        description.encode("ascii"),
    )


def _evlr_header(user_id: str, record_id: int, length: int, description: str) -> bytes:
    return struct.pack(
        "<H16sHQ32s",
        0,
        user_id.encode("ascii"),
        record_id,
        length,
        description.encode("ascii"),
    )


def _info_record(
    center: np.ndarray,
    halfsize: float,
    spacing: float,
    hier_offset: int,
    hier_size: int,
    gps: tuple[float, float],
) -> bytes:
    data = struct.pack(
        "<5d2Q2d11Q", *center, halfsize, spacing, hier_offset, hier_size, *gps, *([0] * 11)
    )
    assert len(data) == INFO_SIZE
    return data


def _header(
    *,
    fmt: int,
    record_len: int,
    n_vlrs: int,
    point_offset: int,
    scales: np.ndarray,
    offsets: np.ndarray,
    mins: np.ndarray,
    maxs: np.ndarray,
    evlr_start: int,
    n_points: int,
    by_return: np.ndarray,
    wkt: bool,
) -> bytes:
    global_encoding = 1 | (16 if wkt else 0)  # GPS time is standard (adjusted) time; WKT CRS
    head = struct.pack(
        "<4sHH16sBB32s32sHHHIIBHI5I",
        b"LASF",
        0,
        global_encoding,
        b"\0" * 16,
        1,
        4,
        b"dronekit-plzen tests",
        b"copc_fixture",
        1,
        2026,
        HEADER_SIZE,
        point_offset,
        n_vlrs,
        fmt | 0x80,  # the high bit marks LAZ-compressed point data
        record_len,
        0,  # legacy point count: 0 for formats 6-10
        *([0] * 5),
    )
    head += struct.pack("<3d3d", *scales, *offsets)
    head += struct.pack("<6d", maxs[0], mins[0], maxs[1], mins[1], maxs[2], mins[2])
    head += struct.pack("<QQIQ15Q", 0, evlr_start, 1, n_points, *by_return)
    assert len(head) == HEADER_SIZE
    return head


def _assign_levels(
    ix: np.ndarray,
    iy: np.ndarray,
    iz: np.ndarray,
    root_min: np.ndarray,
    cell: float,
    levels: int,
    empty: frozenset[int],
) -> np.ndarray:
    """Octree level of each point: the first point of each spacing cell stays at that level."""
    n = len(ix)
    level = np.full(n, levels - 1, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    pts = np.stack([ix, iy, iz], axis=1)
    for lev in range(levels - 1):
        if lev in empty:
            continue
        spacing = cell / 2**lev
        idx = np.flatnonzero(free)
        vox = np.floor((pts[idx] - root_min) / spacing).astype(np.int64)
        _, first = np.unique(vox, axis=0, return_index=True)
        chosen = idx[first]
        level[chosen] = lev
        free[chosen] = False
    return level


def _pages(
    nodes: dict[tuple[int, int, int, int], int],
    where: dict[tuple[int, int, int, int], tuple[int, int]],
    start: int,
    paged: bool,
) -> tuple[bytes, list[bytes]]:
    """The root hierarchy page (beginning at file offset ``start``) and any child pages after it."""

    def entry(key: tuple[int, int, int, int], cnt: int) -> bytes:
        return ENTRY.pack(*key, *(where[key] if cnt else (0, 0)), cnt)

    items = sorted(nodes.items())
    if not paged:
        return b"".join(entry(k, c) for k, c in items), []
    subtrees: dict[tuple[int, int, int, int], list[bytes]] = {}
    for (lv, kx, ky, kz), cnt in items:
        if lv >= 1:
            d = lv - 1
            top = (1, kx >> d, ky >> d, kz >> d)
            subtrees.setdefault(top, []).append(entry((lv, kx, ky, kz), cnt))
    roots = [entry(k, c) for k, c in items if k[0] == 0]
    children = [b"".join(v) for v in subtrees.values()]
    offset = start + ENTRY.size * (len(roots) + len(subtrees))
    for top, page in zip(subtrees, children, strict=True):
        roots.append(ENTRY.pack(*top, offset, len(page), -1))
        offset += len(page)
    return b"".join(roots), children


def write_copc(
    path: str | Path,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    *,
    scales: tuple[float, float, float] = (0.01, 0.01, 0.01),
    offsets: tuple[float, float, float] = (0.0, 0.0, 0.0),
    crs: CRS | None = None,
    point_format: int = 6,
    levels: int = 3,
    root_cells: int = 4,
    intensity: np.ndarray | None = None,
    classification: np.ndarray | None = None,
    gps_time: np.ndarray | None = None,
    empty_levels: tuple[int, ...] = (),
    paged: bool = False,
) -> CopcLayout:
    """Write the points as a COPC 1.0 file with an octree of ``levels`` levels.

    ``root_cells`` is the number of root spacing cells along the cube's side (the root node keeps
    at most one point per cell, level L at most one per cell of side ``spacing / 2**L``).
    ``empty_levels`` keep no points (their nodes get pointCount 0 entries), as in files whose
    writer passes sparse upper levels down. ``paged`` splits the hierarchy: the root page holds
    level 0 and, for each level-1 node, a pointCount -1 entry referring to a child page with that
    node's subtree (as writers of large files do).
    """
    if point_format not in (6, 7, 8):
        raise ValueError("COPC allows point formats 6, 7 and 8 only")
    path = Path(path)
    pf = laspy.PointFormat(point_format)
    sc = np.asarray(scales, dtype=np.float64)
    off = np.asarray(offsets, dtype=np.float64)
    n = len(x)
    rec = laspy.ScaleAwarePointRecord.zeros(n, point_format=pf, scales=sc, offsets=off)
    rec.x = np.asarray(x, dtype=np.float64)
    rec.y = np.asarray(y, dtype=np.float64)
    rec.z = np.asarray(z, dtype=np.float64)
    rec.return_number = np.ones(n, dtype=np.uint8)
    rec.number_of_returns = np.ones(n, dtype=np.uint8)
    if intensity is not None:
        rec.intensity = intensity
    if classification is not None:
        rec.classification = classification
    gt = np.arange(n, dtype=np.float64) if gps_time is None else np.asarray(gps_time, np.float64)
    rec.gps_time = gt
    qx, qy, qz = (np.asarray(rec.x), np.asarray(rec.y), np.asarray(rec.z))  # quantised

    mins = np.array([qx.min(), qy.min(), qz.min()])
    maxs = np.array([qx.max(), qy.max(), qz.max()])
    center = (mins + maxs) / 2.0
    halfsize = float(np.max(maxs - mins)) / 2.0 * 1.0001 + max(sc)  # a cube holding every point
    root_min = center - halfsize
    spacing = 2.0 * halfsize / root_cells

    level = _assign_levels(qx, qy, qz, root_min, spacing, levels, frozenset(empty_levels))
    side = 2.0 * halfsize / 2.0**level
    cells = np.stack([qx, qy, qz], axis=1) - root_min
    kxyz = np.floor(cells / side[:, None]).astype(np.int64)
    kxyz = np.minimum(kxyz, (2**level - 1)[:, None])
    keys = np.concatenate([level[:, None], kxyz], axis=1)
    ukeys, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")  # points grouped node by node

    nodes: dict[tuple[int, int, int, int], int] = {
        (int(k[0]), int(k[1]), int(k[2]), int(k[3])): int(c)
        for k, c in zip(ukeys, counts, strict=True)
    }
    for lv, kx, ky, kz in list(nodes):
        while lv > 0:  # ancestors must have entries so readers can walk down to this node
            lv, kx, ky, kz = lv - 1, kx >> 1, ky >> 1, kz >> 1
            nodes.setdefault((lv, kx, ky, kz), 0)

    laz = lazrs.LazVlr.new_for_compression(point_format, 0, True)
    wkt = crs.to_wkt().encode("utf-8") + b"\0" if crs is not None else None
    vlrs = [
        _vlr_header("copc", 1, INFO_SIZE, "copc info"),
        _vlr_header("laszip encoded", 22204, len(laz.record_data()), "lazrs variable chunks"),
    ]
    if wkt is not None:
        vlrs.append(_vlr_header("LASF_Projection", 2112, len(wkt), "OGC WKT"))
    point_offset = (
        HEADER_SIZE + VLR_HEADER_SIZE * len(vlrs) + INFO_SIZE + len(laz.record_data())
    ) + (len(wkt) if wkt is not None else 0)

    raw = rec.array[order]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    gps = (float(gt.min()), float(gt.max())) if n else (0.0, 0.0)
    with open(path, "w+b") as f:
        f.write(b"\0" * point_offset)  # header and VLRs are written once offsets are known
        compressor = lazrs.LasZipCompressor(f, laz)
        for i in range(len(ukeys)):
            if i:
                compressor.finish_current_chunk()  # done() closes the last chunk itself
            chunk = raw[bounds[i] : bounds[i + 1]]
            compressor.compress_many(np.frombuffer(chunk.tobytes(), np.uint8))
        compressor.done()
        f.flush()
        evlr_start = f.seek(0, io.SEEK_END)
        f.seek(point_offset)
        table = lazrs.read_chunk_table(f, laz)
        sizes = [int(b) for _, b in table]
        assert [int(c) for c, _ in table] == [int(c) for c in counts], "one chunk per node"
        chunk_offsets = point_offset + 8 + np.concatenate([[0], np.cumsum(sizes)])
        where = {
            (int(k[0]), int(k[1]), int(k[2]), int(k[3])): (int(chunk_offsets[i]), sizes[i])
            for i, k in enumerate(ukeys)
        }
        hier_offset = evlr_start + EVLR_HEADER_SIZE
        root_page, child_pages = _pages(nodes, where, hier_offset, paged)
        data = root_page + b"".join(child_pages)
        f.seek(evlr_start)
        f.write(_evlr_header("copc", 1000, len(data), "EPT hierarchy"))
        f.write(data)
        by_return = np.zeros(15, dtype=np.uint64)
        by_return[0] = n
        f.seek(0)
        f.write(
            _header(
                fmt=point_format,
                record_len=pf.size,
                n_vlrs=len(vlrs),
                point_offset=point_offset,
                scales=sc,
                offsets=off,
                mins=mins,
                maxs=maxs,
                evlr_start=evlr_start,
                n_points=n,
                by_return=by_return,
                wkt=wkt is not None,
            )
        )
        f.write(vlrs[0])
        f.write(_info_record(center, halfsize, spacing, hier_offset, len(root_page), gps))
        f.write(vlrs[1])
        f.write(laz.record_data())
        if wkt is not None:
            f.write(vlrs[2])
            f.write(wkt)
        assert f.tell() == point_offset
    return CopcLayout(
        path=path,
        center=(float(center[0]), float(center[1]), float(center[2])),
        halfsize=halfsize,
        spacing=spacing,
        nodes=nodes,
        hierarchy_offset=hier_offset,
        hierarchy_size=len(root_page),
        child_pages=len(child_pages),
        point_data_offset=point_offset,
    )
