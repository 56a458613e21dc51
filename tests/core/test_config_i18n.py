"""Configuration precedence and the translation layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from dronekit_plzen import i18n
from dronekit_plzen.config import default_config_path, load_config
from dronekit_plzen.errors import ConfigError


def _write_cfg(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "dronekit-plzen" / "config.toml"
    p.parent.mkdir(parents=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    _write_cfg(tmp_path, 'db_path = "/from/file.db"\ngcs_system_id = 200\nlang = "cs"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    cfg = load_config(env=env)
    assert cfg.db_path == Path("/from/file.db") and cfg.gcs_system_id == 200 and cfg.lang == "cs"
    env["DKP_GCS_SYSTEM_ID"] = "201"
    env["DKP_DB"] = "/from/env.db"
    cfg = load_config(env=env)
    assert cfg.gcs_system_id == 201 and cfg.db_path == Path("/from/env.db")
    assert cfg.lang == "cs"  # from the file, not overridden
    cfg = load_config(env=env, gcs_system_id=202, db_path=None)
    assert cfg.gcs_system_id == 202 and cfg.db_path == Path("/from/env.db")


def test_defaults_without_file(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "none"), "HOME": str(tmp_path), "LANG": "cs_CZ.UTF-8"}
    cfg = load_config(env=env)
    assert cfg.gcs_system_id == 255
    assert cfg.lang == "cs"
    assert cfg.db_path.name == "flights.db"
    assert default_config_path(env) == tmp_path / "none" / "dronekit-plzen" / "config.toml"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("gcs_system_id = 300\n", "1..255"),
        ("colour = 'red'\n", "unknown setting 'colour'"),
        ("db_path = \n", "invalid TOML"),
        ("lang = 'de'\n", "'en' or 'cs'"),
    ],
)
def test_bad_config_names_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    p = _write_cfg(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_config(env={"XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert fragment in str(ei.value)
    assert str(p) in str(ei.value)


def test_bad_env_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$DKP_GCS_SYSTEM_ID"):
        load_config(env={"HOME": str(tmp_path), "DKP_GCS_SYSTEM_ID": "abc"})


def test_czech_catalogue_and_plurals() -> None:
    try:
        i18n.set_language("cs")
        assert i18n._("error") == "chyba"
        assert i18n.ngettext("drone", "drones", 1) == "dron"
        assert i18n.ngettext("drone", "drones", 3) == "drony"
        assert i18n.ngettext("drone", "drones", 5) == "dronů"
        assert i18n._("a string nobody translated") == "a string nobody translated"
    finally:
        i18n.set_language("en")
    assert i18n._("error") == "error"
    assert i18n.ngettext("drone", "drones", 5) == "drones"


def test_every_po_file_parses_and_has_no_empty_duplicates() -> None:
    from importlib import resources

    from babel.messages.pofile import read_po

    folder = resources.files("dronekit_plzen").joinpath("locale", "cs", "LC_MESSAGES")
    names = [p.name for p in folder.iterdir() if p.name.endswith(".po")]
    assert "core.po" in names
    for name in names:
        with folder.joinpath(name).open("rb") as fh:
            cat = read_po(fh, locale="cs")
        untranslated = [m.id for m in cat if m.id and not m.string]
        assert not untranslated, f"{name}: untranslated {untranslated[:5]}"
