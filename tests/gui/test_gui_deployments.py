"""The deployment view: the status flow of the CLI, the outcome, and the GOV 16 chart, on a real
SQLite flight database; a screenshot checked for the bars and the baseline/target lines."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from pathlib import Path

from PyQt5.QtGui import QColor

from dronekit_plzen.i18n import set_language
from gui.deploy_panel import DeploymentPanel
from gui.deployments_view import BAR, TARGET_C
from telemetry.deployments import create_deployment, get_deployment, update_deployment
from telemetry.store import open_store

#: README screenshots are refreshed only on request (DKP_DOCS_SCREENSHOTS=1); a plain test run
#: writes them to its temporary folder and leaves the clone as it was
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def _shots(tmp_path: Path) -> Path:
    return DOCS_IMG if os.environ.get("DKP_DOCS_SCREENSHOTS") == "1" else tmp_path


THIS_YEAR = int(time.strftime("%Y", time.gmtime()))
#: per year back from this one: (counted, exercises, cancelled)
HISTORY = {4: (8, 0, 1), 3: (12, 1, 0), 2: (19, 2, 1), 1: (26, 1, 2), 0: (5, 1, 0)}


def _fill(db: Path) -> int:
    """Deployments over five years; returns the id of one still 'requested' this year."""
    orgs = ["HZS", "PCR", "ZZS", "MP", "KRIZ"]
    with open_store(db) as store:
        for back, (counted, exercises, cancelled) in HISTORY.items():
            year = THIS_YEAR - back
            for i in range(counted + exercises + cancelled):
                category = "exercise" if counted <= i < counted + exercises else "sar"
                dep = create_deployment(
                    store,
                    organisation=orgs[i % 5],
                    category=category,
                    location=f"Plzeň {i}",
                    requested_at=f"{year}-0{1 + i % 9}-1{i % 9}T08:00:00Z",
                )
                if i >= counted + exercises:
                    update_deployment(store, dep.id, status="cancelled")
                    continue
                for status in ("accepted", "in_progress", "completed"):
                    update_deployment(store, dep.id, status=status)
        open_dep = create_deployment(
            store, organisation="HZS", category="sar", location="Bolevec, rybníky"
        )
    return int(open_dep.id)


def _select(panel: DeploymentPanel, dep_id: int) -> None:
    for i in range(panel.deployments.count()):
        item = panel.deployments.item(i)
        if item is not None and item.data(256) == dep_id:
            panel.deployments.setCurrentItem(item)
            return
    raise AssertionError(f"deployment {dep_id} not listed")


def test_status_flow_outcome_and_indicator_chart(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    set_language("en")
    db = tmp_path / "flights.sqlite"
    open_id = _fill(db)
    panel = DeploymentPanel(db)
    qtbot.addWidget(panel)
    panel.resize(760, 1000)
    panel.show()
    qtbot.waitUntil(lambda: panel.deployments.count() == 1 + sum(map(sum, HISTORY.values())))
    # the chart: one bar per year with the indicator's yearly count (exercises apart)
    bars = {b.year: b for b in panel.chart.bars}
    for back, (counted, exercises, _cancelled) in HISTORY.items():
        assert bars[THIS_YEAR - back].count == counted
        assert bars[THIS_YEAR - back].exercises == exercises
    # the list names the category (the code "sar" had been shown)
    texts = [panel.deployments.item(i).text() for i in range(panel.deployments.count())]
    assert any("HZS Search and rescue — Bolevec, rybníky [" in t for t in texts), texts
    assert not any(" sar — " in t for t in texts), texts
    # the status moves only along the CLI's flow: requested → accepted or cancelled
    _select(panel, open_id)
    editor = panel.editor
    offered = [editor.status.itemData(i) for i in range(editor.status.count())]
    assert offered == [None, "accepted", "cancelled"]
    editor.status.setCurrentIndex(1)
    editor.outcome.setText("person found alive")
    with qtbot.waitSignal(panel.deploymentUpdated, timeout=10_000) as updated:
        editor.save_button.click()
    assert updated.args[0].status == "accepted" and updated.args[0].outcome == "person found alive"
    qtbot.waitUntil(
        lambda: editor.deployment is not None and editor.deployment.status == "accepted"
    )
    offered = [editor.status.itemData(i) for i in range(editor.status.count())]
    assert offered == [None, "in_progress", "cancelled"]
    # a move the flow forbids (also when asked directly) is refused by the database layer
    messages: list[str] = []
    panel.statusMessage.connect(messages.append)
    panel.save_status(open_id, "completed", None)
    qtbot.waitUntil(lambda: any("cannot go from accepted to completed" in m for m in messages))
    with open_store(db) as store:
        assert get_deployment(store, open_id).status == "accepted"

    # the screenshot: bars in the bar colour where the chart put them, the target line green
    qtbot.wait(200)
    image = panel.chart.grab().toImage()
    i_last = len(panel.chart.bars) - 2  # last year's bar (26 counted)
    rect = panel.chart.bar_rect(i_last)
    x = int(rect.center().x())
    y = int((panel.chart.y_of(0) + panel.chart.y_of(bars[THIS_YEAR - 1].count)) / 2)
    assert image.pixelColor(x, y) == QColor(BAR)
    y_target = round(panel.chart.y_of(panel.chart.target))
    greens = [
        image.pixelColor(xx, yy)
        for xx in range(int(panel.chart.plot_rect().left()), int(panel.chart.plot_rect().right()))
        for yy in (y_target - 1, y_target, y_target + 1)
    ]
    target = QColor(TARGET_C)
    assert sum(1 for c in greens if abs(c.green() - target.green()) < 30 and c.red() < 120) > 40
    _shots(tmp_path).mkdir(parents=True, exist_ok=True)
    shot = _shots(tmp_path) / "gui-deployments.png"
    assert panel.grab().toImage().save(str(shot), "PNG", 0)
    assert shot.stat().st_size < 300_000


def test_the_panel_and_the_portal_name_each_code_with_one_term(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An organisation, a category or a state has one name in a language: the deployments
    panel's lists and the portal's (and the requests panel's) labels are the same words. The
    panel had said "Krizové řízení" and "Probíhá" where the portal said "Krizový štáb města" and
    "V letu" for the same codes."""
    from dronekit_plzen.i18n import translations
    from telemetry.requests import LABELS, label

    set_language("cs")
    try:
        panel = DeploymentPanel(tmp_path / "d.db")
        qtbot.addWidget(panel)
        cs = translations("cs").gettext
        for combo, kind in ((panel.organisation, "organisation"), (panel.category, "category")):
            shown = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
            for code in LABELS[kind]:
                assert shown[code] == label(cs, kind, code), (kind, code)
                assert shown[code] != LABELS[kind][code], f"{kind} {code}: no Czech name"
        assert label(cs, "organisation", "KRIZ") == "Krizové řízení"
        dep_id = _fill(tmp_path / "d.db")
        with open_store(tmp_path / "d.db") as store:
            for status in ("accepted", "in_progress"):
                update_deployment(store, dep_id, status=status)
            dep = get_deployment(store, dep_id)
        panel.editor.show_deployment(dep, ["completed", "cancelled"])
        assert label(cs, "state", "in_progress") in panel.editor.summary.text()
        names = [panel.editor.status.itemText(i) for i in (1, 2)]
        assert names == [label(cs, "state", "completed"), label(cs, "state", "cancelled")]
    finally:
        set_language("en")
