"""Telemetry recorder into SQLite, flight log import, deployments and the IZS indicator reports.

Public API (imported lazily, so ``import telemetry`` stays cheap)::

    from telemetry import open_store, create_deployment, Recorder, import_files
    with open_store("flights.db") as store:
        dep = create_deployment(store, organisation="PCR", category="sar", location="Bory")
    with Recorder("flights.db", deployment_id=dep.id) as rec, connect(url) as link:
        rec.attach(link)                         # every vehicle on the link is recorded
    with open_store("flights.db") as store:
        rep = indicator_report(store, 2024)
        write_html_report(rep, "out/report.html", store=store)
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "open_store": "telemetry.store",
    "Store": "telemetry.store",
    "create_deployment": "telemetry.deployments",
    "update_deployment": "telemetry.deployments",
    "get_deployment": "telemetry.deployments",
    "list_deployments": "telemetry.deployments",
    "link_flight": "telemetry.deployments",
    "link_flights": "telemetry.deployments",
    "Recorder": "telemetry.recorder",
    "replay_tlog": "telemetry.recorder",
    "import_file": "telemetry.importer",
    "import_files": "telemetry.importer",
    "indicator_report": "telemetry.indicator",
    "write_html_report": "telemetry.report_files",
    "export_open_data": "telemetry.report_files",
}

__all__ = [
    "Recorder",
    "Store",
    "create_deployment",
    "export_open_data",
    "get_deployment",
    "import_file",
    "import_files",
    "indicator_report",
    "link_flight",
    "link_flights",
    "list_deployments",
    "open_store",
    "replay_tlog",
    "update_deployment",
    "write_html_report",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'telemetry' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
