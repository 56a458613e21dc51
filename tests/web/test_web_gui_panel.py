"""The pilots' requests panel (real widgets, offscreen): a point search for a missing person
goes to the plan as a probability search around the last known position (an expanding square
when the category has no lost-person statistics); a refusal needs a reason."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path
from typing import Any

import pytest

from dronekit_plzen.i18n import set_language
from telemetry import requests as rq
from telemetry.store import open_store


def _point_search(db: Path, subject: str = "child") -> int:
    new = rq.NewRequest(
        organisation="PCR",
        category="sar",
        urgency="urgent",
        location="Lochotín, Bolevecký rybník",
        lat_deg=49.7680,
        lon_deg=13.3700,
        contact_name="pprap. Dvořák",
        contact_phone="974 321 111",
        subject_category=subject,
        subject_description="dívka 9 let",
        lkp_lat_deg=49.7690,
        lkp_lon_deg=13.3710,
        lkp_time="2026-01-01T10:00:00Z",
    )
    with open_store(db) as s:
        return rq.create_request(s, new, actor="pcr1", role="requester").id


def _panels(qtbot: Any, db: Path) -> tuple[Any, Any, list[str]]:
    """The requests panel on ``db`` sending to a plan panel, and the messages it shows."""
    from gui.plan_panel import PlanPanel
    from gui.requests_panel import RequestsPanel

    panel, plan = RequestsPanel(db, poll_ms=0), PlanPanel()
    qtbot.addWidget(panel)
    qtbot.addWidget(plan)
    panel.attach_plan_panel(plan)
    messages: list[str] = []
    panel.statusMessage.connect(messages.append)
    return panel, plan, messages


def test_point_search_planned_around_the_lkp_and_refusal_needs_a_reason(
    qtbot: Any, tmp_path: Path
) -> None:

    set_language("en")
    db = tmp_path / "flights.db"
    first, second = _point_search(db), _point_search(db)
    dementia, elderly = _point_search(db, "dementia"), _point_search(db, "elderly")
    panel, plan, messages = _panels(qtbot, db)
    with qtbot.waitSignal(panel.newRequests, timeout=10_000) as new:
        panel.refresh()
    assert new.args == [4] and "4 new requests" in panel.banner.text()
    for rid, pattern, subject in (
        (dementia, "poa", "dementia"),  # its statistics are chosen with it
        (elderly, "expanding-square", None),  # no statistics of its own
    ):
        panel.select_request(rid)
        with qtbot.waitSignal(panel.planRequested, timeout=10_000):
            panel.plan_selected()
        assert plan.pattern.currentData() == pattern
        if subject:
            assert plan.subject.currentData() == subject
            assert messages[-1].endswith("check the launch point, then plan.")
    panel.select_request(first)
    with qtbot.waitSignal(panel.planRequested, timeout=10_000):
        panel.accept_selected()
    # a child's statistics are by age: the pilot picks the group (the request says "9 let")
    assert plan.pattern.currentData() == "poa" and plan.subject.currentData() is None
    assert "a child's by age" in messages[-1]
    assert plan.datum == pytest.approx((13.3710, 49.7690))  # the last known position
    assert plan.launch == pytest.approx((13.3700, 49.7680))
    qtbot.waitUntil(lambda: panel.list.count() == 4 and not panel._loading, timeout=10_000)
    with qtbot.assertNotEmitted(panel.newRequests):  # already shown: no second notification
        panel.refresh()
        qtbot.waitUntil(lambda: not panel._loading, timeout=10_000)
    panel.select_request(second)
    panel.refuse_selected()
    assert messages[-1] == "Give the reason of the refusal."
    panel.reason.setText("mlha, dohlednost 200 m")
    panel.refuse_selected()
    qtbot.waitUntil(lambda: any("refused" in m for m in messages), timeout=10_000)
    with open_store(db) as s:
        assert rq.get_request(s, second).state == "refused"
        assert rq.get_request(s, first).state == "accepted"
        entry = rq.audit_entries(s, request_id=second)[0]
    assert entry["action"] == "request_refused" and entry["actor"].startswith("gui:")
    assert entry["detail"]["reason"] == "mlha, dohlednost 200 m"
    panel.shutdown()


def test_the_queue_reads_in_the_pilots_language(qtbot: Any, tmp_path: Path) -> None:
    """The list names state, urgency and category in the pilot's language (the codes
    "URGENT" and "sar" had stayed English in Czech), as the portal names them."""
    from gui.requests_panel import RequestsPanel

    db = tmp_path / "flights.db"
    _point_search(db)
    lines = {}
    for lang in ("en", "cs"):
        set_language(lang)
        panel = RequestsPanel(db, poll_ms=0)
        qtbot.addWidget(panel)
        panel.refresh()
        qtbot.waitUntil(lambda p=panel: p.list.count() == 1, timeout=10_000)
        lines[lang] = panel.list.item(0).text()
    set_language("en")
    assert lines["en"].startswith("#1 [Requested] URGENT · PCR · Search and rescue · Lochotín")
    assert lines["cs"].startswith("#1 [Vyžádáno] NALÉHAVĚ · PCR · Pátrání a záchrana · Lochotín")


def test_the_planned_probability_map_is_attached_to_its_request(qtbot: Any, tmp_path: Path) -> None:
    """A probability search planned from a request: its POA map goes to the request (the portal
    draws it), as ``web attach --poa`` does; a search planned since around another point is not
    attached to it. (The GUI had no way to: the map stayed on the pilot's laptop.)"""
    import json

    set_language("en")
    db = tmp_path / "flights.db"
    rid = _point_search(db, "dementia")
    panel, plan, messages = _panels(qtbot, db)
    with qtbot.waitSignal(panel.newRequests, timeout=10_000):
        panel.refresh()
    panel.select_request(rid)
    assert not panel.attach_button.isEnabled()  # nothing planned yet
    with qtbot.waitSignal(panel.planRequested, timeout=10_000):
        panel.plan_selected()
    plan.budget_km.setValue(2.0)
    views: list[Any] = []
    plan.planReady.connect(views.append)
    plan.statusMessage.connect(lambda m: views.append(m) if m.startswith("Error") else None)
    plan.plan_button.click()
    qtbot.waitUntil(lambda: bool(views), timeout=120_000)
    assert getattr(views[0], "poa_path", None) is not None, views[0]
    assert panel.attach_button.isEnabled()
    panel.attach_button.click()
    qtbot.waitUntil(lambda: any("attached to request" in m for m in messages), timeout=20_000)
    assert messages[-1] == f"POA map attached to request {rid}: the portal shows it."
    with open_store(db) as s:
        req = rq.get_request(s, rid)
        entry = rq.audit_entries(s, request_id=rid)[0]
    cells = json.loads(req.poa_geojson)
    assert cells["type"] == "FeatureCollection" and cells["features"]
    total = sum(f["properties"]["poa"] for f in cells["features"])
    assert total == pytest.approx(1.0, abs=1e-3)
    assert entry["action"] == "results_attached" and entry["actor"].startswith("gui:")
    # the pilot moved the last known position 2 km away and planned again: not this request's
    plan.start_picking("datum")
    plan.map_clicked(13.3990, 49.7860)
    views.clear()
    plan.plan_button.click()
    qtbot.waitUntil(lambda: bool(views), timeout=120_000)
    before = req.poa_geojson
    panel.attach_button.click()
    assert "not around request" in messages[-1]
    with open_store(db) as s:
        assert rq.get_request(s, rid).poa_geojson == before
    panel.shutdown()
