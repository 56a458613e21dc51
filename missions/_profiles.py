"""Load TOML profiles (cameras, vehicles) shipped in ``missions/data`` plus a user folder."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import tomllib

from dronekit_plzen.errors import BadInputError, ConfigError
from dronekit_plzen.i18n import _

T = TypeVar("T")
DATA_DIR = Path(__file__).resolve().parent / "data"


def norm_key(name: str) -> str:
    """Case-, space- and punctuation-insensitive lookup key."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def load_profiles(
    kind: str, build: Callable[[dict[str, Any], str], T], user_dir: str | Path | None = None
) -> dict[str, T]:
    """Every profile of ``kind`` (``"cameras"``/``"vehicles"``) by its ``key``; user profiles
    in ``user_dir`` (``*.toml``) override shipped ones with the same key."""
    files = sorted((DATA_DIR / kind).glob("*.toml"))
    if user_dir is not None:
        d = Path(user_dir)
        if not d.is_dir():
            raise ConfigError(_("profile folder {d} does not exist").format(d=d))
        files += sorted(d.glob("*.toml"))
    out: dict[str, T] = {}
    for f in files:
        try:
            data = tomllib.loads(f.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                _("cannot read profile: {exc}").format(exc=exc), where=str(f)
            ) from exc
        data.setdefault("key", f.stem)
        out[str(data["key"])] = build(data, str(f))
    return out


def lookup(profiles: dict[str, T], name: str, what: str) -> T:
    """Find a profile by key or name, ignoring case and punctuation (``what``: "camera" or
    "vehicle", named in the user's language)."""
    if name in profiles:
        return profiles[name]
    want = norm_key(name)
    for key, prof in profiles.items():
        if want in (norm_key(key), norm_key(str(getattr(prof, "name", "")))):
            return prof
    raise BadInputError(
        _("unknown {what} {name!r}; known: {profiles}").format(
            what=_(what), name=name, profiles=", ".join(sorted(profiles))
        )
    )


def field_values(data: dict[str, Any], spec: dict[str, type], where: str) -> dict[str, Any]:
    """Typed values of the fields in ``spec`` (missing ones are left out)."""
    out: dict[str, Any] = {}
    for k, typ in spec.items():
        if k not in data:
            continue
        v = data[k]
        try:
            out[k] = typ(v)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                _("field {k!r} must be {type_name}, got {v!r}").format(
                    k=k, type_name=typ.__name__, v=v
                ),
                where=where,
            ) from exc
    return out
