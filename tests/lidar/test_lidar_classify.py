"""Height above ground and object classes against the synthetic truth."""

from __future__ import annotations

import numpy as np

from lidar.cloud import BUILDING, GROUND, HIGH_VEGETATION, LOW_VEGETATION, MEDIUM_VEGETATION
from lidar.stages import (
    ClassifyOptions,
    HagOptions,
    OutlierOptions,
    SMRFOptions,
    apply_classify,
    apply_hag,
    apply_outlier,
    apply_smrf,
)
from lidar.synthetic import Scene, terrain_z


def _pr(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = float((pred & truth).sum())
    return tp / max(pred.sum(), 1), tp / max(truth.sum(), 1)


def test_hag_and_classes_from_the_full_chain(scene: Scene) -> None:
    c = apply_smrf(apply_outlier(scene.cloud, OutlierOptions()), SMRFOptions())
    c = apply_hag(c, HagOptions())
    true_hag = c.z - terrain_z(c.x, c.y, scene.origin)
    ok = scene.truth != 7
    err = np.abs(c.dims["HeightAboveGround"][ok] - true_hag[ok])
    assert np.median(err) < 0.05 and np.percentile(err, 95) < 0.5
    out = apply_classify(c, ClassifyOptions()).classification
    t = scene.truth
    bp, br = _pr(out == BUILDING, t == BUILDING)
    # measured: buildings 0.997 / 0.999, high vegetation 0.999 / 0.992, medium 1.0 / 0.88;
    # low shrubs (< 0.5 m) fall within the SMRF threshold and stay ground (recall ≈ 0)
    assert bp > 0.95 and br > 0.95, (bp, br)
    veg = (HIGH_VEGETATION, MEDIUM_VEGETATION, LOW_VEGETATION)
    vp, vr = _pr(np.isin(out, veg), np.isin(t, veg))
    assert vp > 0.9 and vr > 0.9, (vp, vr)
    hp, hr = _pr(out == HIGH_VEGETATION, t == HIGH_VEGETATION)
    assert hp > 0.9 and hr > 0.95, (hp, hr)
    assert (out[t == GROUND] == GROUND).mean() > 0.98
