"""Locations summed: what one location contributes to its province for a day
(:class:`Contribution`, with :class:`MemberStatus` for its freshness), and the totals of a
province or the nation (:func:`sum_contributions`).

Pure; imports only ``alerts.model`` and ``alerts.capacity.location``. Must not import httpx,
faust, aiokafka or ``streams``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from alerts.capacity.location import Flows, LocationState, days_until_full
from alerts.frozen import quick_init
from alerts.model import Location

__all__ = [
    "Contribution",
    "MemberStatus",
    "Totals",
    "contribution",
    "has_intake",
    "sum_contributions",
]

_ONE_DAY: Final = dt.timedelta(days=1)


@quick_init
@dataclass(frozen=True, slots=True)
class MemberStatus:
    """How fresh one location's figures are, as a province passes it on to the nation."""

    location_id: str
    name: str
    municipality_code: str | None
    date: dt.date

    def to_dict(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "name": self.name,
            "municipality_code": self.municipality_code,
            "date": self.date.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemberStatus:
        if data.keys() == _MEMBER_FIELDS:  # the usual case, made without a dict of keywords
            date = dt.date.fromisoformat(data["date"])
            return cls(data["location_id"], data["name"], data["municipality_code"], date)
        # A field missing or unknown: the keywords call names it in its TypeError.
        return cls(**{**data, "date": dt.date.fromisoformat(data["date"])})


_MEMBER_FIELDS: Final = frozenset(("location_id", "name", "municipality_code", "date"))


@quick_init
@dataclass(frozen=True, slots=True)
class Contribution:
    """What one location adds to its province's totals, as of ``date``."""

    location_id: str
    province: str
    date: dt.date
    occupancy: int
    capacity: int
    name: str = ""
    municipality_code: str | None = None
    without_bed: int = 0
    slept_outside: int = 0
    active: bool = True
    asylum: bool = True
    locations: int = 1  # how many locations this share sums (more than 1 for a province)
    arrivals_7d: int = 0
    transfers_out_7d: int = 0
    departures_7d: int = 0
    flow_days: int = 0
    #: False while the intake of the day before ``date`` is still expected: the flows may change.
    final: bool = True
    #: A province's contribution to the nation lists how fresh each of its locations is.
    members: tuple[MemberStatus, ...] = ()

    @property
    def flows(self) -> Flows:
        return Flows(self.arrivals_7d, self.transfers_out_7d, self.departures_7d, self.flow_days)

    def to_dict(self) -> dict[str, Any]:
        """Fields at their default are left out: provinces keep dozens of these per location,
        and the changelog gets them on every write (``from_dict`` fills the defaults in). The
        keys come in the order of the fields."""
        out: dict[str, Any] = {
            "location_id": self.location_id,
            "province": self.province,
            "date": self.date.isoformat(),
            "occupancy": self.occupancy,
            "capacity": self.capacity,
        }
        # One test per field against its default (_CONTRIBUTION_DEFAULTS), not a dict of every
        # field filtered afterwards: this runs for each contribution a location sends.
        if self.name != "":
            out["name"] = self.name
        if self.municipality_code is not None:
            out["municipality_code"] = self.municipality_code
        if self.without_bed != 0:
            out["without_bed"] = self.without_bed
        if self.slept_outside != 0:
            out["slept_outside"] = self.slept_outside
        if not self.active:
            out["active"] = self.active
        if not self.asylum:
            out["asylum"] = self.asylum
        if self.locations != 1:
            out["locations"] = self.locations
        if self.arrivals_7d != 0:
            out["arrivals_7d"] = self.arrivals_7d
        if self.transfers_out_7d != 0:
            out["transfers_out_7d"] = self.transfers_out_7d
        if self.departures_7d != 0:
            out["departures_7d"] = self.departures_7d
        if self.flow_days != 0:
            out["flow_days"] = self.flow_days
        if not self.final:
            out["final"] = self.final
        if self.members:
            out["members"] = [m.to_dict() for m in self.members]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contribution:
        members = data.get("members", ())
        listed = tuple(map(MemberStatus.from_dict, members)) if members else tuple(members)
        return cls(**{**data, "date": dt.date.fromisoformat(data["date"]), "members": listed})


#: The defaults :meth:`Contribution.to_dict` leaves out (a test holds them to the dataclass's).
_CONTRIBUTION_DEFAULTS: Final[Mapping[str, Any]] = {
    "name": "",
    "municipality_code": None,
    "without_bed": 0,
    "slept_outside": 0,
    "active": True,
    "asylum": True,
    "locations": 1,
    "arrivals_7d": 0,
    "transfers_out_7d": 0,
    "departures_7d": 0,
    "flow_days": 0,
    "final": True,
    "members": [],
}


def has_intake(state: LocationState) -> bool:
    """Whether this location sends intake reports at all (any in its kept history). Asked for
    every morning count: the index's bound answers it for a location without intake, without
    reading its days."""
    until = state.days_index().intake_until
    if until is None or not state.days or until < state.days[0].date:
        return False
    return any(d.intake_event is not None for d in state.days)


def contribution(
    location: Location, state: LocationState, *, expect_intake: bool = False
) -> Contribution | None:
    """The location's current share of the totals; None before its first occupancy report.

    With ``expect_intake`` (intake reports are part of the feed), and for a location whose history
    holds an intake report, the share of day D is final only once the intake of D-1 is in: a
    province must not close D on flows that the intake topic has not delivered yet. Otherwise
    (no intake expected and none seen for this location) every share is final at once.
    """
    if state.latest_date is None:
        return None
    flows = state.flows(state.latest_date)
    before = state.day(state.latest_date - _ONE_DAY)
    # A location that sends intake reports (one is in its history) waits for the intake of the
    # day before also without ``expect_intake``: its flows are on their way, possibly on an
    # intake topic read behind the occupancy topic (issue 12's skew).
    waiting = (before is None or before.intake_event is None) and (
        expect_intake or has_intake(state)
    )
    # Positional, in the order of the fields (one per morning count; keywords cost more).
    return Contribution(
        location.location_id,
        location.province,
        state.latest_date,
        state.occupancy,
        state.capacity(location),
        location.name,
        location.municipality_code,
        state.without_bed,
        state.slept_outside,
        location.active,
        location.is_asylum,
        1,  # locations
        flows.arrivals,
        flows.transfers_out,
        flows.departures,
        flows.days,
        not waiting,  # final
    )


@quick_init
@dataclass(frozen=True, slots=True)
class Totals:
    """Summed figures over a set of locations (asylum reception only, closed ones left out)."""

    occupancy: int = 0
    capacity: int = 0
    without_bed: int = 0
    slept_outside: int = 0
    locations: int = 0
    date: dt.date | None = None
    flows: Flows = Flows()

    @property
    def free_places(self) -> int:
        return self.capacity - self.occupancy

    @property
    def days_until_full(self) -> float | None:
        return days_until_full(self.free_places, self.flows.net_inflow_per_day)

    @property
    def utilisation(self) -> float | None:
        return self.occupancy / self.capacity if self.capacity else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "occupancy": self.occupancy,
            "capacity": self.capacity,
            "free_places": self.free_places,
            "utilisation": self.utilisation,
            "without_bed": self.without_bed,
            "slept_outside": self.slept_outside,
            "locations": self.locations,
            "date": self.date.isoformat() if self.date else None,
            "arrivals_7d": self.flows.arrivals,
            "transfers_out_7d": self.flows.transfers_out,
            "departures_7d": self.flows.departures,
            "net_inflow_7d": self.flows.net_inflow,
            "days_until_full": self.days_until_full,
        }


def sum_contributions(items: Iterable[Contribution], *, asylum: bool = True) -> Totals:
    """Totals over active locations of one reception stream (asylum, or Ukrainian when False)."""
    occupancy = capacity = without_bed = outside = count = 0
    newest: dt.date | None = None
    flows = Flows()
    for c in items:
        if not c.active or c.asylum != asylum:
            continue
        flows = flows + c.flows
        occupancy += c.occupancy
        capacity += c.capacity
        without_bed += c.without_bed
        outside += c.slept_outside
        count += c.locations
        newest = c.date if newest is None or c.date > newest else newest
    return Totals(occupancy, capacity, without_bed, outside, count, newest, flows)
