"""The location state in two tables: a small head per location and one row per location and day.

In memory the agents work with whole ``LocationRecord`` values. On the changelog a record is
split: ``location-heads`` holds the current figures, alert states and penalties (without the
history), ``location-days`` one ``DayRecord`` per (location, date). A report then writes its head
and the one or two days it changed, a few hundred bytes, instead of the whole record with six
weeks of history (about 15 kB), and a restart reads back heads and days, not every version of
every record. This is the issue's "daily values in plain tables keyed by (subject, date)".

How the two tables are kept in step, and records rebuilt from them: ``streams.split``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from alerts.engine import LocationRecord
from streams.split import SplitStore

__all__ = ["LocationHead", "LocationStore", "day_key"]


def day_key(location_id: str, date: dt.date) -> str:
    return f"{location_id}|{date.isoformat()}"


@dataclass(frozen=True, slots=True)
class LocationHead:
    """A location record without its days, and the dates of the days it holds."""

    record: LocationRecord
    dates: tuple[dt.date, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.record.to_dict(), "dates": [d.isoformat() for d in self.dates]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocationHead:
        rest = {key: value for key, value in data.items() if key != "dates"}
        dates = tuple(dt.date.fromisoformat(d) for d in data.get("dates", ()))
        return cls(LocationRecord.from_dict(rest), dates)


class LocationStore(SplitStore[LocationRecord, LocationHead]):
    """Whole location records over the heads table and the days table."""

    def row_key(self, key: str, part: Any) -> str:
        return day_key(key, part)

    def parts(self, record: LocationRecord) -> Mapping[Any, Any]:
        return {day.date: day for day in record.state.days}

    def head(self, record: LocationRecord) -> LocationHead:
        bare = replace(record, state=replace(record.state, days=()))
        return LocationHead(bare, tuple(d.date for d in record.state.days))

    def head_parts(self, head: LocationHead) -> Iterable[Any]:
        return head.dates

    def join(self, head: LocationHead, parts: Mapping[Any, Any]) -> LocationRecord:
        days = tuple(parts[date] for date in head.dates if date in parts)
        return replace(head.record, state=replace(head.record.state, days=days))
