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
    "HISTORY_DAYS",
    "Applied",
    "Contribution",
    "DayRecord",
    "LocationState",
    "Totals",
    "apply_intake",
    "apply_occupancy",
    "contribution",
    "sum_contributions",
]

#: How many days of daily records a location keeps: four weeks of weekdays plus a margin.
HISTORY_DAYS: Final = 35


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
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
        return cls(**{**data, "date": dt.date.fromisoformat(data["date"])})


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
    without_bed: int = 0
    slept_outside: int = 0
    days: tuple[DayRecord, ...] = ()

    def capacity(self, location: Location) -> int:
        return location.capacity if self.capacity_override is None else self.capacity_override

    def free_places(self, location: Location) -> int:
        return self.capacity(location) - self.occupancy

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
            "without_bed": self.without_bed,
            "slept_outside": self.slept_outside,
            "days": [d.to_dict() for d in self.days],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocationState:
        latest = data.get("latest_date")
        return cls(
            location_id=data["location_id"],
            latest_date=dt.date.fromisoformat(latest) if latest else None,
            occupancy=data.get("occupancy", 0),
            capacity_override=data.get("capacity_override"),
            without_bed=data.get("without_bed", 0),
            slept_outside=data.get("slept_outside", 0),
            days=tuple(DayRecord.from_dict(d) for d in data.get("days", ())),
        )


def _store_day(days: tuple[DayRecord, ...], record: DayRecord) -> tuple[DayRecord, ...]:
    """Put ``record`` in date order, replacing its date, and keep the newest HISTORY_DAYS."""
    kept = [d for d in days if d.date != record.date]
    kept.append(record)
    kept.sort(key=lambda d: d.date)
    newest = kept[-1].date
    horizon = newest - dt.timedelta(days=HISTORY_DAYS - 1)
    return tuple(d for d in kept if d.date >= horizon)


def _seen(state: LocationState, event_id: str) -> bool:
    return any(event_id in (d.occupancy_event, d.intake_event) for d in state.days)


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
    )
    days = _store_day(state.days, record)
    if state.latest_date is not None and report.date < state.latest_date:
        return replace(state, days=days), Applied.CORRECTION
    override = report.capacity if report.capacity is not None else state.capacity_override
    return (
        replace(
            state,
            latest_date=report.date,
            occupancy=report.occupancy,
            capacity_override=override,
            without_bed=report.without_bed,
            slept_outside=report.slept_outside,
            days=days,
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
    )
    newest = max((d.date for d in state.days), default=report.date)
    outcome = Applied.CORRECTION if report.date < newest else Applied.APPLIED
    return replace(state, days=_store_day(state.days, record)), outcome


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one location adds to its province's totals, as of ``date``."""

    location_id: str
    province: str
    date: dt.date
    occupancy: int
    capacity: int
    without_bed: int = 0
    slept_outside: int = 0
    active: bool = True
    asylum: bool = True
    locations: int = 1  # how many locations this share sums (more than 1 for a province)

    def to_dict(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "province": self.province,
            "date": self.date.isoformat(),
            "occupancy": self.occupancy,
            "capacity": self.capacity,
            "without_bed": self.without_bed,
            "slept_outside": self.slept_outside,
            "active": self.active,
            "asylum": self.asylum,
            "locations": self.locations,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contribution:
        return cls(**{**data, "date": dt.date.fromisoformat(data["date"])})


def contribution(location: Location, state: LocationState) -> Contribution | None:
    """The location's current share of the totals; None before its first occupancy report."""
    if state.latest_date is None:
        return None
    return Contribution(
        location_id=location.location_id,
        province=location.province,
        date=state.latest_date,
        occupancy=state.occupancy,
        capacity=state.capacity(location),
        without_bed=state.without_bed,
        slept_outside=state.slept_outside,
        active=location.active,
        asylum=location.is_asylum,
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

    @property
    def free_places(self) -> int:
        return self.capacity - self.occupancy

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
        }


def sum_contributions(items: Iterable[Contribution], *, asylum: bool = True) -> Totals:
    """Totals over active locations of one reception stream (asylum, or Ukrainian when False)."""
    occupancy = capacity = without_bed = outside = count = 0
    newest: dt.date | None = None
    for c in items:
        if not c.active or c.asylum != asylum:
            continue
        occupancy += c.occupancy
        capacity += c.capacity
        without_bed += c.without_bed
        outside += c.slept_outside
        count += c.locations
        newest = c.date if newest is None or c.date > newest else newest
    return Totals(occupancy, capacity, without_bed, outside, count, newest)
