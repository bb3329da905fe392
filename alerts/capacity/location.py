"""Capacity arithmetic of one location: reports applied to its state, its daily records and flows.

A location's state is a value: :func:`apply_occupancy` and :func:`apply_intake` return a new one and
say what happened (applied, duplicate, correction). Rules:

* a repeated ``event_id`` changes nothing;
* a report for a date older than the newest known one is stored as history (a correction) but never
  rolls the current figures back;
* free places are always ``capacity - occupancy`` of the same, newest report, and may go below zero.

Pure; imports only ``alerts.model``. Must not import httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from alerts.frozen import quick_init
from alerts.model import IntakeReport, Location, OccupancyReport

__all__ = [
    "FLOW_WINDOW",
    "HISTORY_DAYS",
    "MAX_HELD_DAYS",
    "MAX_KEPT_DAYS",
    "Applied",
    "DayRecord",
    "Flows",
    "LocationState",
    "apply_intake",
    "apply_occupancy",
    "days_until_full",
    "expected_next_day",
    "flows_as_of",
]

#: How many days of daily records a location keeps: the rules look back at most four weeks and a
#: day; two more weeks leave room for one topic being read ahead of the other, so a late-read day
#: still finds the same history it would have found in date order.
HISTORY_DAYS: Final = 42

#: Days a location holds while some of them still wait for their flow rules (an intake topic read
#: far behind the occupancy topic, or a location that never sends intake).
MAX_HELD_DAYS: Final = 90

#: The longest span of days a location keeps in any case. Both windows above count back from the
#: newest *morning count*, so intake reports read ahead of the morning counts (an intake topic
#: read far ahead, or published first as a whole) are kept until their morning counts come, up to
#: this span from the newest day: a location whose morning counts stop does not grow for ever.
MAX_KEPT_DAYS: Final = 400

# The spans as durations, made once: a timedelta costs half a microsecond to make, on every report.
_KEPT_SPAN: Final = dt.timedelta(days=HISTORY_DAYS - 1)
_HELD_SPAN: Final = dt.timedelta(days=MAX_HELD_DAYS - 1)
_MAX_SPAN: Final = dt.timedelta(days=MAX_KEPT_DAYS - 1)


# ---------------------------------------------------------------- flows and forecasts

#: Days in a rolling flow window.
FLOW_WINDOW: Final = 7
_FLOW_DAYS_BACK: Final = tuple(dt.timedelta(days=back) for back in range(1, FLOW_WINDOW + 1))


@quick_init
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


@quick_init
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

    def with_occupancy(self, report: OccupancyReport) -> DayRecord:
        """The day of ``report`` with its morning count (which replaces an earlier one), and
        this day's other figures (``self`` is the same date, or :data:`NOTHING_REPORTED`)."""
        return DayRecord(
            date=report.date,
            occupancy_event=report.event_id,
            occupancy=report.occupancy,
            capacity=report.capacity,
            without_bed=report.without_bed,
            slept_outside=report.slept_outside,
            intake_event=self.intake_event,
            arrivals=self.arrivals,
            transfers_out=self.transfers_out,
            departures=self.departures,
            unplaced=self.unplaced,
            seen=(*self.seen, report.event_id),
        )

    def with_intake(self, report: IntakeReport) -> DayRecord:
        """The day of ``report`` with its flow figures (which replace earlier ones), and this
        day's other figures (``self`` is the same date, or :data:`NOTHING_REPORTED`)."""
        return DayRecord(
            date=report.date,
            occupancy_event=self.occupancy_event,
            occupancy=self.occupancy,
            capacity=self.capacity,
            without_bed=self.without_bed,
            slept_outside=self.slept_outside,
            intake_event=report.event_id,
            arrivals=report.arrivals,
            transfers_out=report.transfers_out,
            departures=report.departures,
            unplaced=report.unplaced,
            seen=(*self.seen, report.event_id),
        )

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


#: A day without reports, whose figures a new date starts from (its own date is never used).
NOTHING_REPORTED: Final = DayRecord(dt.date.min)


@quick_init
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
    #: In date order, one record per date.
    days: tuple[DayRecord, ...] = ()
    #: ``days`` by date and their event ids: derived, never serialised nor compared. Handed on
    #: by the functions here that make a state from the one before, else built on first use.
    _index: _DaysIndex | None = field(default=None, init=False, repr=False, compare=False)

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
        if (
            date == self.latest_date
            and day.occupancy == self.occupancy
            and day.without_bed == self.without_bed
            and day.slept_outside == self.slept_outside
            and self.days[-1].date <= date
        ):
            return self  # the newest count, and no intake after it: the state as it is
        cut = bisect_right(self.days, date, key=_date)
        view = LocationState(
            location_id=self.location_id,
            latest_date=date,
            occupancy=day.occupancy,
            capacity_override=self.capacity_override,
            capacity_override_date=self.capacity_override_date,
            hold_from=self.hold_from,
            without_bed=day.without_bed,
            slept_outside=day.slept_outside,
            days=self.days[:cut],
        )
        # Its days by date are these less the few after ``date``: cheaper to copy and trim
        # than to make afresh (the rules read a view's days by date on every report).
        by_date = self.days_index().by_date.copy()
        for later in self.days[cut:]:
            del by_date[later.date]
        return _indexed(view, _DaysIndex(view.days, by_date, None))

    def held_from(self, hold_from: dt.date | None) -> LocationState:
        """The same state keeping its history from ``hold_from`` on (see :func:`_store_day`)."""
        return _indexed(self._with(self.days, hold_from), self._index)

    def _with(self, days: tuple[DayRecord, ...], hold_from: dt.date | None) -> LocationState:
        """The same figures with ``days`` and ``hold_from`` (a constructor call, not
        ``dataclasses.replace``: this runs for every report)."""
        return LocationState(
            location_id=self.location_id,
            latest_date=self.latest_date,
            occupancy=self.occupancy,
            capacity_override=self.capacity_override,
            capacity_override_date=self.capacity_override_date,
            hold_from=hold_from,
            without_bed=self.without_bed,
            slept_outside=self.slept_outside,
            days=days,
        )

    def day(self, date: dt.date) -> DayRecord | None:
        return self.days_index().by_date.get(date)

    def has_intake(self, date: dt.date) -> bool:
        """Whether the intake report of ``date`` is in."""
        day = self.day(date)
        return day is not None and day.intake_event is not None

    def occupancy_before(self, date: dt.date) -> int | None:
        """The newest morning count dated before ``date``; None without one."""
        days = self.days
        for i in range(bisect_left(days, date, key=_date) - 1, -1, -1):
            occupancy = days[i].occupancy
            if occupancy is not None:
                return occupancy
        return None

    def intake_until(self) -> dt.date | None:
        """A date no intake report in the history is after (None: the history holds none)."""
        return self.days_index().intake_until

    def days_after(self, date: dt.date | None) -> list[DayRecord]:
        """The days after ``date`` (all for None), oldest first: the last few of ``days``."""
        if date is None:
            return list(self.days)
        return list(self.days[bisect_right(self.days, date, key=_date) :])

    def flows(self, as_of: dt.date) -> Flows:
        """:func:`flows_as_of` over this state's days, read from the newest back; kept for the
        next ask (the forecast and the contribution of a morning count both want them)."""
        known = self.days_index().flows
        flows = known.get(as_of)
        if flows is None:
            flows = known[as_of] = self._flows(as_of)
        return flows

    def _flows(self, as_of: dt.date) -> Flows:
        by_date = self.days_index().by_date
        arrivals = transfers = departures = count = 0
        for back in _FLOW_DAYS_BACK:  # the window's days looked up, not the days read through
            d = by_date.get(as_of - back)
            if d is not None and d.intake_event is not None:
                arrivals += d.arrivals
                transfers += d.transfers_out
                departures += d.departures
                count += 1
        return Flows(arrivals, transfers, departures, count)

    def days_index(self) -> _DaysIndex:
        index = self._index
        if index is None:
            index = _DaysIndex.of(self.days)
            # A cache of what ``days`` holds, so the value does not change: set once, in place.
            object.__setattr__(self, "_index", index)
        return index

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


class _Unknown:
    """Not worked out yet (:attr:`_DaysIndex.intake_until`)."""


_UNKNOWN: Final = _Unknown()


class _DaysIndex:
    """A location's days by date, and every event id they hold (their ``seen``)."""

    __slots__ = ("_days", "_intake_until", "_seen", "by_date", "flows")

    def __init__(
        self,
        days: tuple[DayRecord, ...],
        by_date: dict[dt.date, DayRecord],
        seen: dict[str, dt.date] | None,
        intake_until: dt.date | _Unknown | None = _UNKNOWN,
    ) -> None:
        self._days = days
        self.by_date = by_date
        #: Made from ``days`` when first asked (None till then): the views of
        #: :meth:`LocationState.as_of` that the rules read never look an event id up.
        self._seen = seen
        #: Flows by the date they are as of, filled in as asked (:meth:`LocationState.flows`).
        self.flows: dict[dt.date, Flows] = {}
        self._intake_until = intake_until

    @property
    def intake_until(self) -> dt.date | None:
        """No day after this date holds an intake report; None: no day holds one. Carried from
        index to index as days come in (:func:`_store_day`), so it may name a day since dropped
        from the front of the history: a bound, not always a day that is there."""
        found = self._intake_until
        if isinstance(found, _Unknown):
            found = self._intake_until = next(
                (d.date for d in reversed(self._days) if d.intake_event is not None), None
            )
        return found

    @property
    def seen(self) -> dict[str, dt.date]:
        """Each event id and the (newest) day that holds it, so a day that goes takes its ids
        along. A dict, not a set: copying one is several times cheaper."""
        seen = self._seen
        if seen is None:
            seen = self._seen = {i: d.date for d in self._days for i in d.seen}
        return seen

    @classmethod
    def of(cls, days: tuple[DayRecord, ...]) -> _DaysIndex:
        return cls(days, {d.date: d for d in days}, None)


def _indexed(state: LocationState, index: _DaysIndex | None) -> LocationState:
    """``state`` (just made, not shared yet) with the index of its days."""
    object.__setattr__(state, "_index", index)  # the dataclass is frozen; see LocationState
    return state


def _store_day(
    state: LocationState, record: DayRecord, event_id: str, counted: dt.date | None
) -> tuple[tuple[DayRecord, ...], _DaysIndex]:
    """Put ``record`` (new event ``event_id``) in date order, replacing its date, and keep what
    the rules may still need: HISTORY_DAYS back from ``counted`` (the newest morning count, with
    this report), or from ``hold_from`` on where days still wait for their flow rules (at most
    MAX_HELD_DAYS back), and every day after ``counted`` (intake read ahead of its morning
    counts); never more than MAX_KEPT_DAYS. Returns the days and their index.

    The windows count back from the newest morning count, not from the newest day of any kind:
    intake reports read weeks ahead must not push out the history the next morning count's rules
    look back at (the rules would then decide differently depending on the order the two topics
    were read in)."""
    days, hold_from, index = state.days, state.hold_from, state.days_index()
    date = record.date
    if not days or date > days[-1].date:
        kept = (*days, record)
    elif date == days[-1].date:
        kept = (*days[:-1], record)
    else:
        # An older date (a correction, or a morning count behind intake read ahead): the days
        # are in date order with one record per date, so find its place instead of sorting.
        at = bisect_left(days, date, key=_date)
        after = at + 1 if days[at].date == date else at  # replace the day, or insert before it
        kept = (*days[:at], record, *days[after:])
    newest = kept[-1].date
    horizon = newest - _MAX_SPAN
    if counted is not None:
        window = counted - _KEPT_SPAN
        if hold_from is None or hold_from < window:
            window = max(hold_from or dt.date.min, counted - _HELD_SPAN)
        horizon = max(horizon, window)
    first = 0  # the days before the horizon are the first ones: days are in date order
    while kept[first].date < horizon:
        first += 1
    # .copy(), not dict(): after the deletions below, dict() of these takes a slow path, ten
    # times dearer than the copy (CPython 3.11).
    by_date = index.by_date.copy()
    by_date[record.date] = record
    seen = index.seen.copy()
    seen[event_id] = record.date
    for gone in kept[:first]:
        del by_date[gone.date]
        for old_id in gone.seen:
            if seen.get(old_id) == gone.date:
                del seen[old_id]
    days = kept[first:]
    until = index.intake_until
    if record.intake_event is not None and (until is None or date > until):
        until = date
    return days, _DaysIndex(days, by_date, seen, until)


def _date(day: DayRecord) -> dt.date:
    return day.date


def _seen(state: LocationState, event_id: str) -> bool:
    return event_id in state.days_index().seen


def apply_occupancy(state: LocationState, report: OccupancyReport) -> tuple[LocationState, Applied]:
    """Apply a morning count. Returns the new state and what happened."""
    if _seen(state, report.event_id):
        return state, Applied.DUPLICATE
    record = (state.day(report.date) or NOTHING_REPORTED).with_occupancy(report)
    latest = state.latest_date
    counted = report.date if latest is None or report.date > latest else latest
    days, index = _store_day(state, record, report.event_id, counted)
    override, override_date = state.capacity_override, state.capacity_override_date
    if report.capacity is not None and (override_date is None or report.date >= override_date):
        # The newest dated capacity wins, whatever order the reports arrive in.
        override, override_date = report.capacity, report.date
    if state.latest_date is not None and report.date < state.latest_date:
        # History corrected, the current figures untouched.
        applied = Applied.CORRECTION
        current = (state.latest_date, state.occupancy, state.without_bed, state.slept_outside)
    else:
        applied = Applied.APPLIED
        current = (report.date, report.occupancy, report.without_bed, report.slept_outside)
    latest, occupancy, without_bed, slept_outside = current
    made = LocationState(
        location_id=state.location_id,
        latest_date=latest,
        occupancy=occupancy,
        capacity_override=override,
        capacity_override_date=override_date,
        hold_from=state.hold_from,
        without_bed=without_bed,
        slept_outside=slept_outside,
        days=days,
    )
    return _indexed(made, index), applied


def apply_intake(state: LocationState, report: IntakeReport) -> tuple[LocationState, Applied]:
    """Record one day's flow. Flows are history: they never change the current count."""
    if _seen(state, report.event_id):
        return state, Applied.DUPLICATE
    record = (state.day(report.date) or NOTHING_REPORTED).with_intake(report)
    newest = state.days[-1].date if state.days else report.date
    outcome = Applied.CORRECTION if report.date < newest else Applied.APPLIED
    days, index = _store_day(state, record, report.event_id, state.latest_date)
    return _indexed(state._with(days, state.hold_from), index), outcome
