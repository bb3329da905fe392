"""Input watermarks: how far every input partition has been read, in event time.

Provinces and the nation close a day once each location has reported it, or once the whole input
has moved ``lateness_days`` past it. "The whole input" must mean every partition: when one
partition is read faster than another, the locations on the slower one are not late, only unread.
So the report agent sends a *mark* whenever the newest date it has read on a partition advances,
to every partition of the province topic; each province partition closes days against the lowest
mark of the input partitions, and passes its own progress on to the nation. Every input
partition that holds records on the broker counts, also one not read yet
(``streams.worker.roster``): at the start of a backlog Faust may read some partitions long before
the others, and those were once left out until they had marked, so days closed without them.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.partitioner import murmur2

from alerts.watermark import input_mark

__all__ = ["MarkLog", "PartitionProgress", "observe", "partition_of", "progress"]


@functools.lru_cache(maxsize=16384)
def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client).
    Kept per key: the keys are location ids and province codes, a few thousand, and murmur2 in
    pure Python costs more than the rest of a report's bookkeeping."""
    return int(murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def progress(marks: Mapping[int, dt.date], required: Iterable[int]) -> dt.date | None:
    """The lowest mark of the required partitions; None while any of them has not marked yet."""
    dates = []
    for partition in required:
        if partition not in marks:
            return None
        dates.append(marks[partition])
    return min(dates) if dates else None


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """How far one input partition has been read: the newest morning count and intake dates, the
    mark last sent, and the offsets of the reports these reflect. Kept in the ``input-progress``
    table, one value per input partition, so a restart continues from it exactly: a report read
    again (at or below ``offsets``) is not counted twice, and no mark is sent that an uncrashed
    worker would not have sent."""

    occupancy: dt.date | None = None
    intake: dt.date | None = None
    sent: dt.date | None = None
    offsets: Mapping[str, int] = field(default_factory=dict)

    def seen(self, kind: str, offset: int) -> bool:
        return offset <= self.offsets.get(kind, -1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "occupancy": _iso(self.occupancy),
            "intake": _iso(self.intake),
            "sent": _iso(self.sent),
            "offsets": dict(self.offsets),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartitionProgress:
        return cls(
            _date(data.get("occupancy")),
            _date(data.get("intake")),
            _date(data.get("sent")),
            {str(k): int(v) for k, v in (data.get("offsets") or {}).items()},
        )


def observe(
    state: PartitionProgress, kind: str, date: dt.date, offset: int, *, expect_intake: bool
) -> tuple[PartitionProgress, dt.date | None]:
    """Record a report read on the partition; returns the new progress, and the partition's new
    mark when it moved forward.

    A partition's mark is the newest morning count read there, held back to the day after the
    newest intake once intake reports flow: a province must not close a day whose flows are still
    on their way."""
    occupancy, intake = state.occupancy, state.intake
    if kind == "intake":
        intake = date if intake is None or date > intake else intake
    else:
        occupancy = date if occupancy is None or date > occupancy else occupancy
    offsets = {**state.offsets, kind: max(offset, state.offsets.get(kind, -1))}
    mark = input_mark(occupancy, intake, expect_intake=expect_intake)
    if mark is not None and state.sent is not None and mark <= state.sent:
        mark = None
    sent = mark if mark is not None else state.sent
    return PartitionProgress(occupancy, intake, sent, offsets), mark


@dataclass(frozen=True, slots=True)
class MarkLog:
    """The marks one partition of an aggregating agent has read, per source, with the offset each
    arrived at. ``as_of(offset)`` is the watermark exactly as it stood when the message at that
    offset was handled, also when that message is read again after a crash and the log already
    holds later marks. Marks below the committed offset are folded into one per source: nothing
    below it is ever read again."""

    marks: Mapping[int, tuple[tuple[int, dt.date], ...]] = field(default_factory=dict)

    def add(self, source: int, offset: int, date: dt.date) -> MarkLog:
        entries = self.marks.get(source, ())
        if any(at == offset for at, _ in entries):
            return self
        merged = tuple(sorted((*entries, (offset, date))))
        return MarkLog({**self.marks, source: merged})

    def as_of(self, offset: int) -> dict[int, dt.date]:
        """Each source's highest mark among those at or below ``offset``."""
        found: dict[int, dt.date] = {}
        for source, entries in self.marks.items():
            dates = [date for at, date in entries if at <= offset]
            if dates:
                found[source] = max(dates)
        return found

    def fold(self, committed: int) -> MarkLog:
        """Forget what no re-read can ask for: of the marks below ``committed``, keep the one
        that stands for them all."""
        folded: dict[int, tuple[tuple[int, dt.date], ...]] = {}
        for source, entries in self.marks.items():
            old = [(at, date) for at, date in entries if at < committed]
            new = tuple((at, date) for at, date in entries if at >= committed)
            if old:
                top = max(date for _, date in old)
                folded[source] = ((max(at for at, _ in old), top), *new)
            else:
                folded[source] = new
        return MarkLog(folded)

    def to_dict(self) -> dict[str, Any]:
        return {
            str(source): [[at, date.isoformat()] for at, date in entries]
            for source, entries in self.marks.items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MarkLog:
        return cls(
            {
                int(source): tuple((int(at), dt.date.fromisoformat(d)) for at, d in entries)
                for source, entries in data.items()
            }
        )


def _iso(date: dt.date | None) -> str | None:
    return None if date is None else date.isoformat()


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None
