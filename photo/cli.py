"""CLI for ``dronekit-plzen photo``: from drone photos to orthophoto, DSM, cloud and report.

``photo process IMAGES... -o OUT_DIR`` runs the local engine (pycolmap SfM on the CPU) or,
with ``--engine nodeodm --node URL``, a NodeODM/ClusterODM node; both write the same layout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import app, echo_json, info, refuse_given
from dronekit_plzen.i18n import _


class RichProgress:
    """The pipeline's :class:`~photo.pipeline.Progress` as a rich bar on a terminal's stderr."""

    def __init__(self) -> None:
        self._prog: Any = None
        self._task: Any = None

    def start(self, label: str, total: int | None) -> None:
        if not sys.stderr.isatty() or app().quiet:
            info(label + " …")
            return
        from rich.console import Console
        from rich.progress import Progress

        self._prog = Progress(console=Console(stderr=True), transient=True)
        self._prog.start()
        self._task = self._prog.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._prog is not None:
            self._prog.advance(self._task, n)

    def done(self) -> None:
        if self._prog is not None:
            self._prog.stop()
            self._prog = None


@click.group(
    name="photo", help=_("Photogrammetry: orthophoto, DSM and point cloud from drone photos.")
)
def photo() -> None:
    """Photogrammetry: orthophoto, DSM and point cloud from drone photos."""


@photo.command(name="process", help=_("Process drone photos (files or folders) into OUT_DIR."))
@click.argument("images", nargs=-1, type=click.Path())  # str: "" must not become "."
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(),
    help=_("Output folder (created if missing)."),
)
@click.option(
    "--dem",
    "dem",
    type=click.Path(path_type=Path),
    default=None,
    help=_("Surface to project onto (GeoTIFF, e.g. the LiDAR DSM) instead of the photo model's."),
)
@click.option(
    "--resolution-cm",
    type=float,
    default=None,
    help=_("Orthophoto cell size in cm (default: the ground sampling distance)."),
)
@click.option(
    "--crs", default=None, help=_("Output CRS (default: the capture's UTM zone), e.g. EPSG:5514.")
)
@click.option(
    "--engine",
    type=click.Choice(["local", "nodeodm"]),
    default="local",
    show_default=True,
    help=_("Process here (pycolmap) or on a NodeODM node."),
)
@click.option("--node", "node_url", default=None, help=_("NodeODM URL for --engine nodeodm."))
@click.option(
    "--node-retry-s",
    "node_retry_s",
    type=float,
    default=None,
    help=_(
        "Seconds the upload of a photo to the node may wait in all to retry after a failure "
        "(--engine nodeodm; default 30)."
    ),
)
@click.option(
    "--max-image-px",
    type=int,
    default=1600,
    show_default=True,
    help=_("Longest image side used for features (pixels)."),
)
@click.option(
    "--features",
    type=int,
    default=8192,
    show_default=True,
    help=_("Most SIFT features per photo."),
)
@click.option(
    "--dense/--no-dense",
    default=True,
    show_default=True,
    help=_("Dense matching for the DSM (--no-dense: grid the sparse points)."),
)
@click.option(
    "--ortho-memory-mb",
    type=int,
    default=2048,
    show_default=True,
    help=_("Memory the orthophoto may take; its cell is coarsened to fit (with a warning)."),
)
@click.option("--keep-work", is_flag=True, help=_("Keep the COLMAP database and sparse model."))
@click.option("--json", "as_json", is_flag=True, help=_("Print the report as JSON on stdout."))
def process_cmd(
    images: tuple[str, ...],
    out_dir: str,
    dem: Path | None,
    resolution_cm: float | None,
    crs: str | None,
    engine: str,
    node_url: str | None,
    node_retry_s: float | None,
    max_image_px: int,
    features: int,
    dense: bool,
    ortho_memory_mb: int,
    keep_work: bool,
    as_json: bool,
) -> None:
    """Process drone photos (files or folders) into OUT_DIR."""
    from dronekit_plzen.errors import BadInputError
    from photo import georef
    from photo.dense import DenseOptions
    from photo.pipeline import ProcessOptions, expand_inputs, process
    from photo.sfm import SfmOptions

    if not images:
        raise BadInputError(_("no images given"))
    # "$DIR" with DIR unset: an empty path, which pathlib reads as the current folder
    if not out_dir.strip():
        raise BadInputError(_("the output path is empty"))
    if any(not i.strip() for i in images):
        raise BadInputError(_("an empty path is given as a photo or folder"))
    out = Path(out_dir)
    if crs:
        georef.output_crs([], crs)  # a bad --crs is named before any work
    if engine == "nodeodm":
        from photo.nodeodm import MAX_RETRY_S, UPLOAD_RETRY_S, check_node_url, process_nodeodm

        check_node_url(node_url)
        retry_s = UPLOAD_RETRY_S if node_retry_s is None else node_retry_s
        if not 0 <= retry_s <= MAX_RETRY_S:  # NaN too
            raise BadInputError(
                _("--node-retry-s must be between 0 and {most}").format(most=MAX_RETRY_S)
            )
        if dem is not None:
            raise BadInputError(_("--dem is not used by --engine nodeodm"))
        # ODM has no equivalent of these (its min-num-features is a floor, not our cap; its
        # feature-quality scales by halves); they had been dropped without a word
        refuse_given(
            {
                "max_image_px": "--max-image-px",
                "features": "--features",
                "ortho_memory_mb": "--ortho-memory-mb",
                "keep_work": "--keep-work",
            },
            _("{opts}: only used with --engine local (NodeODM chooses its own)"),
        )
        rep = process_nodeodm(
            expand_inputs(images, out),
            out,
            str(node_url),
            resolution_cm=resolution_cm,
            crs=crs,
            dense=dense,
            progress=RichProgress(),
            retry_s=retry_s,
        )
    else:
        if node_url:
            raise BadInputError(_("--node is only used with --engine nodeodm"))
        if node_retry_s is not None:
            raise BadInputError(_("--node-retry-s is only used with --engine nodeodm"))
        opts = ProcessOptions(
            out_dir=out,
            crs=crs,
            dem=dem,
            resolution_cm=resolution_cm,
            sfm=SfmOptions(max_image_px=max_image_px, max_features=features),
            dense=DenseOptions() if dense else None,
            keep_work=keep_work,
            ortho_memory_mb=ortho_memory_mb,
            ground_filter=_smrf(),
        )
        rep = process(images, opts, RichProgress())
    if as_json:
        from photo.products import utf8_clean

        echo_json(utf8_clean(rep))
        return
    for w in rep.get("warnings", []):
        info(_("warning: {w}").format(w=w))
    for path in rep.get("outputs", {}).values():
        info(_("wrote {f}").format(f=path))
    if rep.get("engine") == "local":
        g = rep["gps_residual_rms_m"]
        click.echo(
            _(
                "{reg}/{n} photos registered, reprojection error {err:.2f} px, "
                "position RMS against GPS {h:.2f} m horizontal / {u:.2f} m vertical, "
                "GSD {gsd:.1f} cm, {area:.0f} m²"
            ).format(
                reg=rep["images_registered"],
                n=rep["images_total"],
                err=rep["mean_reprojection_error_px"],
                h=g["horizontal"],
                u=g["u"],
                gsd=rep["gsd_cm"],
                area=rep["covered_area_m2"],
            )
        )
    else:
        click.echo(_("task {t} completed on {node}").format(t=rep["task"], node=rep["node"]))


def _smrf() -> Any:
    """The LiDAR package's SMRF ground filter: it separates the ground for ``dtm.tif``.

    Imported when the DTM is made (the filter's compiled kernels and scipy cost half a second
    that a run refused at its inputs, or stopped before its cloud, does not pay)."""

    def smrf(*args: Any, **kwargs: Any) -> Any:
        from lidar.ground import smrf as ground_filter

        return ground_filter(*args, **kwargs)

    return smrf
