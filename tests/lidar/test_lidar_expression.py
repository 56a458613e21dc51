"""PDAL's expressions: ``filters.expression`` and a writer's ``where`` (they had been refused)."""

from __future__ import annotations

from pathlib import Path

import laspy
import numpy as np
import pytest
import rasterio
from hypothesis import given
from hypothesis import strategies as st
from pyproj import CRS

from dronekit_plzen.errors import BadInputError
from lidar import expression, pipeline
from lidar.cloud import PointCloud
from lidar.io import read_cloud, write_cloud


def _cloud(n: int = 3000, seed: int = 2) -> PointCloud:
    rng = np.random.default_rng(seed)
    x = 458_000 + rng.uniform(0, 60, n)
    y = 5_510_000 + rng.uniform(0, 40, n)
    z = 320 + rng.uniform(0, 10, n)
    cls = rng.choice(np.array([1, 2, 5, 7], np.uint8), n)
    rn = rng.integers(1, 4, n).astype(np.uint8)
    nr = np.maximum(rn, rng.integers(1, 4, n)).astype(np.uint8)
    dims = {"classification": cls, "return_number": rn, "number_of_returns": nr}
    return PointCloud(x, y, z, dims, crs=CRS.from_epsg(32633), point_format=6)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Classification == 2", lambda c, z, r, n: c == 2),
        ("Classification == 2 && Z > 325", lambda c, z, r, n: (c == 2) & (z > 325)),
        ("Classification == 2 || Classification == 5", lambda c, z, r, n: (c == 2) | (c == 5)),
        ("!(ReturnNumber == NumberOfReturns)", lambda c, z, r, n: r != n),
        (
            "Z - 320 >= 2 * 2.5 && !(Classification != 1)",
            lambda c, z, r, n: (z - 320 >= 5) & (c == 1),
        ),
        ("-Z < -328.5 || Classification == 7", lambda c, z, r, n: (z > 328.5) | (c == 7)),
        ("Z / 2 > 162 && ReturnNumber <= 1", lambda c, z, r, n: (z / 2 > 162) & (r <= 1)),
    ],
)
def test_an_expression_selects_what_numpy_selects(text: str, want: object) -> None:
    cloud = _cloud()
    got = expression.evaluate(expression.parse(text), cloud)
    d = cloud.dims
    expected = want(d["classification"], cloud.z, d["return_number"], d["number_of_returns"])  # type: ignore[operator]
    assert got.dtype == bool and np.array_equal(got, expected)


def test_long_chains_are_evaluated_without_exhausting_the_stack() -> None:
    # a chain of 1,000 ``||`` is a tree 1,000 deep: it was a RecursionError (exit 1)
    cloud = _cloud()
    c = cloud.dims["classification"]
    text = " || ".join(f"Classification == {k % 9}" for k in range(1000))
    assert np.array_equal(expression.evaluate(expression.parse(text), cloud), c <= 8)
    total = " + ".join(["Z"] * 1500) + " > 0"
    got = expression.evaluate(expression.parse(total), cloud)
    assert np.array_equal(got, cloud.z * 1500 > 0)
    assert expression.dimensions(expression.parse(total)) == {"Z"}
    with pytest.raises(BadInputError) as err:
        expression.parse(text + " ||")
    quoted = str(err.value)
    assert len(quoted) < 200 and "…" in quoted  # the message quotes the start, not 40 kB


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Classification == ", "a value is missing at character 19"),
        ("Z > 100 && (Classification == 2", "a ')' is missing at character 32"),
        ("Classification = 2", "cannot read '= 2' at character 15"),
        ("Z + 3", "a comparison is needed where a number stands"),
        ("(Z > 1) + 2", "a comparison is needed where a number stands"),
        ("Z >> 2", "a value is missing before '>' at character 4"),
        ("  ", "the expression is empty"),
        # found from outside: 200 and 3,000 parentheses were a RecursionError (exit 1)
        pytest.param("(" * 3000 + "Z > 1" + ")" * 3000, "nested more than 100", id="parens"),
        pytest.param("!" * 500 + "(Z > 1)", "nested more than 100 levels deep", id="nots"),
        pytest.param("-" * 500 + "Z > 1", "nested more than 100 levels deep", id="minus"),
    ],
)
def test_a_bad_expression_is_named_with_its_place(text: str, message: str) -> None:
    with pytest.raises(BadInputError) as err:
        expression.parse(text)
    assert message in str(err.value)


@pytest.mark.parametrize("stream", [True, False])
def test_filters_expression_and_a_writers_where(tmp_path: Path, stream: bool) -> None:
    """The filter keeps the points it holds for; a writer's ``where`` writes only its points,
    the stages after it still see every point (PDAL's rule), streamed or not."""
    cloud = _cloud()
    src = tmp_path / "c.las"
    write_cloud(cloud, src)
    doc = [
        {"type": "readers.las", "filename": str(src), "chunk_size": 1000},
        {"type": "filters.expression", "expression": "Classification != 7"},
        {
            "type": "writers.las",
            "filename": str(tmp_path / "ground.las"),
            "where": "Classification == 2 && Z > 325",
        },
        {"type": "writers.las", "filename": str(tmp_path / "rest.las")},
    ]
    pipe = pipeline.parse(doc)
    assert pipe.streamable
    pipeline.run(pipe, stream=stream)
    c = cloud.classification
    ground = read_cloud(tmp_path / "ground.las")
    rest = read_cloud(tmp_path / "rest.las")
    assert len(ground) == int(((c == 2) & (cloud.z > 325)).sum()) > 0
    assert len(rest) == int((c != 7).sum()) and set(np.unique(rest.classification)) == {1, 2, 5}


def test_a_writers_where_on_a_raster(tmp_path: Path) -> None:
    cloud = _cloud()
    src = tmp_path / "c.las"
    write_cloud(cloud, src)
    writer = {
        "type": "writers.gdal",
        "filename": str(tmp_path / "g.tif"),
        "output_type": "count",
        "binmode": True,
        "resolution": 5,
        "where": "Classification == 2",
    }
    pipeline.run(pipeline.parse([str(src), writer]))
    with rasterio.open(tmp_path / "g.tif") as f:
        assert int(f.read(1).sum()) == int((cloud.classification == 2).sum())


def test_a_streamed_writer_waits_for_its_first_point(tmp_path: Path) -> None:
    """The first chunk gives the writer no point (its where, or a crop): the header is laid out
    on the first points it gets (it had been laid out on none, offsets 0, and the file's
    coordinates 5,510,000 m overflowed the 32-bit range at scale 0.001)."""
    cloud = _cloud(4000)
    order = np.argsort(cloud.x)  # the western points first in the file
    cloud = cloud.select(order)
    src = tmp_path / "c.las"
    write_cloud(cloud, src)
    reader = {"type": "readers.las", "filename": str(src), "chunk_size": 1000}
    crop = {"type": "filters.crop", "bounds": "([458045, 458100], [5509000, 5511000])"}
    for middle, writer in (
        ([], {"where": "X > 458045"}),
        ([crop], {}),  # the same with a crop before the writer (an internal error before)
    ):
        out = tmp_path / "east.las"
        out.unlink(missing_ok=True)
        doc = [reader, *middle, {"type": "writers.las", "filename": str(out), **writer}]
        rep = pipeline.run(pipeline.parse(doc), stream=True)
        assert rep.streamed
        east = laspy.read(str(out))
        assert len(east) == int((cloud.x > 458045).sum()) > 0
        assert np.allclose(np.sort(east.x), np.sort(cloud.x[cloud.x > 458045]), atol=0.001)


# --- the parser against expressions written from random trees (precedence, associativity) ---
_PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3}
_PREC.update({"+": 4, "-": 4, "*": 5, "/": 5})


def _arith(depth: int) -> st.SearchStrategy[tuple]:
    leaf = st.one_of(
        st.sampled_from([("dim", "Z"), ("dim", "Classification"), ("dim", "ReturnNumber")]),
        st.integers(0, 400).map(lambda v: ("num", float(v))),
    )
    if depth == 0:
        return leaf
    sub = _arith(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.sampled_from(["+", "-", "*"]), sub, sub),
        st.tuples(st.just("neg"), sub),
    )


def _test(depth: int) -> st.SearchStrategy[tuple]:
    cmp = st.tuples(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), _arith(2), _arith(2))
    if depth == 0:
        return cmp
    sub = _test(depth - 1)
    return st.one_of(
        cmp, st.tuples(st.sampled_from(["&&", "||"]), sub, sub), st.tuples(st.just("!"), sub)
    )


def _render(t: tuple, paren_all: bool) -> tuple[str, int]:
    """(text, precedence of its top operator; 9 for an atom)."""
    op = t[0]
    if op == "dim":
        return t[1], 9
    if op == "num":
        return f"{t[1]:g}", 9
    if op in ("neg", "!"):
        inner, p = _render(t[1], paren_all)
        sign = "-" if op == "neg" else "!"
        return (f"{sign}({inner})" if p < 9 or paren_all else f"{sign}{inner}"), 9
    left, pl = _render(t[1], paren_all)
    right, pr = _render(t[2], paren_all)
    prec = _PREC[op]
    if paren_all or pl < prec or (prec == 3 and pl == 3):
        left = f"({left})"
    if paren_all or pr <= prec:  # left-associative: an equal one on the right needs them
        right = f"({right})"
    return f"{left} {op} {right}", prec


def _value(t: tuple, d: dict[str, np.ndarray]) -> np.ndarray:
    op = t[0]
    if op == "dim":
        return d[t[1]]
    if op == "num":
        return np.full(len(d["Z"]), t[1])
    if op == "neg":
        return -_value(t[1], d)
    if op == "!":
        return ~_value(t[1], d)
    a, b = _value(t[1], d), _value(t[2], d)
    ops = {
        "+": np.add,
        "-": np.subtract,
        "*": np.multiply,
        "==": np.equal,
        "!=": np.not_equal,
        "<": np.less,
        "<=": np.less_equal,
        ">": np.greater,
        ">=": np.greater_equal,
        "&&": np.logical_and,
        "||": np.logical_or,
    }
    return np.asarray(ops[op](a, b))


@given(tree=_test(2), paren_all=st.booleans())
def test_a_written_expression_means_what_its_tree_means(tree: tuple, paren_all: bool) -> None:
    cloud = _cloud(200)
    text, _p = _render(tree, paren_all)
    d = {
        "Z": cloud.z,
        "Classification": cloud.classification.astype(np.float64),
        "ReturnNumber": cloud.dims["return_number"].astype(np.float64),
    }
    got = expression.evaluate(expression.parse(text), cloud)
    assert np.array_equal(got, _value(tree, d)), text
