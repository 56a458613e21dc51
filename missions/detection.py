"""Search theory for SAR grids: sweep width, coverage factor and probability of detection.

The sweep width ``W`` of a nadir camera for a target is the across-track footprint times the
probability of seeing the target when it is in the picture (``Target.pd_in_footprint``), valid
only while the target covers at least ``Target.min_pixels`` pixels: that caps the altitude.
With track spacing ``S`` the coverage factor is ``C = W / S`` and the probability of detection
of one pass is ``POD = 1 - exp(-C)`` (the exponential detection function of IAMSAR, Koopman's
random search). Passes combine as ``1 - Π(1 - POD_i)``.

Example
-------
>>> round(pod_from_coverage(1.0), 4)
0.6321
>>> round(spacing_for_pod(60.0, 0.9), 2)
26.06
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions._profiles import norm_key
from missions.camera import Camera


@dataclass(frozen=True)
class Target:
    """What is searched for. ``critical_size_m`` is its smallest dimension seen from above;
    ``min_pixels`` the pixels across it a searcher needs to detect it; ``pd_in_footprint``
    the chance of detecting it when it is inside the image (a planning assumption: adjust it
    for vegetation, light and the searcher's experience)."""

    key: str
    name: str
    critical_size_m: float
    min_pixels: float
    pd_in_footprint: float
    kind: str = "any"  # "visual" | "thermal" | "any": the camera kind it applies to


#: Planning defaults. A person seen from above is about 0.5 m across (shoulders); detection by a
#: trained searcher needs about 4 px on a thermal image (Johnson's detection criterion is about
#: 1 cycle = 2 px; 4 px gives margin on a hot-body contrast) and about 10 px on a visual image.
TARGETS: dict[str, Target] = {
    "person-thermal": Target("person-thermal", "person (thermal)", 0.5, 4.0, 0.9, "thermal"),
    "person-visual": Target("person-visual", "person (visual)", 0.5, 10.0, 0.8, "visual"),
    "vehicle-visual": Target("vehicle-visual", "car (visual)", 1.8, 10.0, 0.9, "visual"),
}


def get_target(name: str, camera: Camera | None = None) -> Target:
    """A target by key (``person-thermal``), or ``person`` to pick the one matching the camera."""
    if name in TARGETS:
        return TARGETS[name]
    k = norm_key(name)
    if camera is not None:
        for t in TARGETS.values():
            if norm_key(t.key) == k + norm_key(camera.kind):
                return t
    for t in TARGETS.values():
        if k in (norm_key(t.key), norm_key(t.name)):
            return t
    raise BadInputError(
        _("unknown target {name!r}; known: {targets}").format(name=name, targets=", ".join(TARGETS))
    )


def max_alt_m(camera: Camera, target: Target) -> float:
    """Highest altitude above ground at which the target still covers ``min_pixels`` pixels."""
    return camera.alt_for_gsd_m(100.0 * target.critical_size_m / target.min_pixels)


def pixels_on_target(camera: Camera, alt_m: float, target: Target) -> float:
    return target.critical_size_m / (camera.gsd_cm(alt_m) / 100.0)


def sweep_width_m(camera: Camera, alt_m: float, target: Target, landscape: bool = True) -> float:
    """Effective sweep width W at ``alt_m``; raises when the target would be too small."""
    cap = max_alt_m(camera, target)
    if alt_m > cap * (1 + 1e-9):
        raise BadInputError(
            _(
                "at {alt_m:.1f} m a {target} covers {pixels:.1f}"
                " px on the {camera}; it needs {min_pixels:g} px: fly at most {cap:.1f} m"
            ).format(
                alt_m=alt_m,
                target=target.name,
                pixels=pixels_on_target(camera, alt_m, target),
                camera=camera.name,
                min_pixels=target.min_pixels,
                cap=cap,
            )
        )
    return camera.footprint_m(alt_m, landscape)[0] * target.pd_in_footprint


def coverage_factor(sweep_width_m: float, spacing_m: float) -> float:
    """C = W / S."""
    if spacing_m <= 0:
        raise BadInputError(
            _("track spacing must be positive, got {spacing_m} m").format(spacing_m=spacing_m)
        )
    return sweep_width_m / spacing_m


def pod_from_coverage(c: float) -> float:
    """POD = 1 - e^(-C)."""
    return 1.0 - math.exp(-c)


def pod(sweep_width_m: float, spacing_m: float) -> float:
    """Probability of detection of one pass at track spacing ``spacing_m``."""
    return pod_from_coverage(coverage_factor(sweep_width_m, spacing_m))


def spacing_for_pod(sweep_width_m: float, wanted_pod: float) -> float:
    """Track spacing S giving ``wanted_pod`` in one pass: S = W / -ln(1 - POD)."""
    if not 0.0 < wanted_pod < 1.0:
        raise BadInputError(
            _("POD must be in (0, 1), got {wanted_pod}").format(wanted_pod=wanted_pod)
        )
    return sweep_width_m / -math.log1p(-wanted_pod)


def cumulative_pod(pods: Iterable[float]) -> float:
    """POD of several passes over the same area: 1 - Π(1 - POD_i)."""
    miss = 1.0
    for p in pods:
        if not 0.0 <= p <= 1.0:
            raise BadInputError(_("POD must be in [0, 1], got {p}").format(p=p))
        miss *= 1.0 - p
    return 1.0 - miss


def passes_for_pod(single_pod: float, wanted_pod: float) -> int:
    """Passes of ``single_pod`` needed to reach ``wanted_pod`` cumulatively."""
    if not 0.0 < single_pod < 1.0 or not 0.0 < wanted_pod < 1.0:
        raise BadInputError(_("POD values must be in (0, 1)"))
    return max(1, math.ceil(math.log1p(-wanted_pod) / math.log1p(-single_pod) - 1e-12))
