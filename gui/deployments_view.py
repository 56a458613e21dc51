"""The deployment view's parts: a deployment's status and outcome, its sightings, and the GOV 16
indicator chart.

The status moves only along the flow of ``dronekit-plzen deployments`` (telemetry.deployments:
requested → accepted → in_progress → completed, or cancelled from any open state): the choice
offers just the allowed next statuses and the database checks the move again. The chart draws
the yearly count of deployments for the IZS and crisis management (telemetry.indicator) against
the baseline (10) and the target (30).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PyQt5.QtCore import QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PyQt5.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from dronekit_plzen.i18n import _
from telemetry.deployments import STATUS_NAMES

BAR, EXERCISE, BASELINE_C, TARGET_C = "#1565c0", "#90caf9", "#e65100", "#2e7d32"


@dataclass(frozen=True)
class YearBar:
    """One year of indicator GOV 16: deployments counted, and exercises shown beside them."""

    year: int
    count: int
    exercises: int = 0
    pending: int = 0


def year_bars(reports: list[Any]) -> list[YearBar]:
    """Bars from telemetry.indicator reports (one per year, all four quarters)."""
    return [
        YearBar(
            year=int(r.year),
            count=int(r.total),
            exercises=int(r.exercises),
            pending=sum(int(q.pending) for q in r.quarters),
        )
        for r in reports
    ]


class IndicatorChart(QWidget):
    """Yearly bars with the baseline and target lines (drawn with QPainter)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.bars: list[YearBar] = []
        self.baseline, self.target = 10, 30
        self.setMinimumHeight(230)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)

    def set_bars(self, bars: list[YearBar], baseline: int = 10, target: int = 30) -> None:
        self.bars, self.baseline, self.target = list(bars), baseline, target
        self.update()

    def plot_rect(self) -> QRectF:
        return QRectF(34, 26, max(10, self.width() - 44), max(10, self.height() - 62))

    def y_of(self, value: float) -> float:
        r = self.plot_rect()
        top = max([self.target * 1.15] + [b.count + b.exercises for b in self.bars])
        return r.bottom() - r.height() * value / top

    def bar_rect(self, i: int) -> QRectF:
        r = self.plot_rect()
        n = max(1, len(self.bars))
        slot = r.width() / n
        return QRectF(r.left() + slot * (i + 0.2), 0, slot * 0.6, 0)

    def paintEvent(self, _e: QPaintEvent | None) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), QColor("#ffffff"))
        r = self.plot_rect()
        title = QFont()
        title.setBold(True)
        p.setFont(title)
        p.setPen(QColor("#212121"))
        p.drawText(
            QRectF(0, 2, self.width(), 20),
            Qt.AlignmentFlag.AlignCenter,
            _("GOV 16: UAV deployments for the IZS and crisis management per year"),
        )
        p.setFont(QFont())
        p.setPen(QPen(QColor("#9e9e9e"), 1))
        p.drawLine(int(r.left()), int(r.bottom()), int(r.right()), int(r.bottom()))
        for i, b in enumerate(self.bars):
            x = self.bar_rect(i)
            y0, y1 = r.bottom(), self.y_of(b.count)
            p.fillRect(QRectF(x.left(), y1, x.width(), y0 - y1), QColor(BAR))
            if b.exercises:
                ye = self.y_of(b.count + b.exercises)
                p.fillRect(QRectF(x.left(), ye, x.width(), y1 - ye), QColor(EXERCISE))
            top = self.y_of(b.count + b.exercises)
            label = QRectF(x.center().x() - 14, top - 19, 28, 16)
            p.fillRect(label, QColor("#ffffff"))
            p.setPen(QColor("#212121"))
            p.drawText(label, Qt.AlignmentFlag.AlignCenter, str(b.count))
            p.drawText(
                QRectF(x.left() - 10, r.bottom() + 2, x.width() + 20, 16),
                Qt.AlignmentFlag.AlignCenter,
                str(b.year),
            )
        for value, colour, name in (
            (self.baseline, BASELINE_C, _("baseline {n}")),
            (self.target, TARGET_C, _("target {n}")),
        ):
            y = self.y_of(value)
            p.setPen(QPen(QColor(colour), 2, Qt.PenStyle.DashLine))
            p.drawLine(int(r.left()), int(y), int(r.right()), int(y))
            p.drawText(
                QRectF(r.right() - 164, y - 19, 160, 16),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom),
                name.format(n=value),
            )
        p.setPen(QColor("#616161"))
        p.drawText(
            QRectF(0, self.height() - 20, self.width(), 18),
            Qt.AlignmentFlag.AlignCenter,
            _("blue: counted (in progress or completed); light blue: exercises, not counted"),
        )
        p.end()


class DeploymentEditor(QGroupBox):
    """The selected deployment: its status (only the allowed next ones) and its outcome."""

    saveRequested = pyqtSignal(int, object, object)  # id, new status or None, outcome or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(_("Selected deployment"), parent)
        self.deployment: Any = None
        form = QFormLayout(self)
        self.summary = QLabel(_("Register or select a deployment first."))
        self.summary.setWordWrap(True)
        form.addRow(self.summary)
        self.status = QComboBox()
        self.status_label = QLabel(_("Status"))
        form.addRow(self.status_label, self.status)
        self.outcome = QLineEdit()
        self.outcome.setPlaceholderText(_("e.g. person found alive at 49.79, 13.39"))
        self.outcome_label = QLabel(_("Outcome"))
        form.addRow(self.outcome_label, self.outcome)
        self.save_button = QPushButton(_("Save status and outcome"))
        self.save_button.clicked.connect(self._save)
        form.addRow(self.save_button)
        self.sightings = QLabel("")
        self.sightings.setWordWrap(True)
        form.addRow(self.sightings)
        self.show_deployment(None, [])

    def show_deployment(self, dep: Any, allowed: list[str]) -> None:
        """Show ``dep`` (a telemetry Deployment, or None) and the statuses it may move to."""
        self.deployment = dep
        self.status.clear()
        enabled = dep is not None
        for w in (self.status, self.outcome, self.save_button):
            w.setEnabled(enabled)
        if dep is None:
            self.summary.setText(_("Register or select a deployment first."))
            self.outcome.clear()
            return
        current = _(STATUS_NAMES.get(dep.status, dep.status))
        self.summary.setText(
            _("#{id} {location}: {status}").format(id=dep.id, location=dep.location, status=current)
        )
        self.status.addItem(_("(keep: {status})").format(status=current), None)
        for s in allowed:
            self.status.addItem(_(STATUS_NAMES.get(s, s)), s)
        self.outcome.setText(dep.outcome or "")

    def show_sightings(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            self.sightings.setText("")
            return
        lines = [_("Sightings:")] + [
            f"{str(r['at'])[11:16]} UTC  {r['lat_deg']:.6f}, {r['lon_deg']:.6f}"
            + (f" ({r['note']})" if r.get("note") else "")
            for r in rows
        ]
        self.sightings.setText("\n".join(lines))

    def _save(self) -> None:
        if self.deployment is None:
            return
        status = self.status.currentData()
        outcome = self.outcome.text().strip()
        changed = outcome if outcome != (self.deployment.outcome or "") else None
        self.saveRequested.emit(int(self.deployment.id), status, changed)
