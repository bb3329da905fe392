"""The location state in two tables: a small head per location and one row per location and day.

In memory the agents work with whole ``LocationRecord`` values. On the changelog a record is
split: ``location-heads`` holds the current figures, alert states and penalties (without the
history), ``location-days`` one ``DayRecord`` per (location, date). A report then writes its head
and the one or two days it changed, a few hundred bytes, instead of the whole record with six
weeks of history (about 15 kB), and a restart reads back heads and days, not every version of
every record. This is the issue's "daily values in plain tables keyed by (subject, date)".

Whole records are rebuilt from the two tables when first read and kept in a cache. A cache entry
is trusted only while the head in the table is the very object it was built from: after a
recovery or a rebalance the table holds new objects and the record is rebuilt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from alerts.engine import LocationRecord

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


class LocationStore:
    """Whole location records over the heads table and the days table."""

    def __init__(self, heads: Any, days: Any) -> None:
        self.heads = heads
        self.days = days
        self._cache: dict[str, tuple[LocationHead, LocationRecord]] = {}

    def get(self, location_id: str) -> LocationRecord | None:
        head: LocationHead | None = self.heads.get(location_id)
        if head is None:
            self._cache.pop(location_id, None)
            return None
        cached = self._cache.get(location_id)
        if cached is not None and cached[0] is head:
            return cached[1]
        found = (self.days.get(day_key(location_id, date)) for date in head.dates)
        days = tuple(day for day in found if day is not None)
        record = replace(head.record, state=replace(head.record.state, days=days))
        self._cache[location_id] = (head, record)
        return record

    def items(self) -> Iterator[tuple[str, LocationRecord]]:
        for location_id in list(self.heads.keys()):
            record = self.get(location_id)
            if record is not None:
                yield location_id, record

    def __getitem__(self, location_id: str) -> LocationRecord:
        record = self.get(location_id)
        if record is None:
            raise KeyError(location_id)
        return record

    def write(self, partition: int, location_id: str, record: LocationRecord) -> int:
        """Store ``record``: its head, and every day that is not the same object as before.
        Days the record no longer holds are deleted. Returns the number of changelog writes."""
        before = self.get(location_id)
        old_days = {d.date: d for d in before.state.days} if before is not None else {}
        new_days = record.state.days
        writes = 0
        for day in new_days:
            if old_days.get(day.date) is not day:
                self._set(self.days, partition, day_key(location_id, day.date), day)
                writes += 1
        kept = {d.date for d in new_days}
        for date in old_days:
            if date not in kept:
                self._delete(self.days, partition, day_key(location_id, date))
                writes += 1
        bare = replace(record, state=replace(record.state, days=()))
        head = LocationHead(bare, tuple(d.date for d in new_days))
        self._set(self.heads, partition, location_id, head)
        self._cache[location_id] = (head, record)
        return writes + 1

    @staticmethod
    def _set(table: Any, partition: int, key: str, value: Any) -> None:
        table.data[key] = value
        table.send_changelog(partition, key, value)

    @staticmethod
    def _delete(table: Any, partition: int, key: str) -> None:
        table.data.pop(key, None)
        table.send_changelog(partition, key, None, value_serializer="raw")

    def clear(self) -> None:
        """Forget everything in memory (tests)."""
        for table in (self.heads, self.days):
            for key in list(table.data.keys()):
                del table.data[key]
        self._cache.clear()
