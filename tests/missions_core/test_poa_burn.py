"""The POA coverage raster (:func:`missions.poa_cover.coverage_fraction`) burns polygons with
GDAL's rule in a compiled scanline (:func:`missions.poa_kernels.burn_polygons`): the same
sub-cells as :func:`rasterio.features.rasterize`, on swept paths, unions with holes and
polygons on the cells' edges."""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.features import rasterize
from rasterio.transform import from_origin

from missions.poa_cover import Footprint, coverage_fraction, swept_pieces
from missions.poa_map import PoaGrid

GRID = PoaGrid(np.full((60, 80), 1 / 4800), 500_000.0, 5_500_000.0, 15.0, 32633)


def _rasterio(grid: PoaGrid, geoms: list, k: int) -> np.ndarray:  # type: ignore[type-arg]
    """The same fraction by GDAL (the whole grid, no window)."""
    ny, nx = grid.shape
    m = rasterize(
        [g for g in geoms if not g.is_empty],
        out_shape=(ny * k, nx * k),
        transform=from_origin(grid.x0, grid.y0, grid.cell_m / k, grid.cell_m / k),
        fill=0,
        default_value=1,
        dtype=np.uint8,
    )
    return m.reshape(ny, k, nx, k).sum(axis=(1, 3)) / float(k * k)


@st.composite
def _paths(draw: st.DrawFn) -> tuple[np.ndarray, Footprint, bool, int]:
    n = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    xy = np.column_stack(
        [GRID.x0 + rng.uniform(-100, 1300, n), GRID.y0 - rng.uniform(-100, 1000, n)]
    )
    if draw(st.booleans()):  # vertices on cell and sub-cell edges
        xy = np.round(xy / 7.5) * 7.5
    fp = Footprint(draw(st.floats(5.0, 90.0)), draw(st.floats(5.0, 90.0)), disc=draw(st.booleans()))
    return xy, fp, draw(st.booleans()), draw(st.sampled_from([1, 2, 3, 4, 8]))


@settings(max_examples=40)
@given(_paths())
def test_swept_paths_burn_the_sub_cells_gdal_burns(case: tuple) -> None:  # type: ignore[type-arg]
    xy, fp, raw, k = case
    pieces = swept_pieces(xy, fp, raw=raw)
    np.testing.assert_array_equal(coverage_fraction(GRID, pieces, k=k), _rasterio(GRID, pieces, k))


def test_a_lower_edge_through_sub_cell_centres_burns_as_gdal_burns() -> None:
    """Found by ``make fuzz``: a 5 × 30 m footprint whose lower edge ran through sub-cell
    centres burned one sub-cell less than GDAL, which also burns the polygon's last line when it
    lies exactly on a row's centre line (and only that line: a top edge there is half-open)."""
    xy = np.array([[500_790.0, 5_499_802.5]])
    pieces = swept_pieces(xy, Footprint(5.0, 30.0), raw=False)
    np.testing.assert_array_equal(coverage_fraction(GRID, pieces, k=3), _rasterio(GRID, pieces, 3))
    # and a slanted edge through a sub-cell centre: a tie that the last bit of the pixel
    # coordinate decides (they are now computed as GDAL computes them)
    xy = np.array(
        [[500_430.0, 5_500_012.5], [500_887.5, 5_499_487.5], [500_910.0, 5_499_517.5],
         [501_112.5, 5_499_487.5], [501_157.5, 5_499_570.0]]
    )  # fmt: skip
    pieces = swept_pieces(xy, Footprint(6.0, 5.0), raw=False)
    np.testing.assert_array_equal(coverage_fraction(GRID, pieces, k=3), _rasterio(GRID, pieces, 3))
    for poly in (
        shapely.box(500_030.0, 5_499_702.5, 500_090.0, 5_499_752.5),  # bottom and top on centres
        shapely.Polygon(  # a zigzag bottom: local lowest points on a centre line
            [
                (500_030, 5_499_702.5),
                (500_060, 5_499_732.5),
                (500_090, 5_499_702.5),
                (500_120, 5_499_732.5),
                (500_150, 5_499_702.5),
                (500_150, 5_499_800),
                (500_030, 5_499_800),
            ]
        ),
    ):
        np.testing.assert_array_equal(
            coverage_fraction(GRID, [poly], k=3), _rasterio(GRID, [poly], 3)
        )


def test_a_holes_top_edge_on_a_sub_cell_centre_line_burns_as_gdal_burns() -> None:
    """Found by ``make fuzz``: a swath (90 × 5 m footprint) over a path that crosses itself,
    whose holes' top edges ran along sub-cell centre lines, burned a whole sub-row too many in
    34 cells. GDAL burns a horizontal edge on a centre line only where the ring's own inside
    lies above it (a shell's bottom edge, not a hole's top edge), whichever way the ring is
    given."""
    xy = np.array(
        [[500332.5, 5499517.5], [501247.5, 5499412.5], [500302.5, 5499997.5],
         [500572.5, 5499240.0], [500145.0, 5499150.0], [500842.5, 5499352.5],
         [500250.0, 5499007.5], [501195.0, 5499862.5], [500227.5, 5499862.5],
         [499912.5, 5499885.0], [500572.5, 5499622.5], [500820.0, 5499885.0]]
    )  # fmt: skip
    pieces = swept_pieces(xy, Footprint(90.0, 5.0), raw=False)
    np.testing.assert_array_equal(coverage_fraction(GRID, pieces, k=3), _rasterio(GRID, pieces, 3))
    x0, y0 = GRID.x0, GRID.y0
    shell = shapely.box(x0 + 30, y0 - 302.5, x0 + 300, y0 - 32.5)  # bottom on a centre line
    hole = [
        (x0 + 90, y0 - 152.5),
        (x0 + 210, y0 - 152.5),
        (x0 + 210, y0 - 92.5),
        (x0 + 90, y0 - 92.5),
    ]
    for ring in (hole, hole[::-1]):  # the hole's top and bottom on centre lines, either way round
        for outer in (shell.exterior.coords, shell.exterior.coords[::-1]):
            poly = shapely.Polygon(outer, [ring])
            np.testing.assert_array_equal(
                coverage_fraction(GRID, [poly], k=3), _rasterio(GRID, [poly], 3)
            )


def test_holes_multipolygons_and_edges() -> None:
    x0, y0 = GRID.x0, GRID.y0
    ring = shapely.box(x0 + 100, y0 - 500, x0 + 600, y0 - 100).difference(
        shapely.box(x0 + 250, y0 - 350, x0 + 450, y0 - 250)
    )  # a frame: the hole stays unburnt
    multi = shapely.MultiPolygon(
        [shapely.box(x0 + 700, y0 - 300, x0 + 760, y0 - 240), shapely.box(x0, y0 - 15, x0 + 15, y0)]
    )  # a cell exactly: its own sub-cells, none of the neighbours'
    disc = shapely.Point(x0 + 900, y0 - 700).buffer(200.0)  # partly off the grid
    tri = shapely.Polygon([(x0 + 30, y0 - 800), (x0 + 400, y0 - 880), (x0 + 100, y0 - 600)])
    geoms = [ring, multi, disc, tri, shapely.Polygon(), None]
    for k in (1, 4, 8):
        got = coverage_fraction(GRID, geoms, k=k)
        np.testing.assert_array_equal(got, _rasterio(GRID, [g for g in geoms if g is not None], k))
    frac = coverage_fraction(GRID, [ring], k=8)
    assert frac[20, 20] == 0.0 and frac[10, 10] == 1.0  # inside the hole, on the frame
    cell = coverage_fraction(GRID, [multi], k=8)
    assert cell[0, 0] == 1.0 and cell[0, 1] == 0.0 and cell[1, 0] == 0.0
    area = coverage_fraction(GRID, [disc], k=8).sum() * GRID.cell_m**2
    inside = shapely.intersection(disc, shapely.box(x0, y0 - 900, x0 + 1200, y0)).area
    assert math.isclose(area, inside, rel_tol=0.01)


def test_nothing_to_burn() -> None:
    assert coverage_fraction(GRID, []).sum() == 0.0
    off = shapely.box(GRID.x0 - 500, GRID.y0 + 100, GRID.x0 - 100, GRID.y0 + 400)
    assert coverage_fraction(GRID, [off, shapely.LineString([(0, 0), (1, 1)])]).sum() == 0.0


def test_a_polygon_with_a_non_finite_vertex_burns_nothing() -> None:
    from missions.poa_kernels import burn_polygons

    out = np.zeros((10, 10), dtype=np.uint8)
    px = np.array([1.0, 8.0, np.nan, 1.0, 2.0, 6.0, 6.0, 2.0])
    py = np.array([1.0, 1.0, 8.0, 1.0, 2.0, 2.0, np.inf, 2.0])
    burn_polygons(px, py, np.array([0, 4, 8]), np.array([0, 1, 2]), out)
    assert out.sum() == 0
    px[2], py[6] = 8.0, 6.0  # the same polygons, finite: they burn
    burn_polygons(px, py, np.array([0, 4, 8]), np.array([0, 1, 2]), out)
    assert out.sum() > 0
