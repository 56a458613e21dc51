"""The figures of a finished job: ``report.json``'s content and the cameras' rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dronekit_plzen.i18n import get_language
from photo import sfm
from photo.products import HEIGHT_DATUM

if TYPE_CHECKING:
    from photo.pipeline import Job


def camera_rows(job: Job) -> list[dict[str, Any]]:
    """One row per registered photo: position, off-nadir angle, heading, residual, footprint."""
    assert job.frame is not None and job.alignment is not None
    by_name = {sfm.image_name(p): p for p in job.photos}
    res = dict(zip(job.alignment.names, job.alignment.residuals_m.tolist(), strict=True))
    rows = []
    for v in job.views:
        p = by_name[v.name]
        c = v.centre
        world = job.frame.to_world(c)
        lon, lat = job.frame.to_lonlat(np.array([c[0]]), np.array([c[1]]))
        look = v.rotation.T @ np.array([0.0, 0.0, 1.0])
        up = v.rotation.T @ np.array([0.0, -1.0, 0.0])
        fp = v.footprint(job.ground_z)
        fp_ll = None
        if np.isfinite(fp).all():
            flon, flat = job.frame.to_lonlat(fp[:, 0], fp[:, 1])
            fp_ll = [[float(a), float(b)] for a, b in zip(flon, flat, strict=True)]
        rows.append(
            {
                "image": p.job_name,
                "file": str(p.path),
                "camera": p.camera_key,
                "lonlat": [float(lon[0]), float(lat[0])],
                "x_m": float(world[0]),
                "y_m": float(world[1]),
                "z_m": float(world[2]),
                "z_datum": HEIGHT_DATUM,
                "off_nadir_deg": float(np.degrees(np.arccos(np.clip(-look[2], -1, 1)))),
                "heading_deg": float(np.degrees(np.arctan2(up[0], up[1])) % 360.0),
                "gps_residual_m": res.get(v.name),
                "footprint_lonlat": fp_ll,
            }
        )
    return rows


def _rms(a: Any) -> dict[str, float] | None:
    if a is None:
        return None
    e, n, u = a.residual_rms_m
    return {"e": e, "n": n, "u": u, "horizontal": a.residual_rms_h_m}


def _camera_key(rec: Any, camera_id: int) -> str:
    for im in rec.images.values():
        if im.camera_id == camera_id:
            return str(im.name.split("/")[0])
    return str(camera_id)


def report(job: Job) -> dict[str, Any]:
    """The figures of a finished job (what ``report.json`` holds)."""
    import pycolmap

    a = job.alignment
    rec = job.rec
    n_reg = sum(1 for im in rec.images.values() if im.has_pose) if rec is not None else 0
    cams = []
    if rec is not None:
        first = {p.camera_key: p for p in reversed(job.photos)}
        for cam in rec.cameras.values():
            used = [im for im in rec.images.values() if im.camera_id == cam.camera_id]
            key = used[0].name.split("/")[0] if used else "?"
            exif_f = first[key].focal_px if key in first else None
            cams.append(
                {
                    "camera": key,
                    "model": cam.model_name,
                    "focal_px_exif": exif_f,
                    "focal_px": float(cam.mean_focal_length()),
                    "params": [float(x) for x in cam.params],
                    "photos": len(used),
                }
            )
    covered = (
        float(np.count_nonzero(job.alpha) * job.grid.res**2)
        if job.alpha is not None and job.grid is not None
        else 0.0
    )
    return {
        "engine": "local",
        "lang": get_language(),
        "images_total": len(job.paths),
        "images_usable": len(job.photos),
        "images_registered": n_reg,
        "images_skipped": len(job.skipped),
        "mean_reprojection_error_px": float(rec.compute_mean_reprojection_error()) if rec else None,
        "points_sparse": len(job.points.xyz) if job.points is not None else 0,
        "points_dense": len(job.dense_xyz) if job.dense_xyz is not None else 0,
        "dense_pairs": job.dense_pairs,
        "gps_residual_rms_m": _rms(a),
        # the residuals above are after the final bundle adjustment with the GPS priors; these
        # are after the similarity alone (the model as incremental mapping left it)
        "gps_residual_before_final_ba_rms_m": _rms(job.alignment_before_ba),
        "principal_point_shift_px": (
            {
                _camera_key(rec, c): round(v, 2)
                for c, v in job.prior_ba.principal_point_shift_px.items()
            }
            if job.prior_ba is not None and rec is not None
            else None
        ),
        "alignment": {"scale": a.scale, "inliers": a.inliers, "photos": a.total} if a else None,
        "gsd_cm": job.gsd_m * 100.0,
        "resolution_cm": job.grid.res * 100.0 if job.grid is not None else None,
        "dsm_resolution_m": job.dsm_grid.res if job.dsm_grid is not None else None,
        "surface": job.surface_source,
        "orthophoto_hidden_fraction": round(job.hidden_fraction, 5),
        "dtm": job.dtm_info,
        "covered_area_m2": covered,
        "crs": job.frame.crs.to_string() if job.frame else None,
        "height_datum": HEIGHT_DATUM,
        "cameras": cams,
        "times_s": job.times_s,
        "seconds_per_image": (sum(job.times_s.values()) / max(len(job.photos), 1)),
        "warnings": job.warnings,
        "skipped": [{"file": str(s.path), "reason": s.reason} for s in job.skipped],
        "outputs": job.outputs,
        "pycolmap": pycolmap.__version__,
        "gpu": bool(pycolmap.has_cuda),
    }
