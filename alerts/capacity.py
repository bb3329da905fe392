"""Capacity arithmetic: applying reports to a location, and summing locations into totals.

A location's state is a value: :func:`apply_occupancy` and :func:`apply_intake` return a new one and
say what happened (applied, duplicate, correction). Rules:

* a repeated ``event_id`` changes nothing;
* a report for a date older than the newest known one is stored as history (a correction) but never
  rolls the current figures back;
* free places are always ``capacity - occupancy`` of the same, newest report, and may go below zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from alerts.model import IntakeReport, Location, OccupancyReport

__all__ = [
    "FLOW_WINDOW",
    "HISTORY_DAYS",
    "Applied",
    "Contribution",
    "DayRecord",
    "Flows",
    "LocationState",
    "MemberStatus",
    "Totals",
    "apply_intake",
    "apply_occupancy",
    "contribution",
    "days_until_full",
    "expected_next_day",
    "flows_as_of",
    "has_intake",
    "sum_contributions",
]

#: How many days of daily records a location keeps: the rules look back at most four weeks and a
#: day; two more weeks leave room for one topic being read ahead of the other, so a late-read day
#: still finds the same history it would have found in date order.
HISTORY_DAYS: Final = 42

#: Days a location holds while some of them still wait for their flow rules (an intake topic read
#: far behind the occupancy topic, or a location that never sends intake).
MAX_HELD_DAYS: Final = 90


# ---------------------------------------------------------------- flows and forecasts

#: Days in a rolling flow window.
FLOW_WINDOW: Final = 7


@dataclass(frozen=True, slots=True)
class Flows:
    """Sums of daily intake figures over the rolling window that ends the day before ``as_of``.

    The morning count of day D sees complete intake days only up to D-1, so that is the window.
    ``days`` says how many of the window's days had an intake report.
    """

    arrivals: int = 0
    transfers_out: int = 0
    departures: int = 0
    days: int = 0

    @property
    def net_inflow(self) -> int:
        """Arrivals minus everyone who left reception or moved on, over the window."""
        return self.arrivals - self.transfers_out - self.departures

    @property
    def net_inflow_per_day(self) -> float | None:
        return self.net_inflow / self.days if self.days else None

    def __add__(self, other: Flows) -> Flows:
        return Flows(
            self.arrivals + other.arrivals,
            self.transfers_out + other.transfers_out,
            self.departures + other.departures,
            max(self.days, other.days),
        )


def flows_as_of(days: Iterable[DayRecord], as_of: dt.date, window: int = FLOW_WINDOW) -> Flows:
    """Rolling intake sums over the ``window`` days before ``as_of`` (as_of itself excluded)."""
    start = as_of - dt.timedelta(days=window)
    arrivals = transfers = departures = count = 0
    for d in days:
        if start <= d.date < as_of and d.intake_event is not None:
            arrivals += d.arrivals
            transfers += d.transfers_out
            departures += d.departures
            count += 1
    return Flows(arrivals, transfers, departures, count)


def days_until_full(free_places: int, net_inflow_per_day: float | None) -> float | None:
    """Free places divided by the daily net inflow; None when the place is not filling up.

    Zero when it is already full or over.
    """
    if net_inflow_per_day is None or net_inflow_per_day <= 0:
        return None
    if free_places <= 0:
        return 0.0
    return free_places / net_inflow_per_day


def expected_next_day(days: Iterable[DayRecord], as_of: dt.date, field_name: str) -> float | None:
    """What a flow figure (``arrivals``, ``transfers_out``) will probably be on ``as_of``.

    The mean of the same weekday over the last four weeks where reported, else the mean of the
    last seven reported days before ``as_of``; None without any intake history.
    """
    by_date = {d.date: d for d in days if d.intake_event is not None and d.date < as_of}
    same_weekday = [
        getattr(by_date[day], field_name)
        for weeks in range(1, 5)
        if (day := as_of - dt.timedelta(weeks=weeks)) in by_date
    ]
    if same_weekday:
        return float(sum(same_weekday)) / len(same_weekday)
    recent = [
        getattr(by_date[day], field_name)
        for back in range(1, FLOW_WINDOW + 1)
        if (day := as_of - dt.timedelta(days=back)) in by_date
    ]
    return float(sum(recent)) / len(recent) if recent else None


class Applied(StrEnum):
    APPLIED = "applied"  # newest (or same-day) figures: current state changed
    CORRECTION = "correction"  # an older date: history corrected, current state untouched
    DUPLICATE = "duplicate"  # this event_id was seen before: nothing changed


@dataclass(frozen=True, slots=True)
class DayRecord:
    """What one location reported for one date (either report may be missing)."""

    date: dt.date
    occupancy_event: str | None = None
    occupancy: int | None = None
    capacity: int | None = None
    without_bed: int = 0
    slept_outside: int = 0
    intake_event: str | None = None
    arrivals: int = 0
    transfers_out: int = 0
    departures: int = 0
    unplaced: int = 0
    #: Every event_id applied to this date, also those a later recount replaced.
    seen: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "seen": list(self.seen),
            "occupancy_event": self.occupancy_event,
            "occupancy": self.occupancy,
            "capacity": self.capacity,
            "without_bed": self.without_bed,
            "slept_outside": self.slept_outside,
            "intake_event": self.intake_event,
            "arrivals": self.arrivals,
            "transfers_out": self.transfers_out,
            "departures": self.departures,
            "unplaced": self.unplaced,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DayRecord:
        return cls(
            **{
                **data,
                "date": dt.date.fromisoformat(data["date"]),
                "seen": tuple(data.get("seen", ())),
            }
        )


@dataclass(frozen=True, slots=True)
class LocationState:
    """Current figures of one location plus its recent daily history.

    ``latest_date`` is the date of the newest occupancy report; ``occupancy``, ``capacity`` and the
    rest are that report's figures. ``capacity_override`` is the last capacity a report gave: it
    replaces the registered capacity from that date on.
    """

    location_id: str
    latest_date: dt.date | None = None
    occupancy: int = 0
    capacity_override: int | None = None
    capacity_override_date: dt.date | None = None
    #: Oldest date the history must keep (set by the engine from the flow rules' progress).
    hold_from: dt.date | None = None
    without_bed: int = 0
    slept_outside: int = 0
    days: tuple[DayRecord, ...] = ()

    def capacity(self, location: Location) -> int:
        return location.capacity if self.capacity_override is None else self.capacity_override

    def free_places(self, location: Location) -> int:
        return self.capacity(location) - self.occupancy

    def as_of(self, date: dt.date) -> LocationState:
        """The state as the morning count of ``date`` left it (for rules that catch up on older
        days): that day's figures and the history up to it."""
        day = self.day(date)
        if day is None or day.occupancy is None:
            raise ValueError(f"no morning count for {date}")
        return replace(
            self,
            latest_date=date,
            occupancy=day.occupancy,
            without_bed=day.without_bed,
            slept_outside=day.slept_outside,
            days=tuple(d for d in self.days if d.date <= date),
        )

    def day(self, date: dt.date) -> DayRecord | None:
        for record in self.days:
            if record.date == date:
                return record
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "latest_date": self.latest_date.isoformat() if self.latest_date else None,
            "occupancy": self.occupancy,
            "capacity_override": self.capacity_override,
            "capacity_override_date": (
                self.capacity_override_date.isoformat() if self.capacity_override_date else None
            ),
            "hold_from": self.hold_from.isoformat() if self.hold_from else None,
            "without_bed": self.without_bed,
            "slept_outside": self.slept_outside,
            "days": [d.to_dict() for d in self.days],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocationState:
        latest = data.get("latest_date")
        override_date = data.get("capacity_override_date")
        return cls(
            location_id=data["location_id"],
            latest_date=dt.date.fromisoformat(latest) if latest else None,
            occupancy=data.get("occupancy", 0),
            capacity_override=data.get("capacity_override"),
            capacity_override_date=dt.date.fromisoformat(override_date) if override_date else None,
            hold_from=dt.date.fromisoformat(data["hold_from"]) if data.get("hold_from") else None,
            without_bed=data.get("without_bed", 0),
            slept_outside=data.get("slept_outside", 0),
            days=tuple(DayRecord.from_dict(d) for d in data.get("days", ())),
        )


def _store_day(
    days: tuple[DayRecord, ...], record: DayRecord, hold_from: dt.date | None
) -> tuple[DayRecord, ...]:
    """Put ``record`` in date order, replacing its date, and keep the newest HISTORY_DAYS, or
    from ``hold_from`` on where days still wait for their flow rules (at most MAX_HELD_DAYS)."""
    kept = [d for d in days if d.date != record.date]
    kept.append(record)
    kept.sort(key=lambda d: d.date)
    newest = kept[-1].date
    horizon = newest - dt.timedelta(days=HISTORY_DAYS - 1)
    if hold_from is None or hold_from < horizon:
        horizon = max(hold_from or dt.date.min, newest - dt.timedelta(days=MAX_HELD_DAYS - 1))
    return tuple(d for d in kept if d.date >= horizon)


def _seen(state: LocationState, event_id: str) -> bool:
    # A plain loop: this runs for every report over six weeks of days, and is nearly always
    # False, so ``any`` over a generator paid its overhead for nothing.
    for day in state.days:  # noqa: SIM110
        if event_id in day.seen:
            return True
    return False


def apply_occupancy(state: LocationState, report: OccupancyReport) -> tuple[LocationState, Applied]:
    """Apply a morning count. Returns the new state and what happened."""
    if _seen(state, report.event_id):
        return state, Applied.DUPLICATE
    previous = state.day(report.date) or DayRecord(report.date)
    record = replace(
        previous,
        occupancy_event=report.event_id,
        occupancy=report.occupancy,
        capacity=report.capacity,
        without_bed=report.without_bed,
        slept_outside=report.slept_outside,
        seen=(*previous.seen, report.event_id),
    )
    days = _store_day(state.days, record, state.hold_from)
    override, override_date = state.capacity_override, state.capacity_override_date
    if report.capacity is not None and (override_date is None or report.date >= override_date):
        # The newest dated capacity wins, whatever order the reports arrive in.
        override, override_date = report.capacity, report.date
    state = replace(
        state, days=days, capacity_override=override, capacity_override_date=override_date
    )
    if state.latest_date is not None and report.date < state.latest_date:
        return state, Applied.CORRECTION
    return (
        replace(
            state,
            latest_date=report.date,
            occupancy=report.occupancy,
            without_bed=report.without_bed,
            slept_outside=report.slept_outside,
        ),
        Applied.APPLIED,
    )


def apply_intake(state: LocationState, report: IntakeReport) -> tuple[LocationState, Applied]:
    """Record one day's flow. Flows are history: they never change the current count."""
    if _seen(state, report.event_id):
        return state, Applied.DUPLICATE
    previous = state.day(report.date) or DayRecord(report.date)
    record = replace(
        previous,
        intake_event=report.event_id,
        arrivals=report.arrivals,
        transfers_out=report.transfers_out,
        departures=report.departures,
        unplaced=report.unplaced,
        seen=(*previous.seen, report.event_id),
    )
    newest = max((d.date for d in state.days), default=report.date)
    outcome = Applied.CORRECTION if report.date < newest else Applied.APPLIED
    return replace(state, days=_store_day(state.days, record, state.hold_from)), outcome


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
        return cls(**{**data, "date": dt.date.fromisoformat(data["date"])})


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
        and the changelog gets them on every write (``from_dict`` fills the defaults in)."""
        full = {
            "location_id": self.location_id,
            "province": self.province,
            "date": self.date.isoformat(),
            "occupancy": self.occupancy,
            "capacity": self.capacity,
            "name": self.name,
            "municipality_code": self.municipality_code,
            "without_bed": self.without_bed,
            "slept_outside": self.slept_outside,
            "active": self.active,
            "asylum": self.asylum,
            "locations": self.locations,
            "arrivals_7d": self.arrivals_7d,
            "transfers_out_7d": self.transfers_out_7d,
            "departures_7d": self.departures_7d,
            "flow_days": self.flow_days,
            "final": self.final,
            "members": [m.to_dict() for m in self.members],
        }
        return {
            key: value
            for key, value in full.items()
            if key not in _CONTRIBUTION_DEFAULTS or value != _CONTRIBUTION_DEFAULTS[key]
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contribution:
        return cls(
            **{
                **data,
                "date": dt.date.fromisoformat(data["date"]),
                "members": tuple(MemberStatus.from_dict(m) for m in data.get("members", ())),
            }
        )


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
    """Whether this location sends intake reports at all (any in its kept history)."""
    return any(d.intake_event is not None for d in state.days)


def contribution(
    location: Location, state: LocationState, *, expect_intake: bool = False
) -> Contribution | None:
    """The location's current share of the totals; None before its first occupancy report.

    With ``expect_intake`` (intake reports are part of the feed) the share of day D is final only
    once the intake of D-1 is in; without it, every share is final at once.
    """
    if state.latest_date is None:
        return None
    flows = flows_as_of(state.days, state.latest_date)
    before = state.day(state.latest_date - dt.timedelta(days=1))
    waiting = expect_intake and (before is None or before.intake_event is None)
    return Contribution(
        location_id=location.location_id,
        province=location.province,
        date=state.latest_date,
        occupancy=state.occupancy,
        capacity=state.capacity(location),
        name=location.name,
        municipality_code=location.municipality_code,
        without_bed=state.without_bed,
        slept_outside=state.slept_outside,
        active=location.active,
        asylum=location.is_asylum,
        arrivals_7d=flows.arrivals,
        transfers_out_7d=flows.transfers_out,
        departures_7d=flows.departures,
        flow_days=flows.days,
        final=not waiting,
    )


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
