"""Every user-facing string of lidar/ has a Czech translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_lidar_strings_translated_to_czech() -> None:
    ids = {
        msg
        for _f, _l, msg, _c, _ctx in extract_from_dir(
            str(ROOT / "lidar"), keywords={"_": None}, method_map=[("**.py", "python")]
        )
    }
    po = ROOT / "dronekit_plzen" / "locale" / "cs" / "LC_MESSAGES" / "lidar.po"
    with po.open("rb") as fh:
        cat = read_po(fh, locale="cs")
    missing = sorted(i for i in ids if not (cat.get(i) and cat.get(i).string))
    assert not missing, missing
    for i in ids:
        s = cat.get(i).string
        assert set(re.findall(r"\{[^}]*\}", i)) == set(re.findall(r"\{[^}]*\}", s)), i
