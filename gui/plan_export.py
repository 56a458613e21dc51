"""The planning panel's safety override and export.

A mixin of :class:`gui.plan_panel.PlanPanel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtWidgets import QDialog, QFileDialog, QWidget

from dronekit_plzen.i18n import _
from gui import backend
from gui.models import PlanView
from gui.plan_widgets import OverrideDialog, user_name
from gui.workers import ThreadRunner


class PlanExportMixin:
    """Override an unsafe plan with a reason; export it (refused when unsafe, not overridden)."""

    plan_view: PlanView | None
    override_reason: str | None
    runner: ThreadRunner
    statusMessage: Any
    overrideRecorded: Any
    planReady: Any
    export_format: Any

    def _failed(self, message: str) -> None:  # provided by the panel
        raise NotImplementedError

    def _override_clicked(self) -> None:
        self.request_override()

    def request_override(self) -> bool:
        """Ask for confirmation and a reason; record it on the plan. True when overridden."""
        if self.plan_view is None:
            return False
        dlg = OverrideDialog(self.plan_view.violations, self if isinstance(self, QWidget) else None)
        if dlg.exec_() != QDialog.Accepted:
            self.statusMessage.emit(_("Safety override cancelled."))
            return False
        self.apply_override(dlg.reason_text())
        return True

    def apply_override(self, reason: str) -> None:
        if self.plan_view is None or not reason.strip():
            return
        self.override_reason = reason.strip()
        override = backend.record_override(self.plan_view, self.override_reason, user_name())
        self.statusMessage.emit(_("Safety override recorded: {reason}").format(reason=reason))
        self.overrideRecorded.emit(override)
        self.planReady.emit(self.plan_view)  # the fly panel takes the overridden clearances

    def _choose_export(self) -> None:
        fmt = str(self.export_format.currentData())
        suffix = backend.EXPORT_FORMATS[fmt]
        path, _filter = QFileDialog.getSaveFileName(
            self if isinstance(self, QWidget) else None,
            _("Export mission"),
            f"mission{suffix}",
            f"*{suffix}",
        )
        if path:
            self.export(Path(path), fmt)

    def export(self, path: Path, fmt: str) -> None:
        """Write the plan (a file per drone when several) unless unsafe and not overridden."""
        view = self.plan_view
        if view is None:
            return
        if view.violations and self.override_reason is None:
            self.statusMessage.emit(
                _("The mission failed validation: export refused without a safety override.")
            )
            return
        self.runner.run(
            lambda: backend.export_plan(view, path, fmt),
            lambda paths: self.statusMessage.emit(
                _("Exported: {files}").format(files=", ".join(str(p) for p in paths))
            ),
            self._failed,
        )
