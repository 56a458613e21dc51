"""Portal accounts beyond creating them: look-alike names, disabling, a new password.

* **Look-alike names.** A new user name is compared with every existing one (disabled accounts
  too) by its *skeleton*: NFKC-normalised and case-folded (``HZS1`` = ``hzs1``, a full-width
  ``ｈｚｓ１`` = ``hzs1``), then the Cyrillic and Greek letters that look like Latin ones, ``0``
  and ``1``, ``rn`` and ``vv`` read as ``o``, ``l``, ``m`` and ``w`` (a small part of the
  confusables of Unicode TR 39, enough for names typed on a Czech keyboard). A name whose
  letters come from more than one script (a Cyrillic ``а`` among Latin letters) is refused
  outright. Names already stored are left alone: the check is at creation.
* **Disabling** sets ``web_users.active`` to 0: the account cannot sign in (its name answers
  like an unknown one) and its open sessions stop at their next request. Enabling it again does
  not revive them: a session signed in before the last ``user_disabled`` or ``password_set``
  entry of its account is over (:func:`session_revoked`).
* **A new password** replaces the hash and, likewise, ends the account's open sessions.

Each change is one ``audit_log`` entry (``user_disabled``, ``user_enabled``, ``password_set``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from telemetry import requests as rq
from telemetry.schema import utc_now_iso
from telemetry.store import Store

#: look-alike letters → the Latin letter they pass for (after case folding)
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
        "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "ԛ": "q",
        "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԝ": "w", "ԁ": "d", "ү": "y", "ɡ": "g",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "c", "σ": "o",
        # digits and Latin look-alikes
        "0": "o", "1": "l", "|": "l", "ı": "i",
    }
)  # fmt: skip
#: the scripts whose letters may share a name (Japanese writes Han with kana)
_SAME_SCRIPT = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}
#: the session's sign-in time is compared with these entries of its account
REVOKING_ACTIONS = ("user_disabled", "password_set")


def fold(name: str) -> str:
    """The name as compared: stripped, NFKC-normalised and case-folded (twice NFKC: case
    folding can leave a string that is not normalised)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name.strip()).casefold())


def skeleton(name: str) -> str:
    """What the name looks like: :func:`fold`, look-alike letters read as Latin, marks and
    ``-``/``_``/``.`` kept as they are."""
    text = fold(name).translate(_LOOKALIKES)
    return text.replace("rn", "m").replace("vv", "w")


def scripts(name: str) -> set[str]:
    """The scripts of the name's letters (digits, marks and punctuation belong to none)."""
    found = set()
    for ch in unicodedata.normalize("NFKC", name):
        if not ch.isalpha():
            continue
        try:
            word = unicodedata.name(ch).split()[0]
        except ValueError:
            word = "UNKNOWN"
        found.add(_SAME_SCRIPT.get(word, word))
    return found


def check_new_name(store: Store, name: str) -> None:
    """Refuse a new user name of mixed scripts or confusable with an existing account's."""
    found = scripts(name)
    if len(found) > 1:
        raise BadInputError(
            _(
                "the user name {name!r} mixes letters of several scripts ({scripts}); "
                "use letters of one script"
            ).format(name=name, scripts=", ".join(sorted(s.title() for s in found))),
            where="USERNAME",
        )
    mine = skeleton(name)
    for row in store.query("SELECT username FROM web_users ORDER BY id"):
        other = str(row["username"])
        if other == name.strip():
            continue  # the same name: add_user's "exists already"
        if skeleton(other) == mine:
            raise BadInputError(
                _(
                    "the user name {name!r} can be taken for the existing {other!r} "
                    "(names are compared ignoring case, width and look-alike letters)"
                ).format(name=name, other=other),
                where="USERNAME",
            )


def find_account(store: Store, name: str) -> dict[str, Any]:
    """The account of exactly this name, disabled or not; :class:`BadInputError` when none."""
    rows = store.query(
        "SELECT id, username, role, active FROM web_users WHERE username = ?", (name.strip(),)
    )
    if not rows:
        raise BadInputError(
            _("no account {name!r} (web users list shows them)").format(name=name),
            where="USERNAME",
        )
    return rows[0]


def set_active(store: Store, name: str, active: bool, *, actor: str) -> bool:
    """Enable or disable an account; False when it was so already (nothing is written)."""
    row = find_account(store, name)
    if bool(row["active"]) == active:
        return False
    with store.transaction():
        store.conn.execute(
            "UPDATE web_users SET active = ? WHERE id = ?", (1 if active else 0, int(row["id"]))
        )
        rq.audit(
            store,
            actor,
            "user_enabled" if active else "user_disabled",
            detail={"user": row["username"], "user_id": int(row["id"])},
        )
    return True


def set_password(store: Store, name: str, password_hash: str, *, actor: str) -> None:
    """Give an account a new password (hashed already); its open sessions end."""
    row = find_account(store, name)
    with store.transaction():
        store.conn.execute(
            "UPDATE web_users SET password_hash = ? WHERE id = ?", (password_hash, int(row["id"]))
        )
        rq.audit(
            store,
            actor,
            "password_set",
            detail={"user": row["username"], "user_id": int(row["id"])},
        )


def session_revoked(store: Store, user_id: int, signed_in_seq: int, max_age_s: float) -> bool:
    """True when the account was disabled or given a new password after the session signed in:
    after the audit entry ``signed_in_seq`` (its ``login``; the entries' ``at`` has whole
    seconds only). A session without it, from before this check, counts as signed in long ago.
    """
    return bool(
        store.query(
            "SELECT 1 FROM audit_log WHERE action IN (?, ?) AND at >= ? AND id > ? "
            "AND CASE WHEN json_valid(detail) THEN json_extract(detail, '$.user_id') END = ? "
            "LIMIT 1",
            (*REVOKING_ACTIONS, utc_now_iso(ago_s=max_age_s + 60), signed_in_seq, int(user_id)),
        )
    )
