"""Dutch texts for people: numbers and dates as a Dutch reader writes them, one line per alert.

Every summary fits one SMS segment (160 GSM-7 characters) for names up to 40 characters; the tests
render each rule and measure it.

Pure; imports nothing from ``alerts``. Must not import httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Final

__all__ = ["dagen", "nachten", "nl_date", "nl_euro", "nl_int", "nl_pct", "personen", "plaatsen"]

_MONTHS: Final = (
    "jan",
    "feb",
    "mrt",
    "apr",
    "mei",
    "jun",
    "jul",
    "aug",
    "sep",
    "okt",
    "nov",
    "dec",
)


def nl_int(value: float) -> str:
    """``2380`` -> ``"2.380"``: a dot groups thousands in Dutch."""
    number = round(value)
    if -1000 < number < 1000:
        return str(number)  # nothing to group: most figures in a text
    sign = "-" if number < 0 else ""
    return sign + f"{abs(number):,}".replace(",", ".")


def nl_pct(ratio: float) -> str:
    """``0.953`` -> ``"95%"``; one decimal (with a comma) under 10 %. Cut off, never rounded up,
    so a figure just under a threshold never reads as the threshold itself (1,99 % is "1,9%")."""
    pct = round(ratio * 100, 6)  # 0.95 * 100 is 94.99999999999999 in floating point
    if abs(pct) < 10:
        tenths = math.trunc(round(pct * 10, 6))
        whole, frac = divmod(abs(tenths), 10)
        sign = "-" if tenths < 0 else ""
        return f"{sign}{whole},{frac}%" if frac else f"{sign}{whole}%"
    return f"{math.trunc(pct)}%"


def nl_euro(amount: float) -> str:
    return f"€ {nl_int(amount)}"


def nl_date(date: dt.date) -> str:
    """``2022-08-24`` -> ``"24 aug"``."""
    return f"{date.day} {_MONTHS[date.month - 1]}"


def personen(count: float) -> str:
    return f"{nl_int(count)} {'persoon' if round(count) == 1 else 'personen'}"


def dagen(count: float) -> str:
    return f"{nl_int(count)} {'dag' if round(count) == 1 else 'dagen'}"


def plaatsen(count: float) -> str:
    return f"{nl_int(count)} {'plaats' if round(count) == 1 else 'plaatsen'}"


def nachten(count: float) -> str:
    return f"{nl_int(count)} {'nacht' if round(count) == 1 else 'nachten'}"
