"""The portal's display names of codes (states, organisations, categories, ...), translatable.

The codes are the database's; the English names here are the message ids of ``web.po``.
"""

from __future__ import annotations

from collections.abc import Callable

LABELS: dict[str, dict[str, str]] = {
    "state": {
        "requested": "Requested",
        "accepted": "Accepted",
        "in_progress": "In flight",
        "completed": "Completed",
        "cancelled": "Cancelled",
        "refused": "Refused",
    },
    "organisation": {
        "HZS": "Fire and Rescue Service (HZS)",
        "PCR": "Police of the Czech Republic (PČR)",
        "ZZS": "Emergency Medical Service (ZZS)",
        "KRIZ": "City crisis staff",
    },
    "category": {
        "sar": "Search and rescue",
        "fire": "Fire",
        "flood": "Flood",
        "accident": "Accident",
        "exercise": "Exercise",
    },
    "urgency": {
        "immediate": "immediate (lives at risk)",
        "urgent": "urgent (within the hour)",
        "routine": "routine (planned)",
    },
    "subject": {
        "child": "child",
        "elderly": "elderly person",
        "dementia": "person with dementia",
        "hiker": "hiker",
        "despondent": "despondent person",
        "other": "other",
    },
    "role": {"requester": "requester", "pilot": "pilot", "admin": "administrator"},
}


def label(t: Callable[[str], str], kind: str, code: str | None) -> str:
    """The translated display name of ``code`` (the code itself when unknown)."""
    if code is None:
        return "—"
    text = LABELS.get(kind, {}).get(code)
    return t(text) if text else code
