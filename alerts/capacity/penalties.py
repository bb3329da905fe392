"""The fine counter (dwangsom): what a location owes for nights above its cap.

A scheme is a court order: an amount per night above the cap, from a first night, up to a maximum
total. Each newest occupancy report over the cap counts one night for every scheme in force on
that date, until the scheme's maximum is reached. Ter Apel's two court orders are the defaults
(see ``DEFAULT_SCHEMES``).

Pure; imports nothing from ``alerts``. Must not import httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["DEFAULT_SCHEMES", "PenaltyScheme", "PenaltyTally", "accrue"]


@dataclass(frozen=True, slots=True)
class PenaltyScheme:
    name: str
    location_id: str
    amount_per_night: int
    first_night: dt.date  # the report date of the first night that counts (morning after)
    maximum: int
    source: str = ""


#: Rechtbank Noord-Nederland, 23 Jan 2024 (KG ZA 23-241): EUR 15,000 a night above 2,000 from the
#: night of 21->22 Feb 2024, at most EUR 1.5 million. Ruling of 30 Oct 2024: EUR 50,000 a day
#: above 2,000 from two weeks after the ruling (13 Nov 2024), at most EUR 5 million. That ruling
#: also counts people present only during the day; from morning counts we cannot see them, so the
#: counter here is a lower bound.
DEFAULT_SCHEMES: Final = (
    PenaltyScheme(
        "ter-apel-2024-01",
        "ter-apel",
        15_000,
        dt.date(2024, 2, 22),
        1_500_000,
        "Rechtbank Noord-Nederland 23-01-2024, KG ZA 23-241",
    ),
    PenaltyScheme(
        "ter-apel-2024-10",
        "ter-apel",
        50_000,
        dt.date(2024, 11, 13),
        5_000_000,
        "Rechtbank Noord-Nederland 30-10-2024",
    ),
)


@dataclass(frozen=True, slots=True)
class PenaltyTally:
    scheme: str
    nights: int = 0
    accrued: int = 0
    last_night: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "nights": self.nights,
            "accrued": self.accrued,
            "last_night": self.last_night.isoformat() if self.last_night else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PenaltyTally:
        last = data.get("last_night")
        return cls(
            data["scheme"],
            int(data.get("nights", 0)),
            int(data.get("accrued", 0)),
            dt.date.fromisoformat(last) if last else None,
        )


def accrue(
    tallies: Mapping[str, PenaltyTally],
    schemes: Sequence[PenaltyScheme],
    *,
    location_id: str,
    date: dt.date,
    over_cap: bool,
) -> dict[str, PenaltyTally]:
    """Count the night before ``date`` for every scheme of this location that is in force.

    A date is counted once (replays and same-day corrections add nothing); amounts stop at the
    scheme's maximum.
    """
    result = dict(tallies)
    for scheme in schemes:
        if scheme.location_id != location_id:
            continue
        tally = result.get(scheme.name, PenaltyTally(scheme.name))
        if not over_cap or date < scheme.first_night:
            result[scheme.name] = tally
            continue
        if tally.last_night is not None and date <= tally.last_night:
            continue
        accrued = min(scheme.maximum, tally.accrued + scheme.amount_per_night)
        result[scheme.name] = PenaltyTally(scheme.name, tally.nights + 1, accrued, date)
    return result
