"""The one translation layer: English by default, Czech where a person reads the text.

Catalogues are gettext ``.po`` files in ``dronekit_plzen/locale/<lang>/LC_MESSAGES/``, one per
package (``core.po``, ``missions.po``, ...) so that each package owns its own strings. They are
read with Babel on first use (no compiled ``.mo`` files to keep in step).

Usage::

    from dronekit_plzen.i18n import _
    raise BadInputError(_("polygon ring is not closed"))

The language is chosen by :func:`set_language` (the CLI does it from ``--lang``/config/``LANG``).
"""

from __future__ import annotations

import gettext as _gettext
import string
import threading
from importlib import resources
from typing import Any

_lock = threading.Lock()
_catalogs: dict[str, _gettext.NullTranslations] = {}
_current: _gettext.NullTranslations = _gettext.NullTranslations()
_current_lang = "en"

LANGUAGES = ("en", "cs")


class _CzechFormatter(string.Formatter):
    """Numbers formatted with a group separator (``{n:,}``, ``{km:,.1f}``) in Czech style:
    a no-break space between the thousands and a decimal comma ("1 843,5", not "1,843.5",
    which a Czech reader takes for 1.8435). Other fields keep their English form."""

    def format_field(self, value: Any, format_spec: str) -> str:
        text = super().format_field(value, format_spec)
        if "," in format_spec and isinstance(value, int | float) and not isinstance(value, bool):
            return text.replace(",", "\u00a0").replace(".", ",")
        return text


_CZECH_FORMATTER = _CzechFormatter()


class _CzechText(str):
    """A Czech message whose :meth:`format` writes grouped numbers the Czech way."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> str:
        return _CZECH_FORMATTER.vformat(str(self), args, kwargs)


class _POTranslations(_gettext.NullTranslations):
    def __init__(self, messages: dict[str, str], plurals: dict[str, tuple[str, ...]], plural_expr):  # type: ignore[no-untyped-def]
        super().__init__()
        self._messages = messages
        self._plurals = plurals
        self._plural_expr = plural_expr

    def gettext(self, message: str) -> str:
        return _CzechText(self._messages.get(message) or message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        forms = self._plurals.get(msgid1)
        if not forms:
            return _CzechText(msgid1 if n == 1 else msgid2)
        idx = int(self._plural_expr(n))
        return _CzechText(forms[min(idx, len(forms) - 1)] or (msgid1 if n == 1 else msgid2))


def _cs_plural(n: int) -> int:
    # Czech: 1 → form 0; 2–4 → form 1; otherwise form 2
    if n == 1:
        return 0
    if 2 <= n <= 4:
        return 1
    return 2


def _load(lang: str) -> _gettext.NullTranslations:
    if lang == "en":
        return _gettext.NullTranslations()
    from babel.messages.pofile import read_po

    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    folder = resources.files("dronekit_plzen").joinpath("locale", lang, "LC_MESSAGES")
    if folder.is_dir():
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if not entry.name.endswith(".po"):
                continue
            with entry.open("rb") as fh:
                cat = read_po(fh, locale=lang)
            for msg in cat:
                if not msg.id or msg.fuzzy:
                    continue
                if isinstance(msg.id, tuple | list):
                    forms = tuple(msg.string) if isinstance(msg.string, tuple | list) else ()
                    if any(forms):
                        plurals[msg.id[0]] = forms
                elif msg.string:
                    messages[msg.id] = str(msg.string)
    return _POTranslations(messages, plurals, _cs_plural)


def set_language(lang: str) -> None:
    """Switch the language of every message produced from now on (``en`` or ``cs``)."""
    global _current, _current_lang
    catalogue = translations(lang)
    with _lock:
        _current = catalogue
        _current_lang = _normalise(lang)


def translations(lang: str) -> _gettext.NullTranslations:
    """The catalogue of ``lang`` without switching the process-wide language (a web request
    in Czech next to one in English)."""
    lang = _normalise(lang)
    with _lock:
        if lang not in _catalogs:
            _catalogs[lang] = _load(lang)
        return _catalogs[lang]


def _normalise(lang: str) -> str:
    """``cs_CZ.UTF-8`` -> ``cs``; an unknown language -> ``en``."""
    lang = (lang or "en").split("_")[0].lower()
    return lang if lang in LANGUAGES else "en"


def get_language() -> str:
    return _current_lang


def gettext(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _current.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate with the plural form for ``n`` (Czech has three)."""
    return _current.ngettext(singular, plural, n)


_ = gettext

__all__ = [
    "LANGUAGES",
    "_",
    "get_language",
    "gettext",
    "ngettext",
    "set_language",
    "translations",
]
