"""The NodeODM engine against a small HTTP server of the tests that follows NodeODM's API.

The server (127.0.0.1, a free port) implements what pyodm calls: ``GET /info``, ``POST
/task/new/init``, ``/task/new/upload/{uuid}``, ``/task/new/commit/{uuid}``, ``GET
/task/{uuid}/info`` (queued → running with progress → completed, or failed) and ``GET
/task/{uuid}/download/all.zip`` with ODM's folder layout inside. NodeODM itself cannot run in
CI (Node.js + ODM's Docker image). The replies follow what the real NodeODM 2.2.4 answered in
its ``--test`` mode (``/info`` fields, the options it adds by itself, all.zip's folders, an
empty report.pdf); :func:`test_real_node` runs the same job against a real node when
``DKP_NODEODM_URL`` names one.
"""

from __future__ import annotations

import io
import json
import os
import threading
import uuid as uuidlib
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import laspy
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from dronekit_plzen.errors import LinkError
from photo.nodeodm import NodeODMError, process_nodeodm


def _tif(count: int, dtype: str) -> bytes:
    mem = io.BytesIO()
    with rasterio.MemoryFile() as mf:
        with mf.open(
            driver="GTiff",
            width=8,
            height=8,
            count=count,
            dtype=dtype,
            crs="EPSG:32617",
            transform=from_origin(289000, 4603000, 1, 1),
        ) as ds:
            ds.write(np.full((count, 8, 8), 7, dtype=dtype))
        mem.write(mf.read())
    return mem.getvalue()


def _laz() -> bytes:
    las = laspy.LasData(laspy.LasHeader(point_format=7, version="1.4"))
    las.x, las.y, las.z = np.array([289000.0, 289001.0]), np.array([4603000.0] * 2), np.ones(2)
    buf = io.BytesIO()
    las.write(buf, do_compress=True)
    return buf.getvalue()


def all_zip(stats_json: str | None = None) -> bytes:
    buf = io.BytesIO()
    stats = {
        "reconstruction_statistics": {
            "reconstructed_shots_count": 3,
            "initial_shots_count": 3,
            "reconstructed_points_count": 1234,
            "reprojection_error_pixels": 0.8,
        },
        "gps_errors": {
            "mean": {"x": 0.1, "y": -0.1, "z": 0.2},
            "std": {"x": 0.3, "y": 0.4, "z": 1.0},
            "error": {"x": 0.3, "y": 0.4, "z": 1.1},
            "average_error": 0.9,
        },
    }
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("odm_orthophoto/odm_orthophoto.tif", _tif(4, "uint8"))
        z.writestr("odm_dem/dsm.tif", _tif(1, "float32"))
        z.writestr("odm_georeferencing/odm_georeferenced_model.laz", _laz())
        z.writestr(
            "odm_report/shots.geojson", json.dumps({"type": "FeatureCollection", "features": []})
        )
        z.writestr("odm_report/stats.json", stats_json or json.dumps(stats))
        z.writestr("odm_report/report.pdf", b"")  # empty in NodeODM's test mode too
        z.writestr("odm_orthophoto/odm_orthophoto.png", b"")
        z.writestr("dsm_tiles/tilemapresource.xml", "<TileMap/>")
    return buf.getvalue()


class FakeNode:
    """State of the fake node: tasks, uploaded file names, the outcome to play."""

    def __init__(self, outcome: str = "completed") -> None:
        self.outcome = outcome
        self.tasks: dict[str, dict[str, Any]] = {}
        #: stats.json with the wrong types where OpenSfM writes objects and numbers
        odd = (
            '{"reconstruction_statistics": [1], "gps_errors": "x", '
            '"odm_processing_statistics": {"average_gsd": "NaN"}}'
        )
        self.zip = all_zip(odd if outcome == "stats-wrong-types" else None)
        self.calls: list[str] = []


def handler_for(node: FakeNode) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, obj: Any, code: int = 200) -> None:
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            node.calls.append("GET " + path)
            parts = path.strip("/").split("/")
            if path == "/info" and node.outcome == "info-list":
                self._json([1, 2])
            elif path == "/info":
                self._json(
                    {
                        "version": "2.2.4",
                        "taskQueueCount": 0,
                        "totalMemory": 8 * 2**30,
                        "availableMemory": 6 * 2**30,
                        "cpuCores": 2,
                        "maxImages": None,
                        "maxParallelTasks": 1,
                        "engineVersion": "3.5.0",
                        "engine": "odm",
                    }
                )
            elif len(parts) == 3 and parts[0] == "task" and parts[2] == "info":
                t = node.tasks[parts[1]]
                t["polls"] += 1
                if node.outcome == "task-without-status":
                    self._json({"uuid": parts[1]})
                    return
                code, prog = (
                    (20, 50.0)
                    if t["polls"] < 3
                    else ((30, 60.0) if node.outcome == "failed" else (40, 100.0))
                )
                status: dict[str, Any] = {"code": code}
                if code == 30:
                    status["errorMessage"] = "Not enough images"
                self._json(
                    {
                        "uuid": parts[1],
                        "name": t["name"],
                        "dateCreated": 1_700_000_000_000,
                        "processingTime": 1000,
                        "status": status,
                        "options": t["options"],
                        "imagesCount": t["images"],
                        "progress": prog,
                    }
                )
            elif len(parts) == 4 and parts[2] == "download" and parts[3] == "all.zip":
                body = b"<html>proxy error</html>" if node.outcome == "zip-not-zip" else node.zip
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self._json({"error": "not found"}, 404)

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            node.calls.append("POST " + path)
            body = self._body()
            if path == "/task/new/init":
                u = str(uuidlib.uuid4())
                opts_raw = body.split(b'name="options"', 1)[1].split(b"\r\n\r\n", 1)[1]
                opts = json.loads(opts_raw.split(b"\r\n--", 1)[0])
                for auto in ("pc-ept", "cog", "gltf"):  # NodeODM adds these when ODM has them
                    if not any(o["name"] == auto for o in opts):
                        opts.append({"name": auto, "value": True})
                node.tasks[u] = {"name": "t", "options": opts, "images": 0, "polls": 0, "files": []}
                self._json({"uuid": u})
            elif path.startswith("/task/new/upload/") and node.outcome == "upload-500":
                self.send_response(500)  # what a node whose disk is full answers, or a proxy
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "21")
                self.end_headers()
                self.wfile.write(b"Internal Server Error")
            elif path.startswith("/task/new/upload/"):
                t = node.tasks[path.rsplit("/", 1)[1]]
                names = [n.split(b'"')[0].decode() for n in body.split(b'filename="')[1:]]
                t["files"].extend(names)
                t["images"] += len(names)
                self._json({"success": True})
            elif path.startswith("/task/new/commit/"):
                self._json({"uuid": path.rsplit("/", 1)[1]})
            else:
                self._json({"error": "not found"}, 404)

    return H


@pytest.fixture
def fake_node(request: pytest.FixtureRequest) -> Iterator[tuple[FakeNode, str]]:
    node = FakeNode(getattr(request, "param", "completed"))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(node))
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield node, f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        th.join(5)


def test_task_runs_and_results_land_in_our_layout(
    fake_node: tuple[FakeNode, str], toledo_dir: Path, tmp_path: Path
) -> None:
    node, url = fake_node
    bad = tmp_path / "bad.jpg"
    bad.write_text("no photo")
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3)] + [bad]
    out = tmp_path / "out"
    rep = process_nodeodm(photos, out, url, resolution_cm=5.0, poll_s=0.01)
    (task,) = node.tasks.values()
    assert sorted(task["files"]) == ["DJI_0061.JPG", "DJI_0062.JPG", "DJI_0063.JPG"]
    assert task["options"] == [
        {"name": "dsm", "value": True}, {"name": "dtm", "value": True},
        {"name": "cog", "value": True}, {"name": "orthophoto-resolution", "value": 5.0},
        {"name": "dem-resolution", "value": 5.0},
        {"name": "pc-ept", "value": True}, {"name": "gltf", "value": True},
    ]  # fmt: skip
    assert task["polls"] >= 3  # polled until completed
    assert rep["engine"] == "nodeodm" and rep["task"] in node.tasks
    assert rep["images_usable"] == 3 and rep["images_skipped"] == 1
    assert rep["images_registered"] == 3 and rep["points_sparse"] == 1234
    assert rep["mean_reprojection_error_px"] == 0.8
    assert rep["gps_residual_rms_m"] == pytest.approx(
        {"e": 0.3, "n": 0.4, "u": 1.1, "horizontal": 0.5}
    )
    assert "bad.jpg" in rep["warnings"][0]
    for name in ("orthophoto.tif", "dsm.tif", "points.laz", "cameras.geojson", "report.json"):
        assert (out / name).is_file(), name
    with rasterio.open(out / "orthophoto.tif") as ds:
        assert ds.count == 4 and ds.crs.to_epsg() == 32617
    assert len(laspy.read(out / "points.laz").points) == 2
    assert json.loads((out / "report.json").read_text())["task"] == rep["task"]
    # ODM's PDF does not take the "report" key (that is report.json, as with the local engine)
    assert rep["outputs"]["report"] == str(out / "report.json")
    assert rep["outputs"]["report_pdf"] == str(out / "report.pdf")
    assert not list(out.glob(".nodeodm-*"))  # the download folder is removed


def test_two_flights_photos_of_the_same_name_reach_the_node_under_their_job_names(
    fake_node: tuple[FakeNode, str], toledo_dir: Path, tmp_path: Path
) -> None:
    """The node names each upload by its file name: a second DJI_0001.JPG (another flight's
    folder) would replace the first there. It goes under the name the job gave it."""
    import shutil

    node, url = fake_node
    photos = []
    for folder, src in (("100MEDIA", (1, 2)), ("101MEDIA", (3, 4))):
        (tmp_path / folder).mkdir()
        for k, i in enumerate(src, start=1):
            dst = tmp_path / folder / f"DJI_000{k}.JPG"
            shutil.copy(toledo_dir / f"DJI_006{i}.JPG", dst)
            photos.append(dst)
    process_nodeodm(photos, tmp_path / "out", url, poll_s=0.01)
    (task,) = node.tasks.values()
    assert sorted(task["files"]) == [
        "DJI_0001-101MEDIA.JPG", "DJI_0001.JPG", "DJI_0002-101MEDIA.JPG", "DJI_0002.JPG",
    ]  # fmt: skip


@pytest.mark.parametrize("fake_node", ["failed"], indirect=True)
def test_failed_task_is_an_error(
    fake_node: tuple[FakeNode, str], toledo_dir: Path, tmp_path: Path
) -> None:
    _node, url = fake_node
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3)]
    with pytest.raises(NodeODMError, match="failed the task") as exc:
        process_nodeodm(photos, tmp_path / "out", url, poll_s=0.01)
    assert exc.value.exit_code == 1 and url in str(exc.value)
    assert not (tmp_path / "out" / "orthophoto.tif").exists()


@pytest.mark.parametrize(
    ("fake_node", "err"),
    [
        ("info-list", r"AttributeError: 'list' object has no attribute 'get'"),
        ("task-without-status", r"KeyError: "),
        ("zip-not-zip", r"BadZipFile: File is not a zip file"),
    ],
    indirect=["fake_node"],
    ids=["info-list", "task-without-status", "zip-not-zip"],
)
def test_an_answer_that_is_not_nodeodms_is_one_error(
    fake_node: tuple[FakeNode, str], err: str, toledo_dir: Path, tmp_path: Path
) -> None:
    """A proxy or another server on the node's port: these were internal errors (exit 1 with
    a traceback hint), the all.zip one after the whole task."""
    _node, url = fake_node
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3)]
    with pytest.raises(NodeODMError, match=r"the node's answer is not NodeODM's \(" + err) as exc:
        process_nodeodm(photos, tmp_path / "out", url, poll_s=0.01)
    assert exc.value.exit_code == 1 and url in str(exc.value)
    assert not (tmp_path / "out" / "orthophoto.tif").exists()


@pytest.mark.parametrize("fake_node", ["stats-wrong-types"], indirect=True)
def test_stats_of_the_wrong_types_are_left_out(
    fake_node: tuple[FakeNode, str], toledo_dir: Path, tmp_path: Path
) -> None:
    """stats.json with a list, a string and "NaN" where OpenSfM writes objects and numbers:
    was an internal error (AttributeError), or "NaN" in report.json as a figure."""
    _node, url = fake_node
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3)]
    rep = process_nodeodm(photos, tmp_path / "out", url, poll_s=0.01)
    for key in ("images_registered", "gps_residual_rms_m", "gsd_cm"):
        assert key not in rep
    assert (tmp_path / "out" / "orthophoto.tif").is_file()


def test_a_photo_too_small_for_the_local_engine_is_not_uploaded(
    fake_node: tuple[FakeNode, str], toledo_dir: Path, tmp_path: Path
) -> None:
    """A 64 × 48 thumbnail with the full EXIF: the local engine skips it (below 100 pixels a
    side SIFT finds next to nothing); it was uploaded to the node."""
    from PIL import Image

    node, url = fake_node
    thumb = tmp_path / "thumb.jpg"
    with Image.open(toledo_dir / "DJI_0064.JPG") as im:
        im.resize((64, 48)).save(thumb, exif=im.info["exif"])
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3)] + [thumb]
    rep = process_nodeodm(photos, tmp_path / "out", url, poll_s=0.01)
    (task,) = node.tasks.values()
    assert sorted(task["files"]) == ["DJI_0061.JPG", "DJI_0062.JPG", "DJI_0063.JPG"]
    assert rep["images_usable"] == 3 and rep["images_skipped"] == 1
    reason = "image too small (64 × 48 pixels; at least 100 on each side)"
    assert rep["skipped"] == [{"file": str(thumb), "reason": reason}]


@pytest.mark.parametrize("fake_node", ["upload-500"], indirect=True)
def test_http_500_on_upload_fails_within_the_retry_budget(
    fake_node: tuple[FakeNode, str], toledo_dir: Path, tmp_path: Path
) -> None:
    """Every upload answered with HTTP 500: pyodm's own retries (5, 10, … 25 s apart) took
    75 s before the exit-1 line. ``--node-retry-s 3``: retried (1 s, then 2 s), then one line."""
    import time

    from photo_testkit import run_cli

    node, url = fake_node
    photos = [str(toledo_dir / f"DJI_006{i}.JPG") for i in (1, 2, 3)]
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = run_cli(
        "photo", "process", *photos, "-o", str(out), "--engine", "nodeodm", "--node", url,
        "--node-retry-s", "3", timeout=60,
    )  # fmt: skip
    took = time.monotonic() - t0
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert lines[-1] == f"error: {url}: the node refused or failed the task: HTTP 500", lines
    assert not [ln for ln in lines if ln.startswith("error") or "Traceback" in ln][:-1]
    assert took < 10, f"took {took:.1f} s"
    uploads = [c for c in node.calls if c.startswith("POST /task/new/upload/")]
    assert len(uploads) > len(photos)  # retried, not given up at the first answer
    assert not out.exists() or not list(out.iterdir())


def test_the_upload_retries_fit_their_budget() -> None:
    from photo.nodeodm import UPLOAD_RETRY_S, upload_retries

    for budget in (0, 0.5, 1, 3, 5, 14, 15, 30, 75, 600):
        n, step = upload_retries(budget)
        assert step * n * (n + 1) / 2 <= budget  # pyodm waits step, 2 × step, … n × step
        assert step * (n + 1) * (n + 2) / 2 > budget  # and no retry more would fit
    assert upload_retries(UPLOAD_RETRY_S) == (3, 5)  # 5, 10, 15 s: a restart of a proxy
    assert upload_retries(75) == (5, 5)  # pyodm's own default


def test_node_retry_s_is_checked() -> None:
    from photo_testkit import one_error_line

    base = ("photo", "process", "x.jpg", "-o", "out")
    one_error_line(
        (*base, "--engine", "nodeodm", "--node", "http://127.0.0.1:9", "--node-retry-s", "nan"),
        2,
        r"--node-retry-s must be between 0 and 3600",
    )
    one_error_line((*base, "--node-retry-s", "3"), 2,
                   r"--node-retry-s is only used with --engine nodeodm")  # fmt: skip


def test_local_options_are_not_dropped_with_nodeodm(
    fake_node: tuple[FakeNode, str], toledo_dir: Path, tmp_path: Path
) -> None:
    """Found from outside: with --engine nodeodm, --no-dense, --features, --max-image-px,
    --ortho-memory-mb and --keep-work were dropped without a word. --no-dense is ODM's
    fast-orthophoto; the others have no equivalent there and are refused naming them."""
    from photo_testkit import one_error_line

    node, url = fake_node
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3)]
    process_nodeodm(photos, tmp_path / "out", url, dense=False, poll_s=0.01)
    (task,) = node.tasks.values()
    assert {"name": "fast-orthophoto", "value": True} in task["options"]
    base = ("photo", "process", "x.jpg", "-o", "out", "--engine", "nodeodm", "--node", url)
    one_error_line(
        (*base, "--features", "4000", "--keep-work"),
        2,
        r"--features, --keep-work: only used with --engine local \(NodeODM chooses its own\)",
    )
    one_error_line(
        (*base, "--max-image-px", "1600", "--ortho-memory-mb", "2048"),  # the defaults, given
        2,
        r"--max-image-px, --ortho-memory-mb: only used with --engine local",
    )


def test_unreachable_node(toledo_dir: Path, tmp_path: Path) -> None:
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3)]
    with pytest.raises(LinkError, match="cannot reach the node"):
        process_nodeodm(photos, tmp_path / "out", "http://127.0.0.1:9", timeout_s=2)


@pytest.mark.skipif(
    not os.environ.get("DKP_NODEODM_URL"),
    reason="set DKP_NODEODM_URL to a NodeODM node (e.g. `node index.js --test --port 3333`)",
)
def test_real_node(toledo_dir: Path, tmp_path: Path) -> None:
    """Opt-in: the same job against a real NodeODM (its --test mode answers with sample data)."""
    url = os.environ["DKP_NODEODM_URL"]
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3, 4)]
    out = tmp_path / "out"
    # no numeric option: NodeODM's master since 2026-04-28 (commit 7328aba, "Quote params")
    # crashes on any number-typed option (shQuote calls .replace on a number); 2.2.4 before
    # that commit takes --orthophoto-resolution fine (checked by hand, see the README)
    rep = process_nodeodm(photos, out, url, poll_s=0.5, timeout_s=30)
    assert rep["engine"] == "nodeodm" and rep["images_usable"] == 4
    assert rep["engine_version"].startswith("odm")
    for name in ("orthophoto.tif", "dsm.tif", "dtm.tif", "points.laz", "report.json"):
        assert (out / name).is_file(), name
    with rasterio.open(out / "orthophoto.tif") as ds:
        assert ds.count >= 3 and ds.crs is not None
    assert rep["outputs"]["report"] == str(out / "report.json")
    assert not list(out.glob(".nodeodm-*"))
