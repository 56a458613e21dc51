"""``--lang cs``: every command's help and every option's help is Czech.

The sub-command modules wrap their help texts in ``_()`` when they are imported, and the CLI
imports them lazily after choosing the language (``dronekit_plzen.cli.main``). In one pytest
process a module may already have been imported in English, so a help text counts as translated
when it is a Czech msgstr (imported under ``cs``) or an English msgid that has a Czech msgstr
*and* that some CLI source passes to ``_()`` (a docstring or a plain string in the catalogue
would still be shown in English). The root group translates its own texts when shown; its help
is rendered in Czech for real. Everything is checked in-process through click's API, without
Qt (``gui.cli`` imports Qt only when the command runs).
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import click
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from dronekit_plzen import i18n
from dronekit_plzen.cli.main import COMMANDS, cli, main

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("dronekit_plzen", "missions", "telemetry", "lidar", "photo", "gui", "simulators")


def _catalogues() -> dict[str, dict[str, str]]:
    """msgid -> {catalogue file: msgstr} over every Czech catalogue (non-empty, not fuzzy)."""
    folder = resources.files("dronekit_plzen").joinpath("locale", "cs", "LC_MESSAGES")
    out: dict[str, dict[str, str]] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as fh:
            cat = read_po(fh, locale="cs")
        for msg in cat:
            if msg.id and isinstance(msg.id, str) and msg.string and not msg.fuzzy:
                out.setdefault(msg.id, {})[entry.name] = str(msg.string)
    return out


@functools.cache
def _czech() -> tuple[dict[str, str], frozenset[str]]:
    """(msgid -> msgstr as the translation layer merges them, every Czech msgstr)."""
    merged = {k: v[sorted(v)[-1]] for k, v in _catalogues().items()}
    return merged, frozenset(merged.values())


@functools.cache
def _wrapped() -> frozenset[str]:
    """Every msgid some click-using module of the project passes to ``_()``."""
    ids: set[str] = set()
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            if "click" not in path.read_text(encoding="utf-8"):
                continue
            for _line, msg, _comments, _ctx in extract_from_file(
                "python", str(path), keywords={"_": None}
            ):
                if isinstance(msg, str):
                    ids.add(msg)
    return frozenset(ids)


def _walk(
    cmd: click.Command, ctx: click.Context, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)  # LazyGroup: imports the owning module
            assert sub is not None, f"{' '.join((*path, name))} is listed but cannot be loaded"
            yield from _walk(sub, click.Context(sub, info_name=name, parent=ctx), (*path, name))


def _texts(cmd: click.Command) -> Iterator[tuple[str, str]]:
    """(what, text) for the command's help and each visible option's help."""
    yield "help", inspect.cleandoc(cmd.help or "")  # a docstring keeps its indentation
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden and param.help:
            yield "/".join(param.opts), param.help


@functools.cache
def _templates() -> tuple[re.Pattern[str], ...]:
    """Translated msgids with ``{placeholders}`` passed to ``_()``, and their msgstrs, as
    patterns: a help built with ``_("... {k}.").format(k=...)`` matches one of them."""
    merged, _czech_values = _czech()
    out = []
    for msgid in _wrapped():
        if "{" in msgid and msgid in merged:
            for template in (msgid, merged[msgid]):
                parts = re.split(r"\{[^}]*\}", template)
                out.append(re.compile(".+".join(re.escape(p) for p in parts), re.S))
    return tuple(out)


def _problem(text: str, *, needs_wrap: bool) -> str | None:
    merged, czech = _czech()
    if not text.strip():
        return "no help text"
    if text in czech:
        return None
    if needs_wrap and any(t.fullmatch(text) for t in _templates()):
        return None
    if text not in merged:
        return "not in the Czech catalogues"
    if needs_wrap and text not in _wrapped():
        return "in a catalogue but not passed to _() (a docstring or a plain string?)"
    return None


@pytest.fixture
def czech_imports() -> Iterator[None]:
    """Modules first imported by this test see Czech, as under ``--lang cs``."""
    before = i18n.get_language()
    i18n.set_language("cs")
    try:
        yield
    finally:
        i18n.set_language(before)


@pytest.mark.usefixtures("czech_imports")
def test_every_command_and_option_help_is_translated() -> None:
    root_ctx = click.Context(cli, info_name="dronekit-plzen")
    misses: list[str] = []
    n_commands = 0
    for path, cmd in _walk(cli, root_ctx):
        n_commands += 1
        # the root group translates its texts when shown: no _() needed in its source
        needs_wrap = bool(path)
        for what, text in _texts(cmd):
            why = _problem(text, needs_wrap=needs_wrap)
            if why:
                where = " ".join(("dronekit-plzen", *path))
                misses.append(f"{where} {what}: {why}: {text[:70]!r}")
    for name, (_module, _attr, one_line) in COMMANDS.items():
        why = _problem(one_line, needs_wrap=False)
        if why:
            misses.append(f"dronekit-plzen command list, {name}: {why}: {one_line!r}")
    assert n_commands > 50, n_commands
    assert not misses, f"{len(misses)} help texts not translated:\n" + "\n".join(misses)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_root_help_renders_in_czech(capsys: pytest.CaptureFixture[str]) -> None:
    before = i18n.get_language()
    try:
        assert main(["--lang", "cs", "--help"]) == 0
    finally:
        i18n.set_language(before)
    out = _flat(capsys.readouterr().out)
    merged, _czech_values = _czech()
    expected = [cli.help or ""] + [p.help for p in cli.params if isinstance(p, click.Option)]
    expected += [entry[2] for entry in COMMANDS.values()]
    missing = [t for t in expected if t and _flat(merged.get(t, t)) not in out]
    assert not missing, f"not shown in Czech: {missing}"
    assert "Příkazy" in out


def test_one_translation_per_msgid_across_catalogues() -> None:
    """A msgid translated differently by two packages shows only one of them (the catalogues
    are merged): one term per concept."""
    clashes = {
        msgid: by_file for msgid, by_file in _catalogues().items() if len(set(by_file.values())) > 1
    }
    assert not clashes, clashes


def test_help_placeholders_survive_translation() -> None:
    """A translated help keeps the option names and ``{placeholders}`` of its msgid."""
    merged, _czech_values = _czech()
    bad = []
    for msgid in _wrapped():
        text = merged.get(msgid)
        if text is None:
            continue
        for pattern in (r"\{[^}]*\}", r"--[a-z][a-z0-9-]+"):
            if sorted(re.findall(pattern, msgid)) != sorted(re.findall(pattern, text)):
                bad.append((msgid, text))
                break
    assert not bad, bad


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process (Click keeps a command's built --help option per process)."""
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LANG": "C.UTF-8"},
    )


CLICK_CASES = [
    # (arguments, the Czech line's words, the English line's words)
    (["plan", "poa", "--bogus"], "Volba '--bogus' neexistuje.", "No such option '--bogus'."),
    (["plan", "poa"], "Chybí volba '--poa'.", "Missing option '--poa'."),
    (
        ["plan", "poa", "--drones", "x"],
        "Neplatná hodnota pro '--drones': 'x' není platné číslo (integer).",
        "Invalid value for '--drones': 'x' is not a valid integer.",
    ),
    (["bogus"], "Příkaz 'bogus' neexistuje.", "No such command 'bogus'."),
]


@pytest.mark.parametrize(("args", "czech", "english"), CLICK_CASES, ids=lambda v: str(v)[:24])
def test_click_usage_errors_speak_the_chosen_language(args, czech, english) -> None:
    """Click's own usage errors go through the translation layer: one Czech line under
    ``--lang cs`` (no English mixed in), the same problem in English without it; exit 2."""
    cs, en = _cli("--lang", "cs", *args), _cli("--lang", "en", *args)
    assert cs.returncode == 2 and en.returncode == 2
    (cs_line,) = cs.stderr.strip().splitlines()
    (en_line,) = en.stderr.strip().splitlines()
    assert cs_line.startswith("chyba: ") and czech in cs_line, cs_line
    assert en_line.startswith("error: ") and english in en_line, en_line


def test_click_help_headings_are_czech() -> None:
    run = _cli("--lang", "cs", "plan", "--help")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith("Použití: ")
    assert "\nVolby:\n" in out and "\nPříkazy:\n" in out
    assert "Vypsat tuto nápovědu a skončit." in out
    assert "Usage:" not in out and "Show this message" not in out
