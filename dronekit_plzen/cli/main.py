"""The ``dronekit-plzen`` command.

Sub-commands are loaded lazily from the package that owns them, so ``--help`` is fast and the
GUI's Qt is imported only by ``dronekit-plzen gui``.

Errors: a :class:`~dronekit_plzen.errors.DronekitPlzenError` is printed as one line naming the
problem and where, with exit code 2 for bad input, 3 for a safety violation and 1 for other
failures. ``--debug`` (or ``DKP_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from dronekit_plzen import __version__
from dronekit_plzen.cliutil import AppContext
from dronekit_plzen.config import load_config
from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _, set_language
from dronekit_plzen.outputs import guarded_inputs

#: command name → (module, attribute, one-line help); the owning package defines the command.
#: The help is an English msgid, translated when shown (this module is imported before --lang).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "plan": ("missions.cli", "plan", "Plan survey grids and IAMSAR search patterns."),
    "sim": ("simulators.cli", "sim", "Run the MAVLink multicopter simulator fleet."),
    "fly": ("dronekit_plzen.cli.fly", "fly", "Upload, verify and fly a mission."),
    "status": ("dronekit_plzen.cli.status", "status", "Show the fleet live: mode, battery, link."),
    "record": ("telemetry.cli", "record", "Record telemetry from a link into the database."),
    "import": ("telemetry.cli", "import_logs", "Import .tlog, .bin, .log and .ulg flight logs."),
    "flights": ("telemetry.cli", "flights", "List and show recorded flights."),
    "deployments": ("telemetry.cli", "deployments", "Register and manage IZS deployments."),
    "report": ("telemetry.cli", "report", "Reports: the IZS deployment indicator, exports."),
    "lidar": ("lidar.cli", "lidar", "Process LiDAR point clouds into DTM, DSM, CHM."),
    "photo": ("photo.cli", "photo", "Photogrammetry: orthophoto, DSM, cloud from photos."),
    "basemap": ("dronekit_plzen.basemap.cli", "basemap", "Basemap tiles: sources, offline packs."),
    "gui": ("gui.cli", "gui", "Open the desktop planning and flight application."),
    "demo": ("dronekit_plzen.demo.cli", "demo", "Run the end-to-end demonstration."),
    "train": ("dronekit_plzen.training.cli", "train", "Scored simulator exercises for students."),
    "serve": ("dronekit_plzen.web.cli", "serve", "Start the crisis staff web portal."),
    "web": ("dronekit_plzen.web.cli", "web", "Web portal: start it, manage its accounts."),
}


class LocalisedOption(click.Option):
    """An option of the root group, its help translated when shown rather than when defined.

    This module is imported before ``--lang`` is read, so ``_()`` here would always be English;
    the sub-command modules are imported lazily, after :func:`main` chose the language, and wrap
    their help in ``_()`` directly.
    """

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown = copy.copy(self)
        shown.help = _(self.help) if self.help else self.help
        return click.Option.get_help_record(shown, ctx)


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use.

    Its own help, options and command list are translated when shown (see
    :class:`LocalisedOption`).
    """

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        shown = copy.copy(self)
        shown.help = _(self.help) if self.help else self.help
        click.Group.format_help_text(shown, ctx, formatter)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:  # a command added with add_command (plugins, tests)
            return self.commands.get(cmd_name)
        module, attr, _help = entry
        mod = importlib.import_module(module)
        cmd = getattr(mod, attr)
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{module}.{attr} is not a click command")
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, _(COMMANDS[name][2]) if name in COMMANDS else self.commands[name].help or "")
            for name in self.list_commands(ctx)
        ]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)


def _setup_logging(verbose: int, debug: bool) -> None:
    level = logging.DEBUG if debug or verbose >= 2 else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


#: a root-group option: its help is translated when shown
root_option = functools.partial(click.option, cls=LocalisedOption)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__,
    "-V",
    "--version",
    prog_name="dronekit-plzen",
    cls=LocalisedOption,
    help="Show the version and exit.",
)
@root_option("--config", "config_path", type=click.Path(path_type=Path), help="Configuration TOML.")
@root_option("--db", "db_path", type=click.Path(path_type=Path), help="SQLite flight database.")
@root_option("--gcs-system-id", type=int, help="Our MAVLink system id (default 255).")
@root_option("--camera-dir", type=click.Path(path_type=Path), help="Extra camera profiles.")
@root_option("--vehicle-dir", type=click.Path(path_type=Path), help="Extra vehicle profiles.")
@root_option("--zones", "zones_file", type=click.Path(path_type=Path), help="Geozones file.")
@root_option("--dem", "dem_file", type=click.Path(path_type=Path), help="Terrain GeoTIFF.")
@root_option("--lang", type=click.Choice(["en", "cs"]), help="Language of messages.")
@root_option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@root_option("-q", "--quiet", is_flag=True, help="Only results and errors.")
@root_option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: Path | None,
    verbose: int,
    quiet: bool,
    debug: bool,
    **flags: Any,
) -> None:
    """dronekit-plzen: the SITMP drone unit's toolkit for IZS missions, telemetry and LiDAR."""
    cfg = load_config(config_path, **flags)
    set_language(cfg.lang)
    _setup_logging(verbose, debug)
    ctx.obj = AppContext(config=cfg, debug=debug, quiet=quiet)


#: Click's modules that look their messages up through a module-level ``_``/``ngettext``
_CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types")


def _click_speaks_our_language() -> None:
    """Click's own messages (usage errors, help headings, prompts) go through the project's
    translation layer (catalogue ``click.po``): each Click module calls its module-level
    ``_``/``ngettext`` when it builds a message, which now are :mod:`dronekit_plzen.i18n`'s."""
    from dronekit_plzen import i18n

    for name in _CLICK_MODULES:
        mod = importlib.import_module(f"click.{name}")
        if hasattr(mod, "_"):
            mod._ = i18n.gettext  # type: ignore[attr-defined]
        if hasattr(mod, "ngettext"):
            mod.ngettext = i18n.ngettext  # type: ignore[attr-defined]


_click_speaks_our_language()


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("DKP_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point. Returns (and exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Language for messages printed before the group callback runs (usage errors).
    with contextlib.suppress(DronekitPlzenError):
        set_language(load_config().lang)
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args):
            set_language(args[i + 1])
        elif a.startswith("--lang="):
            set_language(a.split("=", 1)[1])
    try:
        with guarded_inputs():  # no command writes over a file it reads
            rv = cli.main(args=args, prog_name="dronekit-plzen", standalone_mode=False)
        # without standalone mode click *returns* the code of a click.exceptions.Exit
        code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
    except click.exceptions.Exit as exc:
        code = int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo(_("Aborted."), err=True)
        code = 130
    except click.UsageError as exc:  # one line: the problem, then where to look
        where = exc.ctx.command_path if exc.ctx is not None else "dronekit-plzen"
        hint = _("see '{cmd} --help'").format(cmd=where)
        message = " ".join(exc.format_message().split())
        click.echo(f"{_('error')}: {message} ({hint})", err=True)
        code = exc.exit_code
    except click.ClickException as exc:
        click.echo(f"{_('error')}: {' '.join(exc.format_message().split())}", err=True)
        code = exc.exit_code
    except DronekitPlzenError as exc:
        if _debug_requested(args):
            traceback.print_exc()
        click.echo(f"{_('error')}: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo(_("Interrupted."), err=True)
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # the CLI boundary: no traceback unless asked
        if _debug_requested(args):
            traceback.print_exc()
        hint = _("run with --debug for details")
        click.echo(f"{_('internal error')}: {type(exc).__name__}: {exc} ({hint})", err=True)
        code = 1
    if argv is None:
        sys.exit(code)
    return code
