"""``dronekit-plzen gui``: open the desktop planning and flight application."""

from __future__ import annotations

from pathlib import Path

import click

from dronekit_plzen.cli.common import app
from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _, get_language


@click.command(name="gui")
@click.option(
    "--area",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Open this area file (GeoJSON, KML, WKT) at start.",
)
@click.option(
    "--zones",
    "zones_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Open this geozones file at start.",
)
@click.option(
    "--offscreen-screenshot",
    "screenshot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Render the main window to this PNG without a display, then exit.",
)
def gui(area: Path | None, zones_file: Path | None, screenshot: Path | None) -> None:
    """Open the desktop application (map, planning, flying, deployments)."""
    try:
        from gui.app import run
    except ImportError as exc:  # PyQt5 is the optional [gui] extra
        raise DronekitPlzenError(
            _("the GUI needs PyQt5: pip install 'dronekit-plzen[gui]' ({error})").format(error=exc)
        ) from exc
    ctx = app()
    zones = zones_file or ctx.config.zones_file
    code = run(
        db_path=ctx.config.db_path,
        lang=get_language(),
        area=area,
        zones=zones if zones is not None and Path(zones).exists() else None,
        screenshot=screenshot,
    )
    if screenshot is not None and code == 0:
        click.echo(str(screenshot))
    if code:
        raise DronekitPlzenError(_("could not write the screenshot {path}").format(path=screenshot))
