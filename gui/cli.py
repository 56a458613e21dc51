"""``dronekit-plzen gui``: open the desktop planning and flight application."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from dronekit_plzen.cliutil import app
from dronekit_plzen.errors import BadInputError, DronekitPlzenError
from dronekit_plzen.i18n import _, get_language
from dronekit_plzen.outputs import check_output_path


# Help texts are translated when this module is imported: the CLI imports it lazily, after
# the language was chosen from --lang, the configuration or LANG.
@click.command(
    name="gui", help=_("Open the desktop application (map, planning, flying, deployments).")
)
@click.option(
    "--area",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=_("Open this area file (GeoJSON, KML, WKT) at start."),
)
@click.option(
    "--zones",
    "zones_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=_("Open this geozones file at start."),
)
@click.option(
    "--pattern",
    type=click.Choice(["survey", "expanding-square", "sector", "creeping-line", "perimeter"]),
    help=_("Plan the area with this pattern at start (needs --area)."),
)
@click.option("--camera", help=_("Camera profile for --pattern, e.g. mavic3t-thermal."))
@click.option("--alt-m", type=float, help=_("Altitude above home for --pattern."))
@click.option(
    "--drones",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help=_("Split the area among this many drones for --pattern."),
)
@click.option(
    "--link-loss-s",
    type=click.FloatRange(min=1.0),
    default=30.0,
    show_default=True,
    help=_("Seconds without a heartbeat before a vehicle is reported lost (banner and sound)."),
)
@click.option(
    "--offscreen-screenshot",
    "screenshot",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("Render the main window to this PNG without a display, then exit."),
)
def gui(
    area: Path | None,
    zones_file: Path | None,
    pattern: str | None,
    camera: str | None,
    alt_m: float | None,
    drones: int,
    link_loss_s: float,
    screenshot: Path | None,
) -> None:
    """Open the desktop application (map, planning, flying, deployments)."""
    from dronekit_plzen.outputs import stop_guarding_inputs

    stop_guarding_inputs()  # the pilot saves a mission over the file opened, on purpose
    if pattern is not None and area is None:
        raise BadInputError(_("--pattern needs --area"))
    try:
        from gui.app import StartPlan, run
    except ImportError as exc:  # PyQt5 is the optional [gui] extra
        raise DronekitPlzenError(
            _("the GUI needs PyQt5: pip install 'dronekit-plzen[gui]' ({error})").format(error=exc)
        ) from exc
    if screenshot is None and not _display_available(os.environ):
        raise DronekitPlzenError(
            _(
                "no display to open the window on: set DISPLAY (or run under xvfb-run), "
                "or use --offscreen-screenshot PATH"
            )
        )
    ctx = app()
    zones = zones_file or ctx.config.zones_file
    # Bad start-up input is refused here, before a window opens (exit 2, one line).
    from missions.area import load_area
    from missions.zones import load_zones

    if screenshot is not None:
        check_output_path(screenshot, suffixes=(".png",))
    if area is not None:
        load_area(area)
    if zones_file is not None:
        load_zones(zones_file)
    code = run(
        db_path=ctx.config.db_path,
        lang=get_language(),
        area=area,
        zones=zones if zones is not None and Path(zones).exists() else None,
        screenshot=screenshot,
        start_plan=StartPlan(pattern, camera, alt_m, drones) if pattern else None,
        dem=ctx.config.dem_file,
        link_loss_s=link_loss_s,
        max_distance_m=ctx.config.max_distance_m,
    )
    if screenshot is not None and code == 0:
        click.echo(str(screenshot))
    if code:
        raise DronekitPlzenError(_("could not write the screenshot {path}").format(path=screenshot))


def _display_available(env: Mapping[str, str]) -> bool:
    """Whether Qt can open a window (Qt aborts the process when it cannot, so ask first)."""
    if env.get("QT_QPA_PLATFORM"):
        return True  # the user chose a platform (offscreen, vnc, wayland, xcb, …)
    if not sys.platform.startswith("linux"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
