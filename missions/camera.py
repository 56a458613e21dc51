"""Camera model: GSD, footprint, line spacing and trigger distance (QGroundControl's CameraCalc).

With sensor width ``Sw`` (mm), image width ``Iw`` (px), focal length ``f`` (mm) and height above
the surface ``h`` (m), QGroundControl computes (``CameraCalc::_recalcTriggerDistance``)::

    GSD [cm/px]      = h * Sw * 100 / (Iw * f)
    h                = Iw * GSD * f / (Sw * 100)
    footprint side   = Iw * GSD / 100   (landscape; Ih in portrait)      [m]
    footprint front  = Ih * GSD / 100   (landscape; Iw in portrait)      [m]
    line spacing     = footprint side  * (100 - side overlap %) / 100
    trigger distance = footprint front * (100 - front overlap %) / 100

"Landscape" means the image's long side is across the flight direction.

Example
-------
>>> cam = get_camera("mavic3e-wide")
>>> round(cam.gsd_cm(100.0), 3)
2.666
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError, ConfigError
from dronekit_plzen.i18n import _
from missions._profiles import field_values, load_profiles, lookup


@dataclass(frozen=True)
class Camera:
    """A frame camera looking straight down (nadir)."""

    key: str
    name: str
    sensor_width_mm: float
    sensor_height_mm: float
    image_width_px: int
    image_height_px: int
    focal_length_mm: float
    kind: str = "visual"  # "visual" | "thermal"
    min_trigger_interval_s: float = 0.0

    def __post_init__(self) -> None:
        for k in ("sensor_width_mm", "sensor_height_mm", "focal_length_mm"):
            if not getattr(self, k) > 0:
                raise ConfigError(_("camera {key}: {k} must be positive").format(key=self.key, k=k))
        if self.image_width_px <= 0 or self.image_height_px <= 0:
            raise ConfigError(_("camera {key}: image size must be positive").format(key=self.key))
        if self.kind not in ("visual", "thermal"):
            raise ConfigError(
                _("camera {key}: kind must be 'visual' or 'thermal'").format(key=self.key)
            )

    # --- QGC CameraCalc ---------------------------------------------------------------
    def gsd_cm(self, alt_m: float) -> float:
        """Ground sample distance in cm/px at ``alt_m`` above the surface."""
        return alt_m * self.sensor_width_mm * 100.0 / (self.image_width_px * self.focal_length_mm)

    def alt_for_gsd_m(self, gsd_cm: float) -> float:
        """Height above the surface giving ``gsd_cm`` cm/px."""
        if gsd_cm <= 0:
            raise BadInputError(_("GSD must be positive, got {gsd_cm} cm/px").format(gsd_cm=gsd_cm))
        return self.image_width_px * gsd_cm * self.focal_length_mm / (self.sensor_width_mm * 100.0)

    def footprint_m(self, alt_m: float, landscape: bool = True) -> tuple[float, float]:
        """(across-track, along-track) footprint in metres at ``alt_m``."""
        g = self.gsd_cm(alt_m)
        w = self.image_width_px * g / 100.0
        h = self.image_height_px * g / 100.0
        return (w, h) if landscape else (h, w)

    def line_spacing_m(
        self, alt_m: float, side_overlap_pct: float, landscape: bool = True
    ) -> float:
        """Distance between survey lines for ``side_overlap_pct`` overlap."""
        _check_overlap(side_overlap_pct, _("side overlap"))
        return self.footprint_m(alt_m, landscape)[0] * (100.0 - side_overlap_pct) / 100.0

    def trigger_distance_m(
        self, alt_m: float, front_overlap_pct: float, landscape: bool = True
    ) -> float:
        """Distance between photos along a line for ``front_overlap_pct`` overlap."""
        _check_overlap(front_overlap_pct, _("front overlap"))
        return self.footprint_m(alt_m, landscape)[1] * (100.0 - front_overlap_pct) / 100.0

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan(self.sensor_width_mm / (2.0 * self.focal_length_mm)))

    @property
    def vfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan(self.sensor_height_mm / (2.0 * self.focal_length_mm)))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _check_overlap(pct: float, what: str) -> None:
    if not 0.0 <= pct < 100.0:
        raise BadInputError(_("{what} must be in [0, 100) %, got {pct}").format(what=what, pct=pct))


_SPEC: dict[str, type] = {
    "key": str,
    "name": str,
    "kind": str,
    "sensor_width_mm": float,
    "sensor_height_mm": float,
    "image_width_px": int,
    "image_height_px": int,
    "focal_length_mm": float,
    "min_trigger_interval_s": float,
}


def camera_from_dict(data: dict[str, Any], where: str = "camera") -> Camera:
    """Build a camera from a TOML/JSON mapping (keys as the :class:`Camera` fields)."""
    vals = field_values(data, _SPEC, where)
    missing = [
        k for k in _SPEC if k not in vals and k not in ("kind", "min_trigger_interval_s", "name")
    ]
    if missing:
        raise ConfigError(
            _("camera profile lacks {missing}").format(missing=", ".join(missing)), where=where
        )
    vals.setdefault("name", vals["key"])
    return Camera(**vals)


def load_cameras(user_dir: str | Path | None = None) -> dict[str, Camera]:
    """Shipped camera profiles plus ``*.toml`` in ``user_dir`` (same key overrides)."""
    return load_profiles("cameras", camera_from_dict, user_dir)


def get_camera(name: str, user_dir: str | Path | None = None) -> Camera:
    """A camera by key or name (case/punctuation-insensitive), e.g. ``"mavic3t-thermal"``."""
    return lookup(load_cameras(user_dir), name, "camera")
