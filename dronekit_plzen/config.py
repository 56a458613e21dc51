"""Configuration: TOML file < environment variables < command-line flags.

The file is ``$XDG_CONFIG_HOME/dronekit-plzen/config.toml`` (``~/.config/...`` when the variable
is unset). Keys and their environment variables:

================  ======================  ==============================================
key               environment variable    meaning
================  ======================  ==============================================
db_path           DKP_DB                  SQLite flight database
gcs_system_id     DKP_GCS_SYSTEM_ID       our MAVLink system id (255 by default)
camera_dir        DKP_CAMERA_DIR          folder of extra camera profiles (``*.toml``)
vehicle_dir       DKP_VEHICLE_DIR         folder of extra vehicle profiles (``*.toml``)
zones_file        DKP_ZONES               geozones (ED-269 JSON, ED-318 / plain GeoJSON)
dem_file          DKP_DEM                 terrain model GeoTIFF
lang              DKP_LANG                ``en`` or ``cs`` (falls back to ``LANG``)
max_distance_m    DKP_MAX_DISTANCE_M      VLOS limit: farthest a mission may go from home
basemap_online    DKP_BASEMAP_ONLINE      the GUI fetches missing map tiles from the tile
                                          servers (``true`` by default, still cache- and
                                          pack-first); ``false``/``0``: offline, only the
                                          tile cache and offline packs
================  ======================  ==============================================
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import tomllib

from dronekit_plzen.errors import ConfigError
from dronekit_plzen.i18n import _

ENV_VARS = {
    "db_path": "DKP_DB",
    "gcs_system_id": "DKP_GCS_SYSTEM_ID",
    "camera_dir": "DKP_CAMERA_DIR",
    "vehicle_dir": "DKP_VEHICLE_DIR",
    "zones_file": "DKP_ZONES",
    "dem_file": "DKP_DEM",
    "lang": "DKP_LANG",
    "max_distance_m": "DKP_MAX_DISTANCE_M",
    "basemap_online": "DKP_BASEMAP_ONLINE",
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "dronekit-plzen" / "config.toml"


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local" / "share"
    )
    return Path(base) / "dronekit-plzen"


@dataclass(frozen=True)
class Config:
    """Resolved settings. Immutable: make a changed copy with :func:`dataclasses.replace`."""

    db_path: Path
    gcs_system_id: int = 255
    camera_dir: Path | None = None
    vehicle_dir: Path | None = None
    zones_file: Path | None = None
    dem_file: Path | None = None
    lang: str = "en"
    #: VLOS limit: the farthest a mission may go from home (every door's default; None: no limit)
    max_distance_m: float | None = None
    #: the GUI's basemap fetches missing tiles online (cache and offline packs first)
    basemap_online: bool = True
    source: str = "defaults"

    def with_overrides(self, **flags: Any) -> Config:
        """Apply command-line flags (``None`` means 'not given')."""
        given = {k: v for k, v in flags.items() if v is not None}
        conv = {k: _convert(k, v, "command line") for k, v in given.items()}
        return replace(self, **conv) if conv else self


def _convert(key: str, value: Any, where: str) -> Any:
    if key == "gcs_system_id":
        try:
            v: int = int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                _("gcs_system_id must be a whole number, got {value!r}").format(value=value),
                where=where,
            ) from exc
        if not 1 <= v <= 255:
            raise ConfigError(_("gcs_system_id must be 1..255, got {v}").format(v=v), where=where)
        return v
    if key == "lang":
        lang = str(value).split(".")[0].split("_")[0].lower()
        if lang not in ("en", "cs", "c", "posix", ""):
            raise ConfigError(
                _("language must be 'en' or 'cs', got {value!r}").format(value=value), where=where
            )
        return "cs" if lang == "cs" else "en"
    if key == "max_distance_m":
        try:
            d = float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                _("max_distance_m must be a number of metres, got {value!r}").format(value=value),
                where=where,
            ) from exc
        if not (d > 0 and math.isfinite(d)):
            raise ConfigError(
                _("max_distance_m must be > 0, got {value!r}").format(value=value), where=where
            )
        return d
    if key == "basemap_online":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ConfigError(
            _("basemap_online must be true or false (1/0), got {value!r}").format(value=value),
            where=where,
        )
    if key in ("db_path", "camera_dir", "vehicle_dir", "zones_file", "dem_file"):
        return Path(str(value)).expanduser()
    raise ConfigError(_("unknown setting {key!r}").format(key=key), where=where)


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    **flags: Any,
) -> Config:
    """Resolve the configuration: defaults, then the TOML file, then environment, then flags."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {"db_path": default_data_dir(env) / "flights.db"}
    lang_env = env.get("LC_ALL") or env.get("LANGUAGE") or env.get("LANG")
    if lang_env:
        try:
            values["lang"] = _convert("lang", lang_env.split(":")[0], "LANG")
        except ConfigError:
            values["lang"] = "en"
    sources = ["defaults"]
    cfg_path = path or default_config_path(env)
    if cfg_path.exists():
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                _("invalid TOML: {exc}").format(exc=exc), where=str(cfg_path)
            ) from exc
        known = {f.name for f in fields(Config)} - {"source"}
        for k, v in data.items():
            if k not in known:
                raise ConfigError(
                    _("unknown setting {k!r} (known: {known})").format(
                        k=k, known=", ".join(sorted(known))
                    ),
                    where=str(cfg_path),
                )
            values[k] = _convert(k, v, str(cfg_path))
        sources.append(str(cfg_path))
    elif path is not None:
        raise ConfigError(_("configuration file not found"), where=str(path))
    for key, var in ENV_VARS.items():
        if env.get(var):
            values[key] = _convert(key, env[var], f"${var}")
            if "environment" not in sources:
                sources.append("environment")
    cfg = Config(**values, source=" < ".join(sources))
    return cfg.with_overrides(**flags)
