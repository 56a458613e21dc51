"""Scale-out: hand the job to a NodeODM/ClusterODM node through pyodm, map its results back.

NodeODM's REST API (OpenDroneMap/NodeODM, docs/index.adoc): ``GET /info``, ``POST
/task/new/init`` → ``/task/new/upload/{uuid}`` → ``/task/new/commit/{uuid}``, ``GET
/task/{uuid}/info`` (status codes 10 queued, 20 running, 30 failed, 40 completed, 50 canceled,
``progress`` in %), ``GET /task/{uuid}/download/all.zip``. pyodm speaks it; this module only
chooses the options, polls with a progress callback and moves ODM's files into the same
OUT_DIR layout as the local engine (:data:`ODM_LAYOUT`).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dronekit_plzen.errors import BadInputError, DronekitPlzenError, LinkError
from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import OutputGroup, atomic_output, prepare_output_dir
from photo.exif import PhotoMeta, check_photo_size, read_photos, too_few_photos

#: our product name → where ODM puts it inside all.zip (first existing candidate wins)
ODM_LAYOUT: dict[str, tuple[str, ...]] = {
    "orthophoto.tif": ("odm_orthophoto/odm_orthophoto.tif",),
    "dsm.tif": ("odm_dem/dsm.tif",),
    "dtm.tif": ("odm_dem/dtm.tif",),
    "points.laz": (
        "odm_georeferencing/odm_georeferenced_model.laz",
        "odm_georeferencing/odm_georeferenced_model.copc.laz",
    ),
    "cameras.geojson": ("odm_report/shots.geojson",),
    "report.pdf": ("odm_report/report.pdf",),
    "odm_stats.json": ("odm_report/stats.json",),
}


#: default time (seconds) the upload of one photo may spend waiting between its retries
#: (``photo process --node-retry-s``): pyodm's own default (5 retries, 5, 10, … 25 s apart)
#: made a node that answers HTTP 500 to every upload take 75 s before its error, while a
#: dropped connection or a proxy's 502/503 while the node restarts is over within seconds
UPLOAD_RETRY_S = 30
#: pyodm's wait before the first retry (seconds), the k-th waits k times as long
RETRY_STEP_S = 5
#: the longest ``--node-retry-s`` taken (an hour)
MAX_RETRY_S = 3600


def upload_retries(budget_s: float) -> tuple[int, int]:
    """pyodm's ``(max_retries, retry_timeout)`` for the uploads of one photo waiting at most
    ``budget_s`` seconds in all: pyodm waits ``k × retry_timeout`` whole seconds before the
    k-th retry; as many retries as fit, :data:`RETRY_STEP_S` apart (1 s for a budget below it).

    >>> upload_retries(30), upload_retries(75), upload_retries(3), upload_retries(0)
    ((3, 5), (5, 5), (2, 1), (0, 1))
    """
    step = RETRY_STEP_S if budget_s >= RETRY_STEP_S else 1
    n = 0
    while step * (n + 1) * (n + 2) / 2 <= budget_s:
        n += 1
    return n, step


class NodeODMError(DronekitPlzenError):
    """The node refused the task, the task failed, or its results are incomplete (exit 1)."""


def check_node_url(url: str | None) -> str:
    """``http(s)://host:port[/?token=...]``; BadInputError otherwise."""
    if not url:
        raise BadInputError(_("--engine nodeodm needs --node URL (e.g. http://127.0.0.1:3000)"))
    try:
        u = urlparse(url)
        _port = u.port  # "http://host:abc", "http://[::1": a ValueError here
    except ValueError:
        u = None
    if u is None or u.scheme not in ("http", "https") or not u.hostname:
        raise BadInputError(_("--node must be an http(s) URL, not {url!r}").format(url=url))
    return url


def odm_options(resolution_cm: float | None, crs: str | None, dense: bool = True) -> dict[str, Any]:
    """NodeODM task options equivalent to ours: DSM + DTM, COG output, the resolution asked;
    without dense matching ODM's ``fast-orthophoto`` (the orthophoto from the sparse points).

    >>> odm_options(None, None, dense=False)
    {'dsm': True, 'dtm': True, 'cog': True, 'fast-orthophoto': True}
    """
    opts: dict[str, Any] = {"dsm": True, "dtm": True, "cog": True}
    if not dense:
        opts["fast-orthophoto"] = True
    if resolution_cm is not None:
        opts["orthophoto-resolution"] = resolution_cm
        opts["dem-resolution"] = max(resolution_cm, 5.0)
    if crs:  # ODM writes UTM; a reprojection option exists only in newer ODM releases
        opts["crs"] = crs
    return opts


def _count(v: object) -> int | None:
    """A count the node sent (``maxImages``): an int, else None (null, "many", 1.5)."""
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _number(v: object) -> float | int | None:
    """A figure of ODM's stats.json: a finite number, else None ("NaN", a list, true)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v if math.isfinite(v) else None


def _dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _stats_figures(stats: dict[str, Any]) -> dict[str, Any]:
    """Our report's figures from ODM's ``odm_report/stats.json`` (OpenSfM's statistics).

    OpenSfM writes ``gps_errors.error`` as the RMS per axis (``mean`` and ``std`` beside it) of
    the camera centres against the GPS after its per-camera bias, and the mean reprojection
    error in ``reconstruction_statistics.reprojection_error_pixels``.
    """
    rs = _dict(stats.get("reconstruction_statistics"))
    rms = _dict(_dict(stats.get("gps_errors")).get("error"))
    axes = [_number(rms.get(k)) for k in "xyz"]
    gps = None
    if all(a is not None for a in axes):
        e, n, u = (float(a) for a in axes)  # type: ignore[arg-type]
        gps = {"e": e, "n": n, "u": u, "horizontal": (e * e + n * n) ** 0.5}
    return {
        "images_registered": _number(rs.get("reconstructed_shots_count")),
        "images_total": _number(rs.get("initial_shots_count")),
        "mean_reprojection_error_px": _number(rs.get("reprojection_error_pixels")),
        "points_sparse": _number(rs.get("reconstructed_points_count")),
        "gps_residual_rms_m": gps,
        "gsd_cm": _number(_dict(stats.get("odm_processing_statistics")).get("average_gsd")),
    }


def process_nodeodm(
    paths: Sequence[Path],
    out_dir: Path,
    node_url: str,
    *,
    resolution_cm: float | None = None,
    crs: str | None = None,
    dense: bool = True,
    progress: Any = None,
    poll_s: float = 3.0,
    timeout_s: float = 30.0,
    retry_s: float = UPLOAD_RETRY_S,
) -> dict[str, Any]:
    """Run the job on a NodeODM node; return the report (also written as report.json).

    A photo the local engine refuses as too small (:func:`~photo.exif.check_photo_size`) is
    skipped here too, not uploaded. A failed upload of a photo (no connection, an HTTP error, a
    NodeODM error) is retried while the waits add up to ``retry_s`` seconds at most
    (:func:`upload_retries`); then the job fails.

    ODM's files and our reports are put in place together when all of them are there
    (:class:`~dronekit_plzen.outputs.OutputGroup`): a task that fails, a download cut short or a
    full disk leaves OUT_DIR as it was."""
    check_node_url(node_url)
    out = prepare_output_dir(out_dir)
    with OutputGroup.all_or_nothing():
        return _process(
            paths,
            out,
            node_url,
            resolution_cm=resolution_cm,
            crs=crs,
            dense=dense,
            progress=progress,
            poll_s=poll_s,
            timeout_s=timeout_s,
            retry_s=retry_s,
        )


def _process(
    paths: Sequence[Path],
    out: Path,
    node_url: str,
    *,
    resolution_cm: float | None,
    crs: str | None,
    dense: bool,
    progress: Any,
    poll_s: float,
    timeout_s: float,
    retry_s: float,
) -> dict[str, Any]:
    """The body of :func:`process_nodeodm`, inside its output group."""
    from pyodm import Node
    from pyodm.exceptions import NodeConnectionError, NodeResponseError, NodeServerError, OdmError
    from pyodm.types import TaskStatus

    from photo import products

    t0 = time.perf_counter()
    good, bad = read_photos(paths, check=check_photo_size)
    warnings = [s.message() for s in bad]
    if len(good) < 3:
        raise BadInputError(too_few_photos(len(good), bad))
    node = Node.from_url(node_url, timeout=int(max(timeout_s, 1)))
    times: dict[str, float] = {}
    try:
        info = node.info()
        most = _count(info.max_images)
        if most is not None and len(good) > most:
            raise NodeODMError(
                _("the node accepts at most {n} images").format(n=most), where=node_url
            )
        if progress:
            progress.start(_("uploading photos"), 100)
        last = [0.0]

        def up(pct: float) -> None:
            if progress:
                progress.advance(max(0, int(pct - last[0])))
                last[0] = float(int(pct))

        retries, retry_step = upload_retries(retry_s)
        with tempfile.TemporaryDirectory(prefix="dkp-upload-") as links:
            task = node.create_task(
                _upload_paths(good, Path(links)),
                odm_options(resolution_cm, crs, dense),
                name=f"dronekit-plzen {out.name}",
                progress_callback=up,
                parallel_uploads=2,
                max_retries=retries,
                retry_timeout=retry_step,
            )
        if progress:
            progress.done()
        times["upload"] = round(time.perf_counter() - t0, 3)
        t1 = time.perf_counter()
        if progress:
            progress.start(_("processing on the node"), 100)
        seen = [0]

        def status(ti: Any) -> None:
            pct = int(ti.progress or 0)
            if progress and pct > seen[0]:
                progress.advance(pct - seen[0])
                seen[0] = pct

        task.wait_for_completion(status_callback=status, interval=poll_s)
        if progress:
            progress.done()
        times["processing"] = round(time.perf_counter() - t1, 3)
        t2 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=".nodeodm-", dir=out) as tmp:
            task.download_assets(tmp, parallel_downloads=1)
            stats, stats_ok = _read_stats(Path(tmp))  # before its file leaves for the group
            outputs = _map_results(Path(tmp), out)
        times["download"] = round(time.perf_counter() - t2, 3)
        final = task.info()
    except NodeConnectionError as exc:
        raise LinkError(_("cannot reach the node: {err}").format(err=exc), where=node_url) from exc
    except (NodeResponseError, NodeServerError, OdmError) as exc:
        # pyodm's NodeServerError of an HTTP error is its bare status code: "500"
        err = f"HTTP {exc}" if str(exc).isdigit() else str(exc)
        raise NodeODMError(
            _("the node refused or failed the task: {err}").format(err=err), where=node_url
        ) from exc
    except (KeyError, TypeError, AttributeError, ValueError, zipfile.BadZipFile) as exc:
        # pyodm reads the answers as NodeODM writes them: a JSON list for /info, a task
        # without "status", an all.zip that is an HTML page were internal errors
        raise NodeODMError(
            _("the node's answer is not NodeODM's ({err})").format(
                err=f"{type(exc).__name__}: {exc}"
            ),
            where=node_url,
        ) from exc
    if "orthophoto.tif" not in outputs:
        raise NodeODMError(_("the node's results have no orthophoto"), where=node_url)
    if not stats_ok:
        warnings.append(_("the node's stats.json could not be read"))
    if final.status != TaskStatus.COMPLETED:  # pragma: no cover - wait_for_completion raised
        raise NodeODMError(_("the task did not complete"), where=node_url)
    rep: dict[str, Any] = {
        "engine": "nodeodm",
        "node": node_url,
        "task": task.uuid,
        "engine_version": f"{info.engine} {info.engine_version}",
        "images_total": len(paths),
        "images_usable": len(good),
        "images_skipped": len(bad),
        **{k: v for k, v in _stats_figures(stats).items() if v is not None},
        "times_s": times,
        "warnings": warnings,
        "skipped": [{"file": str(s.path), "reason": s.reason} for s in bad],
        "outputs": {output_key(k): str(out / k) for k in outputs},
    }
    rep["outputs"]["report"] = str(out / "report.json")
    products.write_json(out / "report.json", rep)
    products.write_report_html(out / "report.html", rep, None)
    return rep


def output_key(name: str) -> str:
    """The key of a product in the report's ``outputs``: ``report.pdf`` → ``report_pdf``.

    The local engine's keys are file stems (``orthophoto``, ``dsm`` …, ``report`` = report.json);
    ODM's own PDF report and stats must not take the ``report`` key.
    """
    stem, _dot, ext = name.partition(".")
    return stem if ext in ("tif", "laz", "geojson") else f"{stem}_{ext}"


def _read_stats(src: Path) -> tuple[dict[str, Any], bool]:
    """ODM's ``odm_report/stats.json`` in the download ``src`` (``{}`` when there is none), and
    False when it is there but cannot be read."""
    path = src / ODM_LAYOUT["odm_stats.json"][0]
    if not path.is_file():
        return {}, True
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, False
    return (stats, True) if isinstance(stats, dict) else ({}, False)


def _map_results(src: Path, out: Path) -> list[str]:
    """Move ODM's files into our layout; return the product names found.

    Each goes through :func:`atomic_output` (``src`` is a folder inside ``out``: a rename), so
    that inside an output group it is put in place with the others."""
    found = []
    for ours, candidates in ODM_LAYOUT.items():
        for rel in candidates:
            p = src / rel
            if p.is_file():
                with atomic_output(out / ours) as part:
                    os.replace(p, part)
                found.append(ours)
                break
    return found


def _upload_paths(photos: Sequence[PhotoMeta], links: Path) -> list[str]:
    """The files to upload: NodeODM names each photo by its file name, so a photo renamed in
    the job (two flights' DJI_0001.JPG) is uploaded through a link of its job name in
    ``links``."""
    paths = []
    for p in photos:
        if p.job_name == p.path.name:
            paths.append(str(p.path))
            continue
        link = links / p.job_name
        link.unlink(missing_ok=True)
        os.symlink(p.path.resolve(), link)
        paths.append(str(link))
    return paths
