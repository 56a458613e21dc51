"""Guided go-to a sighting: the guard's warnings (a conditional zone) are shown in the dialog in
amber and do not stop the flight; a refusal still does (no display needed: offscreen Qt)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

from dkp_testkit import zone_file

from gui.fly_goto import GotoDialog, check_target
from gui.models import VehicleView
from gui.plan_widgets import WARNING_COLOUR

HOME = (49.800, 13.398, 330.0)  # lat, lon, alt AMSL


def _vehicle() -> VehicleView:
    return VehicleView(sysid=1, lon=13.398, lat=49.800, alt_rel_m=30.0, home=HOME)


def test_a_conditional_zone_passes_with_its_warning_shown(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    zones = zone_file(tmp_path / "cond.geojson", "CONDITIONAL")
    v = _vehicle()
    chk = check_target(v, 13.401, 49.802, 40.0, zones=zones)
    assert chk.ok and chk.problems == ()
    assert len(chk.warnings) == 1 and "enters conditional zone CZ-TEST-ZONE" in chk.warnings[0]
    dlg = GotoDialog(v, 13.401, 49.802, lambda alt_m: chk, deployment_id=None)
    qtbot.addWidget(dlg)
    text = dlg.verdict.text()
    assert text.startswith("Guard: the target passes, with warnings:\n"), text
    assert "conditional zone CZ-TEST-ZONE" in text
    assert WARNING_COLOUR in dlg.verdict.styleSheet()
    assert dlg.fly_button.isEnabled()


def test_a_prohibited_zone_still_refuses_the_target(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    zones = zone_file(tmp_path / "prohibited.geojson", "PROHIBITED")
    v = _vehicle()
    chk = check_target(v, 13.401, 49.802, 40.0, zones=zones)
    assert not chk.ok and chk.warnings == ()
    dlg = GotoDialog(v, 13.401, 49.802, lambda alt_m: chk, deployment_id=None)
    qtbot.addWidget(dlg)
    assert dlg.verdict.text().startswith("Guard: the target is refused:")
    assert not dlg.fly_button.isEnabled()
