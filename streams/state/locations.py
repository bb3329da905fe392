"""The location state in two tables: a small head per location and one row per location and week.

In memory the agents work with whole ``LocationRecord`` values. On the changelog a record is
split: ``location-heads`` holds the current figures, alert states and penalties (without the
history), ``location-weeks`` the ``DayRecord`` values of one location in one ISO week (Monday to
Sunday). A report then writes its head and the week of the day it changed, about a kilobyte,
instead of the whole record with six weeks of history (about 15 kB). This is the issue's "daily
values in plain tables keyed by (subject, date)", with the dates of a week kept together.

Why weeks and not a row per day (as until 2026-11-28): a row per day meant 365 rows, and as many
deletes, per location a year. A restart reads what Kafka's cleaner has not removed yet, and in
the year benchmark that was 67,000 day rows and tombstones of the 80,000 messages read back. A
week row is written as often as a day row was, but a location has 6 or 7 of them instead of 42,
and deletes one a week.

How the two tables are kept in step, and records rebuilt from them: ``streams.state.split``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from alerts.capacity.location import DayRecord
from alerts.engine import LocationRecord
from streams.state.split import SplitStore

__all__ = ["LocationHead", "LocationStore", "WeekRow", "week_key", "week_of"]


@functools.lru_cache(maxsize=4096)
def week_of(date: dt.date) -> dt.date:
    """The Monday of the ISO week ``date`` is in: the part a day is stored under. Kept per date
    (a few thousand: a location's days come and go over a year and more)."""
    return date - dt.timedelta(days=date.weekday())


_WEEK: Final = dt.timedelta(days=7)


def _same_days(
    old: Sequence[DayRecord], days: Sequence[DayRecord], start: int = 0, stop: int | None = None
) -> bool:
    """Whether a week holds the very same days (by identity, as ``SplitStore.same``) as
    ``days[start:stop]``."""
    stop = len(days) if stop is None else stop
    return len(old) == stop - start and all(map(operator.is_, old, days[start:stop]))


def _weeks_of_unsorted(days: Iterable[DayRecord]) -> dict[dt.date, tuple[DayRecord, ...]]:
    weeks: dict[dt.date, list[DayRecord]] = {}
    for day in days:
        weeks.setdefault(week_of(day.date), []).append(day)
    return {monday: tuple(week) for monday, week in weeks.items()}


def week_key(location_id: str, monday: dt.date) -> str:
    return f"{location_id}|week-of-{monday.isoformat()}"


@dataclass(frozen=True, slots=True)
class LocationHead:
    """A location record without its days, and the dates of the days it holds."""

    record: LocationRecord
    dates: tuple[dt.date, ...] = ()
    #: How many times the head was written: the rows it goes with (``streams.state.split``).
    seq: int = 0
    #: The newest offset of each input partition this record reflects, keyed ``occupancy:<p>``
    #: and ``intake:<p>`` (one partition each when producers key by location_id, as they should).
    offsets: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.record.to_dict(),
            "date_runs": _runs(self.dates),
            "seq": self.seq,
            "offsets": dict(self.offsets),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocationHead:
        rest = {key: value for key, value in data.items() if key not in _HEAD_FIELDS}
        if "date_runs" in data:
            dates = _from_runs(data["date_runs"])
        else:  # written before 2026-12-03: every date in full
            dates = tuple(dt.date.fromisoformat(d) for d in data.get("dates", ()))
        offsets = {str(k): int(v) for k, v in (data.get("offsets") or {}).items()}
        return cls(LocationRecord.from_dict(rest), dates, int(data.get("seq", 0)), offsets)


_HEAD_FIELDS = frozenset({"dates", "date_runs", "seq", "offsets"})
_ONE_DAY: Final = dt.timedelta(days=1)


def _runs(dates: Sequence[dt.date]) -> list[list[Any]]:
    """Dates as runs of consecutive days, ``[first, count]`` each: a location's 42 to 90 dates
    are nearly always one run, a few bytes where the dates in full were half a kilobyte."""
    runs: list[list[Any]] = []
    last: dt.date | None = None
    for date in dates:
        if last is not None and date - last == _ONE_DAY:
            runs[-1][1] += 1
        else:
            runs.append([date, 1])
        last = date
    return [[first.isoformat(), count] for first, count in runs]


def _from_runs(runs: Iterable[Sequence[Any]]) -> tuple[dt.date, ...]:
    dates: list[dt.date] = []
    for first, count in runs:
        start = dt.date.fromisoformat(first)
        dates.extend(start + dt.timedelta(days=i) for i in range(count))
    return tuple(dates)


@dataclass(frozen=True, slots=True)
class WeekRow:
    """The days of one location in one week, in date order.

    On the changelog a day is a positional list (``_day_list``), not a dict with field names: a
    week row is the most written value of the worker (about half of all changelog bytes in the
    year benchmark), and a day as a dict was 320 bytes, of which a third were field names and
    another fifth the event ids repeated in ``seen``. Rows written as dicts (before 2026-12-03)
    are still read."""

    days: tuple[DayRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"d": [_day_list(day) for day in self.days]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeekRow:
        if "d" in data:
            return cls(tuple(_day_from_list(day) for day in data["d"]))
        return cls(tuple(DayRecord.from_dict(day) for day in data.get("days", ())))

    # ---- the version a row replaced, as its difference to this row (``streams.state.split``)

    def delta_of(self, before: WeekRow) -> dict[str, Any]:
        """``before`` told as this row's days it shares (the very same objects, by position in
        this row) and its other days in full. A row usually differs from the version it replaced
        by one day, so this is a few bytes where the whole previous week was a kilobyte."""
        index = {id(day): i for i, day in enumerate(self.days)}
        kept: list[int] = []
        other: list[list[Any]] = []
        for day in before.days:
            i = index.get(id(day))
            if i is None:
                other.append(_day_list(day))
            else:
                kept.append(i)
        return {"k": kept, "d": other}

    def undo(self, delta: Mapping[str, Any]) -> WeekRow:
        """The row ``delta`` (:meth:`delta_of`) describes."""
        days = [self.days[i] for i in delta.get("k", ())]
        days.extend(_day_from_list(day) for day in delta.get("d", ()))
        days.sort(key=_date_of)
        return WeekRow(tuple(days))


def _date_of(day: DayRecord) -> dt.date:
    return day.date


# Where a day's ``seen`` names its own morning count or intake report, the list says 0 or 1.
_OCCUPANCY_EVENT: Final = 0
_INTAKE_EVENT: Final = 1


def _day_list(day: DayRecord) -> list[Any]:
    """A day as the changelog stores it: its fields in declaration order, ``seen`` last, with the
    day's own two event ids as 0 and 1 (an id may be in ``seen`` more than once: a repeated
    recount)."""
    occupancy_event, intake_event = day.occupancy_event, day.intake_event
    seen: list[Any] = []
    for event in day.seen:
        if event == occupancy_event:
            seen.append(_OCCUPANCY_EVENT)
        elif event == intake_event:
            seen.append(_INTAKE_EVENT)
        else:
            seen.append(event)
    return [
        day.date.isoformat(),
        occupancy_event,
        day.occupancy,
        day.capacity,
        day.without_bed,
        day.slept_outside,
        intake_event,
        day.arrivals,
        day.transfers_out,
        day.departures,
        day.unplaced,
        seen,
    ]


def _day_from_list(data: Sequence[Any]) -> DayRecord:
    (date, occupancy_event, occupancy, capacity, without_bed, slept_outside, intake_event,
     arrivals, transfers_out, departures, unplaced, seen) = data  # fmt: skip
    own = (occupancy_event, intake_event)
    return DayRecord(
        dt.date.fromisoformat(date),
        occupancy_event,
        occupancy,
        capacity,
        without_bed,
        slept_outside,
        intake_event,
        arrivals,
        transfers_out,
        departures,
        unplaced,
        tuple(own[event] if isinstance(event, int) else event for event in seen),
    )


class LocationStore(SplitStore[LocationRecord, LocationHead]):
    """Whole location records over the heads table and the weeks table."""

    def row_key(self, key: str, part: Any) -> str:
        return week_key(key, part)

    def parts(self, record: LocationRecord) -> Mapping[Any, Any]:
        return self.parts_after(record, {})

    def parts_after(self, record: LocationRecord, earlier: Mapping[Any, Any]) -> Mapping[Any, Any]:
        """The record's weeks; a week that holds the very days it held in ``earlier`` is that
        earlier tuple, so ``same`` finds it unchanged at once."""
        days = record.state.days
        dates = [day.date for day in days]
        if dates != sorted(dates):  # not in date order, as a state keeps them: the long way
            return _weeks_of_unsorted(days)
        parts: dict[dt.date, tuple[DayRecord, ...]] = {}
        start, count = 0, len(days)
        while start < count:  # a week is a slice: from its first day to the next Monday
            monday = week_of(dates[start])
            stop = bisect.bisect_left(dates, monday + _WEEK, start)
            old = earlier.get(monday)
            if old is not None and _same_days(old, days, start, stop):
                parts[monday] = old
            else:
                parts[monday] = days[start:stop]
            start = stop
        return parts

    def same(self, old: Any, new: Any) -> bool:
        """A week needs no new row when it holds the very same days, or only some of them: the
        history is trimmed from its oldest day, and the head's dates say which of a row's days
        the record holds (:meth:`join`), so a row left with days the record dropped reads back
        the same. Without this the oldest week was written again at every new day: a fifth of
        all week rows in a 120-day benchmark run. (``parts_after`` hands an unchanged week back
        as the earlier tuple.)"""
        if old is new:
            return True
        if len(new) > len(old):
            return False
        kept = {id(day) for day in old}
        return all(id(day) in kept for day in new)

    def head(self, record: LocationRecord) -> LocationHead:
        state = record.state
        bare = record.with_state(replace(state, days=()))
        return LocationHead(bare, tuple([day.date for day in state.days]))

    def head_parts(self, head: LocationHead) -> Iterable[Any]:
        return dict.fromkeys(week_of(date) for date in head.dates)

    def join(self, head: LocationHead, parts: Mapping[Any, Any]) -> LocationRecord:
        found = {day.date: day for days in parts.values() for day in days}
        days = tuple(found[date] for date in head.dates if date in found)
        return replace(head.record, state=replace(head.record.state, days=days))

    def to_row(self, part: Any) -> Any:
        return WeekRow(part)

    def from_row(self, row: Any) -> Any:
        return row.days
