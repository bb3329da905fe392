"""Records kept in two Faust tables: a head per key, and one row per (key, part).

Locations keep a row per week of days (``streams.locations``), provinces and the nation a row per
member (``streams.aggregates``). In memory the agents work with whole records; on the changelog a
write sends the head (only when it changed) and the rows whose contents are not the very objects
they were before, and deletes the rows the record no longer has. A restart reads back heads and
rows, not every version of every whole record.

Whole records are rebuilt from the two tables when first read and kept in a cache. A cache entry
is trusted only while the head in the table is the very object it was built from: after a
recovery or a rebalance the table holds new objects and the record is rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["SplitStore", "write_through"]

R = TypeVar("R")  # the whole record
H = TypeVar("H")  # its head


def write_through(table: Any, partition: int, key: Any, value: Any) -> None:
    """What ``table[key] = value`` does (``del table[key]`` for None), with the changelog
    partition given instead of taken from the event being processed: a batch spans several."""
    if value is None:
        table.data.pop(key, None)
        table.send_changelog(partition, key, None, value_serializer="raw")
    else:
        table.data[key] = value
        table.send_changelog(partition, key, value)


class SplitStore(Generic[R, H]):
    """Whole records over a heads table and a rows table. Subclasses say how a record splits."""

    def __init__(self, heads: Any, rows: Any) -> None:
        self.heads = heads
        self.rows = rows
        self._cache: dict[str, tuple[H, R]] = {}

    # ---- how a record splits (subclasses)

    def row_key(self, key: str, part: Any) -> str:
        raise NotImplementedError

    def parts(self, record: R) -> Mapping[Any, Any]:
        """The record's rows by part, as the objects the record holds (compared by identity)."""
        raise NotImplementedError

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
        parts = {}
        for part in self.head_parts(head):
            row = self.rows.get(self.row_key(key, part))
            if row is not None:
                parts[part] = self.from_row(row)
        record = self.join(head, parts)
        self._cache[key] = (head, record)
        return record

    def __getitem__(self, key: str) -> R:
        record = self.get(key)
        if record is None:
            raise KeyError(key)
        return record

    def items(self) -> Iterator[tuple[str, R]]:
        for key in list(self.heads.keys()):
            record = self.get(key)
            if record is not None:
                yield key, record

    def write(self, partition: int, key: str, record: R) -> int:
        """Store ``record``; returns the number of changelog writes."""
        before = self.get(key)
        old = self.parts(before) if before is not None else {}
        new = self.parts(record)
        writes = 0
        for part, value in new.items():
            if part not in old or not self.same(old[part], value):
                write_through(self.rows, partition, self.row_key(key, part), self.to_row(value))
                writes += 1
        for part in old:
            if part not in new:
                write_through(self.rows, partition, self.row_key(key, part), None)
                writes += 1
        head = self.head(record)
        stored: H | None = self.heads.get(key)
        if stored is not None and stored == head:
            head = stored  # unchanged: keep the stored head, and the cache in step with it
        else:
            write_through(self.heads, partition, key, head)
            writes += 1
        self._cache[key] = (head, record)
        return writes

    def clear(self) -> None:
        """Forget everything in memory (tests)."""
        for table in (self.heads, self.rows):
            for key in list(table.data.keys()):
                del table.data[key]
        self._cache.clear()
