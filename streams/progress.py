"""Input watermarks: how far every input partition has been read, in event time.

Provinces and the nation close a day once each location has reported it, or once the whole input
has moved ``lateness_days`` past it. "The whole input" must mean every partition: when one
partition is read faster than another, the locations on the slower one are not late, only unread.
So the report agent sends a *mark* whenever the newest date it has read on a partition advances,
to every partition of the province topic; each province partition closes days against the lowest
mark of the input partitions that have marked, and passes its own progress on to the nation.
(A partition that has carried no report yet cannot hold anything back: at the very start of a
fast replay, a partition read much later than the others can still find a day closed without it.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Mapping

from aiokafka.partitioner import murmur2

__all__ = ["Alignment", "SourceProgress", "partition_of", "progress"]


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client)."""
    return int(murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def progress(marks: Mapping[int, dt.date], required: Iterable[int]) -> dt.date | None:
    """The lowest mark of the required partitions; None while any of them has not marked yet."""
    dates = []
    for partition in required:
        if partition not in marks:
            return None
        dates.append(marks[partition])
    return min(dates) if dates else None


class SourceProgress:
    """Newest dates read per input partition, for occupancy and intake separately.

    A partition's mark is the newest morning count read there, held back to the day after the
    newest intake once intake reports flow: a province must not close a day whose flows are still
    on their way.
    """

    def __init__(self, *, expect_intake: bool = False) -> None:
        self._expect_intake = expect_intake
        self._occupancy: dict[int, dt.date] = {}
        self._intake: dict[int, dt.date] = {}
        self._sent: dict[int, dt.date] = {}

    def observe(self, partition: int, kind: str, date: dt.date) -> dt.date | None:
        """Record a report read; returns the partition's new mark when it moved forward."""
        seen = self._intake if kind == "intake" else self._occupancy
        if partition not in seen or date > seen[partition]:
            seen[partition] = date
        occupancy = self._occupancy.get(partition)
        if occupancy is None:
            return None
        intake = self._intake.get(partition)
        if intake is None:
            if self._expect_intake:
                return None  # the flows of these days are still to come
            mark = occupancy
        else:
            mark = min(occupancy, intake + dt.timedelta(days=1))
        if partition in self._sent and mark <= self._sent[partition]:
            return None
        self._sent[partition] = mark
        return mark


class Alignment:
    """Event-time alignment of the input streams (what Flink calls watermark alignment).

    A stream is one partition of one input topic (``(topic, partition)``). Kafka hands a worker
    its streams at whatever pace it likes; replaying a backlog, one can be read months ahead of
    another, and intake ahead of the morning counts it belongs to. Provinces close a day only when
    every stream has got past it, so everything the fast streams produced meanwhile waits in the
    province and location records, which grow and get slower to write, while the picture stands
    still. So a stream whose newest report date is more than ``max_skew_days`` ahead of the
    slowest stream that still delivers is paused until the others catch up.

    A stream that delivered nothing for ``idle_seconds`` (read to its end, or without data) holds
    nothing back, unless it is one we paused. The slowest stream is never paused, so something is
    always read. Wall time is used here only to tell idle streams apart: it decides what is
    fetched when, never what an alert says.
    """

    def __init__(self, *, max_skew_days: int = 3, idle_seconds: float = 2.0) -> None:
        self.max_skew = dt.timedelta(days=max_skew_days)
        self.idle_seconds = idle_seconds
        self._newest: dict[Hashable, dt.date] = {}
        self._last_read: dict[Hashable, float] = {}
        self.paused: frozenset[Hashable] = frozenset()

    def observe(self, stream: Hashable, date: dt.date, now: float) -> None:
        """A report of ``date`` was read from ``stream``."""
        self._last_read[stream] = now
        if stream not in self._newest or date > self._newest[stream]:
            self._newest[stream] = date

    def floor(self, assigned: Iterable[Hashable], now: float) -> dt.date | None:
        """The newest date of the slowest stream that counts: paused, or read from lately."""
        dates = [
            self._newest[s]
            for s in assigned
            if s in self._newest
            and (s in self.paused or now - self._last_read.get(s, -1e18) < self.idle_seconds)
        ]
        return min(dates) if dates else None

    def decide(self, assigned: Iterable[Hashable], now: float) -> frozenset[Hashable]:
        """The streams to keep paused from now on (the caller pauses and resumes them)."""
        streams = set(assigned)
        floor = self.floor(streams, now)
        if floor is None:
            self.paused = frozenset()
        else:
            limit = floor + self.max_skew
            self.paused = frozenset(
                s for s in streams if s in self._newest and self._newest[s] > limit
            )
        return self.paused
