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
from collections.abc import Iterable, Mapping

from aiokafka.partitioner import murmur2

__all__ = ["SourceProgress", "partition_of", "progress"]


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
