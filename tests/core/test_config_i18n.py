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


def test_grouped_numbers_are_written_the_czech_way() -> None:
    """ "1,843 m" reads as 1.843 m to a Czech reader: grouped numbers get a no-break space and a
    decimal comma in Czech messages; other numbers keep their form (coordinates stay 49.7)."""
    msgid = "truncated: the LAZ chunk table is due at byte {at:,}, the file has {size:,} bytes"
    try:
        i18n.set_language("cs")
        text = i18n._(msgid).format(at=536404, size=268210)
        assert "536\u00a0404" in text and "268\u00a0210 bajtů" in text
        km = i18n._(
            "tracks {s:g} m apart over {a:.2f} km² would be about {l:,.0f} km long (at most "
            "{m:,.0f} km in one plan): widen the spacing (altitude, overlap) or split the area"
        )
        assert "12\u00a0020 km" in km.format(s=0.01, a=0.12, l=12020.4, m=2000)
        untranslated = "{x:,.1f}"  # a plain str: untouched
        assert untranslated.format(x=1843.5) == "1,843.5"
        pos = i18n._("item {i}: the position ({lat}, {lon}) is not a latitude/longitude")
        assert "(49.7, 13.5)" in pos.format(i=0, lat=49.7, lon=13.5)
    finally:
        i18n.set_language("en")
    assert i18n._(msgid).format(at=536404, size=268210).endswith("268,210 bytes")
