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
            "dates": [d.isoformat() for d in self.dates],
            "seq": self.seq,
            "offsets": dict(self.offsets),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocationHead:
        rest = {key: value for key, value in data.items() if key not in _HEAD_FIELDS}
        dates = tuple(dt.date.fromisoformat(d) for d in data.get("dates", ()))
        offsets = {str(k): int(v) for k, v in (data.get("offsets") or {}).items()}
        return cls(LocationRecord.from_dict(rest), dates, int(data.get("seq", 0)), offsets)


_HEAD_FIELDS = frozenset({"dates", "seq", "offsets"})


@dataclass(frozen=True, slots=True)
class WeekRow:
    """The days of one location in one week, in date order."""

    days: tuple[DayRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"days": [day.to_dict() for day in self.days]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeekRow:
        return cls(tuple(DayRecord.from_dict(day) for day in data.get("days", ())))


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
        # Unchanged when the week holds the very same days (``parts_after`` hands such a week
        # back as the earlier tuple).
        return old is new or _same_days(old, new)

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
