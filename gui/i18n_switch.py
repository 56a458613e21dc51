"""Switch the GUI's language at run time: every static text translated again, state kept.

Widgets keep no message ids, so a text shown in the old language is looked up in that
language's catalogues (``dronekit_plzen/locale/<lang>/LC_MESSAGES/*.po``) to find its English
message id, which is then translated into the new language. Texts built with values (a vehicle
number, a count) are not in any catalogue: the widgets showing them have ``retranslate``
methods of their own, or are rebuilt from their data.
"""

from __future__ import annotations

import functools
from importlib import resources

from PyQt5.QtWidgets import (
    QAbstractButton,
    QAction,
    QComboBox,
    QDockWidget,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTableWidget,
    QTabWidget,
    QWidget,
)

from dronekit_plzen.i18n import _


@functools.lru_cache(maxsize=4)
def reverse_catalogue(lang: str) -> dict[str, str]:
    """Translated text → English message id, from every catalogue of ``lang`` ("en": empty)."""
    if lang == "en":
        return {}
    from babel.messages.pofile import read_po

    out: dict[str, str] = {}
    folder = resources.files("dronekit_plzen").joinpath("locale", lang, "LC_MESSAGES")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as fh:
            cat = read_po(fh, locale=lang)
        for msg in cat:
            if msg.id and not msg.fuzzy and isinstance(msg.id, str) and msg.string:
                out.setdefault(str(msg.string), msg.id)
    return out


class Retranslator:
    """Translates the texts under a widget into the language now set, remembering each text's
    message id (so that two ids sharing one translation, "Plan" and "Planning" both
    "Plánování", come back as they were)."""

    def __init__(self) -> None:
        #: (object id, property, index) → (message id, the text we set)
        self._ids: dict[tuple[int, str, int], tuple[str, str]] = {}

    def text(self, obj: object, prop: str, text: str, old_lang: str, index: int = 0) -> str:
        """``text`` (shown in ``old_lang``) in the current language."""
        if not text:
            return text
        key = (id(obj), prop, index)
        known = self._ids.get(key)
        if known is not None and known[1] == text:
            msgid: str | None = known[0]
        elif old_lang == "en":
            msgid = text
        else:
            msgid = reverse_catalogue(old_lang).get(text)
        if msgid is None:
            return text
        new = _(msgid)
        self._ids[key] = (msgid, new)
        return new

    def _action(self, action: QAction, old: str) -> None:
        if not action.isSeparator():
            action.setText(self.text(action, "text", action.text(), old))
            action.setToolTip(self.text(action, "tip", action.toolTip(), old))
        menu = action.menu()
        if menu is not None:
            menu.setTitle(self.text(menu, "title", menu.title(), old))

    def run(self, root: QWidget, old_lang: str) -> None:
        """Translate every static text under ``root`` (shown in ``old_lang``) into the current
        language: labels, buttons, group boxes, placeholders, combo items, tabs, table headers,
        docks, menus, actions and tooltips."""
        t = self.text
        old = old_lang
        for w in [root, *root.findChildren(QWidget)]:
            if w.toolTip():
                w.setToolTip(t(w, "tip", w.toolTip(), old))
            if (isinstance(w, QLabel) and not w.pixmap()) or isinstance(w, QAbstractButton):
                w.setText(t(w, "text", w.text(), old))
            elif isinstance(w, QGroupBox):
                w.setTitle(t(w, "title", w.title(), old))
            elif isinstance(w, QLineEdit | QPlainTextEdit):
                w.setPlaceholderText(t(w, "placeholder", w.placeholderText(), old))
            elif isinstance(w, QComboBox):
                for i in range(w.count()):
                    w.setItemText(i, t(w, "item", w.itemText(i), old, i))
            elif isinstance(w, QTabWidget):
                for i in range(w.count()):
                    w.setTabText(i, t(w, "tab", w.tabText(i), old, i))
            elif isinstance(w, QTableWidget):
                for i in range(w.columnCount()):
                    item = w.horizontalHeaderItem(i)
                    if item is not None:
                        item.setText(t(w, "header", item.text(), old, i))
            elif isinstance(w, QMenu):
                w.setTitle(t(w, "title", w.title(), old))
            elif isinstance(w, QDockWidget):
                w.setWindowTitle(t(w, "window", w.windowTitle(), old))
        root.setWindowTitle(t(root, "window", root.windowTitle(), old))
        for action in root.findChildren(QAction):
            self._action(action, old)
