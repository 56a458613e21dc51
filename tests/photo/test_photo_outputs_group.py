"""``photo process`` puts the products of one run in place together, or none of them.

A real failure late in the run: the CLI in a child process whose file size limit
(``RLIMIT_FSIZE``, a disk that fills up) lets the COLMAP database, the orthophoto and the DSM/DTM
through and stops points.laz (about 12 MB) with ``EFBIG``. The previous run's products in the
folder must stay byte for byte, none of the new ones may appear, no temporary file may be left.
The NodeODM engine likewise, when the node's results turn out to have no orthophoto after its
other files were taken over. A successful run writes every product (the session's ``processed``).
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_photo_nodeodm import FakeNode, all_zip, handler_for

from photo.nodeodm import NodeODMError, process_nodeodm

# the photo pipeline's CPU-heavy runs stay on one worker (make test runs --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("heavy")]

REPO = Path(__file__).resolve().parents[2]
#: what a run of the local engine puts in OUT_DIR
PRODUCTS = (
    "orthophoto.tif",
    "dsm.tif",
    "dtm.tif",
    "points.laz",
    "cameras.geojson",
    "orthophoto_preview.png",
    "report.json",
    "report.html",
)
#: the file size limit of the failing run: above the COLMAP database (about 1.7 MB) and the
#: orthophoto (0.4 MB at 60 cm), below the dense point cloud (about 12 MB)
LIMIT = 4 * 2**20


def _full_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _old_products(out: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """Files of an earlier run under ``names`` in ``out``; their bytes."""
    out.mkdir(parents=True, exist_ok=True)
    old = {name: f"{name} of an earlier run\n".encode() for name in names}
    for name, data in old.items():
        (out / name).write_bytes(data)
    return old


def test_full_disk_at_the_point_cloud_leaves_the_previous_products(
    toledo_small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # an earlier run's products; no dsm.tif or dtm.tif: the new ones, written before the cloud
    # failed, must not appear either
    old = _old_products(
        out, ("orthophoto.tif", "points.laz", "cameras.geojson", "report.json", "report.html")
    )
    proc = subprocess.run(
        [
            sys.executable, "-m", "dronekit_plzen", "-q", "photo", "process", str(toledo_small),
            "-o", str(out), "--max-image-px", "640", "--features", "1024",
            "--resolution-cm", "60",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=_full_disk,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: cannot write {out / 'points.laz'}: the file is too large")
    # nothing new (no temporary file, no COLMAP workspace either) and every old file as it was
    assert sorted(p.name for p in out.iterdir()) == sorted(old)
    for name, data in old.items():
        assert (out / name).read_bytes() == data, name


def test_successful_run_writes_every_product(processed: Any) -> None:
    out = processed.out
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(PRODUCTS)  # no temporary file, no COLMAP workspace
    for name in PRODUCTS:
        assert (out / name).stat().st_size > 0, name
    want = {
        name.split(".")[0]: str(out / name)
        for name in ("orthophoto.tif", "dsm.tif", "dtm.tif", "points.laz", "cameras.geojson")
    } | {"report": str(out / "report.json")}
    assert processed.report["outputs"] == want
    written = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert written["outputs"] == {k: v for k, v in want.items() if k != "report"}


# -- the NodeODM engine ----------------------------------------------------------------------
def _zip_without_orthophoto() -> bytes:
    src = zipfile.ZipFile(io.BytesIO(all_zip()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            if not info.filename.startswith("odm_orthophoto/"):
                z.writestr(info, src.read(info))
    return buf.getvalue()


@pytest.fixture
def node_without_orthophoto() -> Iterator[str]:
    node = FakeNode()
    node.zip = _zip_without_orthophoto()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(node))
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        th.join(5)


def test_nodeodm_results_without_orthophoto_leave_the_previous_products(
    node_without_orthophoto: str, toledo_dir: Path, tmp_path: Path
) -> None:
    """The node's DSM, cloud, cameras and stats were taken over before the missing orthophoto
    was noticed: they used to replace the earlier run's, beside its orthophoto."""
    out = tmp_path / "out"
    names = ("orthophoto.tif", "dsm.tif", "points.laz", "cameras.geojson", "odm_stats.json")
    old = _old_products(out, (*names, "report.pdf", "report.json", "report.html"))
    photos = [toledo_dir / f"DJI_006{i}.JPG" for i in (1, 2, 3)]
    with pytest.raises(NodeODMError, match="no orthophoto") as exc:
        process_nodeodm(photos, out, node_without_orthophoto, poll_s=0.01)
    assert exc.value.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(old)
    for name, data in old.items():
        assert (out / name).read_bytes() == data, name


def test_a_run_without_dtm_removes_an_earlier_runs_dtm(toledo_small: Path, tmp_path: Path) -> None:
    """A run that makes no DTM (here: no ground filter) must not leave the previous run's
    dtm.tif beside its new DSM, as if it were this survey's; it goes with the group's commit."""
    from photo.pipeline import ProcessOptions, process
    from photo.sfm import SfmOptions

    out = tmp_path / "out"
    old = _old_products(out, ("dtm.tif",))
    opts = ProcessOptions(
        out_dir=out, resolution_cm=60, sfm=SfmOptions(max_image_px=640, max_features=1024)
    )
    rep = process(sorted(toledo_small.glob("*.JPG")), opts)
    names = {p.name for p in out.iterdir()}
    assert "dtm.tif" not in names and "dsm.tif" in names, (names, old)
    assert "dtm" not in rep["outputs"]
