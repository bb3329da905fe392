"""Records kept in two Faust tables: a head per key, and one row per (key, part), written so that
a crash between any two changelog messages never leaves a record half old and half new.

Locations keep a row per week of days (``streams.state.locations``), provinces and the nation a row
per member (``streams.state.aggregates``). In memory the agents work with whole records; on the
changelog a write sends the rows whose contents changed, then the head, then the deletes of rows
the record no longer has. A restart reads back heads and rows, not every version of every whole
record.

**Crash safety.** The head is the commit point of a record. Rows and head live on two changelog
topics, and Kafka gives no order between topics, so the writer imposes one (``Changes``): every
row write of a batch is acknowledged by the broker before any head of that batch is sent, and a
row is deleted only after the head that stopped naming it is acknowledged. A row carries the
sequence number of the head write it belongs to (``Versions.seq``) and the version it replaced
(``Versions.prev``; for a row kind that can tell it, as its difference to the new version:
``WeekRow.delta_of``). After a crash between the two steps a row can be one version ahead of its
head; the head's ``seq`` says so, and the record is rebuilt from the row's previous version,
exactly as it was when the head was written. At most one version can be ahead: the next batch
starts only once the heads of this one are acknowledged.

The head also carries the input offsets the record reflects (``offsets``): a report read again
after a restart is recognised by its offset, whatever Faust committed
(``streams.worker.guarantee``).

Whole records are rebuilt from the two tables when first read and kept in a cache. A cache entry
is trusted only while the head in the table is the very object it was built from: after a
recovery or a rebalance the table holds new objects and the record is rebuilt. An entry written by
``stage`` also keeps the parts of its record, so the next write of the key compares against them
instead of splitting the record again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

__all__ = [
    "Changes",
    "SplitStore",
    "VersionedRows",
    "Versions",
    "send_changelog_many",
]

R = TypeVar("R")  # the whole record
H = TypeVar("H")  # its head


async def send_changelog_many(
    table: Any, partition: int, messages: list[tuple[Any, Any]]
) -> list[Any]:
    """A table's values (None: a delete, sent as a tombstone) to one of its changelog partitions,
    in order, through the table's codecs; the partition is given instead of taken from the event
    being processed (a batch spans several). The worker's topics send them as one batch of the
    producer (``streams.worker.faust_patches.DirectTopic.send_many``). Returns the delivery
    futures, instead of leaving the messages in Faust's producer buffer. The table in memory was
    changed when the writes were staged (``Changes``)."""
    return list(
        await table.changelog_topic.send_many(
            partition,
            messages,
            key_serializer=table.key_serializer,
            value_serializer=table.value_serializer,
        )
    )


@dataclass
class Changes:
    """A batch's changelog writes in the three steps that keep records whole across a crash:
    ``rows`` (acknowledged first, together with the batch's output messages), ``heads`` and plain
    table values (acknowledged next: the commit point), ``deletes`` (last: rows no head names)."""

    rows: list[tuple[Any, int, Any, Any]] = field(default_factory=list)
    heads: list[tuple[Any, int, Any, Any]] = field(default_factory=list)
    deletes: list[tuple[Any, int, Any, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows) + len(self.heads) + len(self.deletes)

    @staticmethod
    def _local(table: Any, key: Any, value: Any) -> None:
        """The table in memory takes a write when it is staged: what the next batch reads, while
        this batch's writes may still be on their way to the changelog."""
        if value is None:
            table.data.pop(key, None)
        else:
            table.data[key] = value

    def row(self, table: Any, partition: int, key: Any, value: Any) -> None:
        self._local(table, key, value)
        self.rows.append((table, partition, key, value))

    def head(self, table: Any, partition: int, key: Any, value: Any) -> None:
        self._local(table, key, value)
        self.heads.append((table, partition, key, value))

    def delete(self, table: Any, partition: int, key: Any) -> None:
        self._local(table, key, None)
        self.deletes.append((table, partition, key, None))

    @staticmethod
    async def send(writes: list[tuple[Any, int, Any, Any]]) -> list[Any]:
        """Send ``writes`` to their changelogs, those of one table and partition together, in
        the order given (``send_changelog_many``); returns the delivery futures."""
        groups: dict[tuple[int, int], tuple[Any, int, list[tuple[Any, Any]]]] = {}
        for table, partition, key, value in writes:
            group = groups.get((id(table), partition))
            if group is None:
                group = groups[(id(table), partition)] = (table, partition, [])
            group[2].append((key, value))
        futures: list[Any] = []
        for table, partition, messages in groups.values():
            futures.extend(await send_changelog_many(table, partition, messages))
        return futures

    @staticmethod
    async def settle(futures: Iterable[Any]) -> None:
        """Wait until the broker has acknowledged every send (raises the first failure)."""
        pending = [f for f in futures if f is not None]
        if pending:
            await asyncio.gather(*pending)


@dataclass(frozen=True, slots=True)
class Versions:
    """A row as the rows table stores it: the row written by head write ``seq``, and the version
    it replaced (``prev``, written by head write ``prev_seq``; None for a new row)."""

    seq: int
    row: Any
    prev_seq: int | None = None
    prev: Any = None

    def for_head(self, head_seq: int) -> Any:
        """The version that belongs to a head at ``head_seq``."""
        if self.seq <= head_seq:
            return self.row
        return self.prev  # written for a head that never reached the changelog

    def to_dict(self) -> dict[str, Any]:
        data = {"seq": self.seq, "row": self.row.to_dict(), "prev_seq": self.prev_seq}
        if self.prev is None:
            data["prev"] = None
        elif hasattr(self.row, "delta_of"):
            # Only how the replaced version differs from this one: usually a day of a week.
            data["prev_delta"] = self.row.delta_of(self.prev)
        else:
            data["prev"] = self.prev.to_dict()
        return data


class VersionedRows:
    """The codec kind of a rows table: ``Versions`` of ``kind`` rows. A value written before rows
    were versioned (a bare row) reads as version 0."""

    def __init__(self, kind: Any) -> None:
        self.kind = kind
        self.__module__ = kind.__module__
        self.__qualname__ = f"Versions[{kind.__qualname__}]"

    def from_dict(self, data: Mapping[str, Any]) -> Versions:
        if "seq" not in data:
            return Versions(0, self.kind.from_dict(data))
        row = self.kind.from_dict(data["row"])
        delta = data.get("prev_delta")
        if delta is not None:
            return Versions(int(data["seq"]), row, data.get("prev_seq"), row.undo(delta))
        prev = data.get("prev")
        return Versions(
            int(data["seq"]),
            row,
            data.get("prev_seq"),
            None if prev is None else self.kind.from_dict(prev),
        )


class SplitStore(Generic[R, H]):
    """Whole records over a heads table and a rows table. Subclasses say how a record splits.
    Heads are dataclasses with ``seq: int`` and ``offsets: Mapping[str, int]`` fields."""

    def __init__(self, heads: Any, rows: Any) -> None:
        self.heads = heads
        self.rows = rows
        #: Per key: the head in the table, the record it stands for, and that record's parts
        #: when known (``stage`` keeps them, so the next write need not split the record again).
        self._cache: dict[str, tuple[H, R, Mapping[Any, Any] | None]] = {}

    # ---- how a record splits (subclasses)

    def row_key(self, key: str, part: Any) -> str:
        raise NotImplementedError

    def parts(self, record: R) -> Mapping[Any, Any]:
        """The record's rows by part, as the objects the record holds (compared by identity)."""
        raise NotImplementedError

    def parts_after(self, record: R, earlier: Mapping[Any, Any]) -> Mapping[Any, Any]:
        """``parts(record)``, given the parts of the version stored before it: a subclass that
        builds its parts anew may hand back an earlier part, the very object, where it holds the
        same values."""
        return self.parts(record)

    def head(self, record: R) -> H:
        raise NotImplementedError

    def head_parts(self, head: H) -> Iterable[Any]:
        raise NotImplementedError

    def join(self, head: H, parts: Mapping[Any, Any]) -> R:
        raise NotImplementedError

    def to_row(self, part: Any) -> Any:
        """What the rows table stores for a part (the part itself unless overridden)."""
        return part

    def same(self, old: Any, new: Any) -> bool:
        """Whether a part is unchanged: by identity, since the core keeps unchanged values as the
        objects they were (cheap, and never a false "unchanged")."""
        return old is new

    def from_row(self, row: Any) -> Any:
        return row

    # ---- the store

    def get(self, key: str) -> R | None:
        head: H | None = self.heads.get(key)
        if head is None:
            self._cache.pop(key, None)
            return None
        cached = self._cache.get(key)
        if cached is not None and cached[0] is head:
            return cached[1]
        seq: int = getattr(head, "seq", 0)
        parts = {}
        for part in self.head_parts(head):
            stored = self.rows.get(self.row_key(key, part))
            row = stored.for_head(seq) if isinstance(stored, Versions) else stored
            if row is not None:
                parts[part] = self.from_row(row)
        record = self.join(head, parts)
        self._cache[key] = (head, record, None)
        return record

    def offsets(self, key: str) -> Mapping[str, int]:
        """The input offsets the stored record reflects (empty for none)."""
        head = self.heads.get(key)
        return {} if head is None else getattr(head, "offsets", {})

    def __getitem__(self, key: str) -> R:
        record = self.get(key)
        if record is None:
            raise KeyError(key)
        return record

    def keys(self) -> list[str]:
        return list(self.heads.keys())

    def items(self) -> Iterator[tuple[str, R]]:
        for key in list(self.heads.keys()):
            record = self.get(key)
            if record is not None:
                yield key, record

    def stage(
        self,
        changes: Changes,
        partition: int,
        key: str,
        record: R,
        offsets: Mapping[str, int] | None = None,
    ) -> None:
        """Put the writes that store ``record`` (reflecting ``offsets``) into ``changes``."""
        before = self.get(key)
        stored: H | None = self.heads.get(key)
        old_seq: int = getattr(stored, "seq", 0) if stored is not None else 0
        old: Mapping[Any, Any] = {}
        if before is not None:
            # The parts kept with the cached record are those of this very (immutable) record;
            # anything else is split again.
            cached = self._cache.get(key)
            kept = cached[2] if cached is not None and cached[1] is before else None
            old = kept if kept is not None else self.parts(before)
        new = old if record is before else self.parts_after(record, old)
        seq = old_seq + 1
        rows_written = False
        for part, value in new.items():
            if part in old and self.same(old[part], value):
                continue
            previous = self.to_row(old[part]) if part in old else None
            versions = Versions(
                seq, self.to_row(value), old_seq if previous is not None else None, previous
            )
            changes.row(self.rows, partition, self.row_key(key, part), versions)
            rows_written = True
        for part in old:
            if part not in new:
                changes.delete(self.rows, partition, self.row_key(key, part))
        kept_offsets = dict(getattr(stored, "offsets", {}) or {}) if stored is not None else {}
        if offsets:
            kept_offsets.update(offsets)
        head: Any = self.head(record)
        if (
            not rows_written
            and stored is not None
            and stored == replace(head, seq=old_seq, offsets=kept_offsets)
        ):
            head = stored  # unchanged: keep the stored head, and the cache in step with it
        else:
            head = replace(head, seq=seq, offsets=kept_offsets)
            changes.head(self.heads, partition, key, head)
        self._cache[key] = (head, record, new)

    def clear(self) -> None:
        """Forget everything in memory (tests)."""
        for table in (self.heads, self.rows):
            for key in list(table.data.keys()):
                del table.data[key]
        self._cache.clear()
