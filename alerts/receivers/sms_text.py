"""The SMS text: an alert change as one GSM-7 segment (160 septets), Dutch, with the severity or
``Opgelost`` in front, shortened at a word boundary when it would not fit.

Pure. Must not import httpx, faust, aiokafka or ``streams``, nor the other receiver modules.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from alerts.model import AlertEvent, AlertStatus, Severity

__all__ = ["SMS_LIMIT", "gsm7_units", "is_gsm7", "segment_limit", "sms_text", "to_gsm7"]

#: One SMS segment in GSM-7 septets.
SMS_LIMIT: Final = 160


# GSM 03.38 default alphabet (without the escape) and the extension table (two septets each).
_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
# Common non-GSM characters in Dutch text and what to send instead.
_REPLACEMENTS: Final = {
    "…": "...",
    "‘": "'",
    "’": "'",
    "‚": ",",
    "“": '"',
    "”": '"',
    "„": '"',
    "–": "-",
    "—": "-",
    "\u00a0": " ",
    "\t": " ",
    "•": "-",
    "×": "x",
}

#: Septets per part of a concatenated (multi-part) GSM-7 message (the rest is its header).
_PART: Final = 153


def segment_limit(segments: int = 1) -> int:
    """Septets in a message of ``segments`` SMS segments: 160 for one, 153 a part beyond."""
    return SMS_LIMIT if segments <= 1 else _PART * segments


_PREFIX: Final = {
    Severity.CRITICAL: "KRITIEK: ",
    Severity.WARNING: "Waarschuwing: ",
    Severity.INFO: "Info: ",
}
_RESOLVED_PREFIX: Final = "Opgelost: "
_ELLIPSIS: Final = "..."


def _units(char: str) -> int | None:
    if char in _GSM_BASIC:
        return 1
    if char in _GSM_EXTENSION:
        return 2
    return None


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 default alphabet or its extension table."""
    return all(_units(c) is not None for c in text)


def gsm7_units(text: str) -> int:
    """Length in septets (extension characters count twice); ValueError for a non-GSM character."""
    total = 0
    for char in text:
        units = _units(char)
        if units is None:
            raise ValueError(f"not GSM-7: {char!r}")
        total += units
    return total


def to_gsm7(text: str) -> str:
    """``text`` with every character GSM-7 cannot send replaced: quotes and dashes by their ASCII
    kin, accented letters by their base letter (``ë`` -> ``e``), anything else by ``?``."""
    out: list[str] = []
    for char in text:
        if _units(char) is not None:
            out.append(char)
            continue
        if char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and is_gsm7(base) else "?")
    return "".join(out)


def _truncate(text: str, limit: int) -> str:
    """At most ``limit`` septets, cut at a word boundary where one is near, ending in ``...``."""
    if gsm7_units(text) <= limit:
        return text
    budget = limit - len(_ELLIPSIS)
    used = 0
    cut = 0
    for i, char in enumerate(text):
        units = _units(char) or 1
        if used + units > budget:
            break
        used += units
        cut = i + 1
    head = text[:cut]
    space = head.rfind(" ")
    if space >= budget * 0.6:
        head = head[:space]
    return head.rstrip(" ,;:-(") + _ELLIPSIS


def sms_text(event: AlertEvent, limit: int = SMS_LIMIT) -> str:
    """One SMS segment of Dutch: ``KRITIEK: <summary>`` or ``Opgelost: <summary>``, in GSM-7 and at
    most ``limit`` septets (shortened at a word boundary with ``...`` when it would not fit)."""
    prefix = _RESOLVED_PREFIX if event.status is AlertStatus.RESOLVED else _PREFIX[event.severity]
    body = to_gsm7(" ".join(event.summary.split()))
    return _truncate(prefix + body, limit)
