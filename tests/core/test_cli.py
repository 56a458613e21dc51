"""The CLI frame: --help everywhere, --version, errors as one line with the right exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dronekit_plzen.cli.main import COMMANDS, cli, main


def _walk(cmd: click.Command, path: list[str]) -> list[list[str]]:
    out = [path]
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, f"{' '.join([*path, name])} is listed but cannot be loaded"
            out.extend(_walk(sub, [*path, name]))
    return out


ALL_COMMANDS = _walk(cli, [])


def test_every_top_level_group_of_the_design_exists() -> None:
    expected = {
        "plan",
        "sim",
        "fly",
        "status",
        "record",
        "import",
        "flights",
        "report",
        "lidar",
        "gui",
        "demo",
    }
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "<root>")
def test_help_everywhere(path: list[str]) -> None:
    res = CliRunner().invoke(cli, [*path, "--help"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def test_version() -> None:
    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0 and "dronekit-plzen, version 0.1.0" in res.output


def _run(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("gcs_system_id = 999\n")
    r = _run("--config", str(cfg), "flights", "--help")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert str(cfg) in lines[0] and "1..255" in lines[0]
    assert "Traceback" not in r.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    r = _run("--debug", "--config", str(tmp_path / "missing.toml"), "flights", "--help")
    assert r.returncode == 2
    assert "Traceback" in r.stderr and "configuration file not found" in r.stderr


def test_usage_error_exit_code_and_czech_message(tmp_path: Path) -> None:
    assert main(["no-such-command"]) == 2
    cfg = tmp_path / "bad.toml"
    cfg.write_text("gcs_system_id = 0\n")
    r = _run("--lang", "cs", "--config", str(cfg), "flights", "--help")
    assert r.returncode == 2 and r.stderr.startswith("chyba: ")


def test_nothing_outside_gui_imports_qt() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "for pkg in ['dronekit_plzen', 'missions', 'telemetry', 'lidar', 'simulators']:\n"
        "    m = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(m.__path__, pkg + '.'):\n"
        "        if not info.name.endswith('__main__'):\n"
        "            importlib.import_module(info.name)\n"
        "qt = ('PyQt5', 'PySide2', 'PySide6', 'PyQt6')\n"
        "bad = [k for k in sys.modules if k.split('.')[0] in qt]\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"Qt imported outside gui/: {r.stdout}"


def test_click_exit_code_is_kept() -> None:
    @click.command(name="exit-three")
    def exit_three() -> None:
        raise click.exceptions.Exit(3)

    cli.add_command(exit_three)
    try:
        assert main(["exit-three"]) == 3
    finally:
        cli.commands.pop("exit-three", None)
