"""Province and national state in two tables, the way ``streams.locations`` keeps locations: a
head per subject (closed day, alert states, the list of members) and one row per (subject,
member) with that member's contributions for the days still open.

A contribution changes one member's row; closing a day changes the rows of the members whose
older figures it lets go of. Writing the whole record instead, with every member's open days,
came to 150 kB for a province and 700 kB for the nation per write, most of the changelog of a
year (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from alerts.capacity import Contribution
from alerts.engine import AggregateRecord

__all__ = ["AggregateHead", "AggregateStore", "MemberRow", "member_key"]


def member_key(subject_id: str, member: str) -> str:
    return f"{subject_id}|{member}"


@dataclass(frozen=True, slots=True)
class AggregateHead:
    """An aggregate record without its members' contributions, and the members it has."""

    record: AggregateRecord
    members: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.record.to_dict(), "member_ids": list(self.members)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregateHead:
        rest = {key: value for key, value in data.items() if key != "member_ids"}
        return cls(AggregateRecord.from_dict(rest), tuple(data.get("member_ids", ())))


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One member's contributions, oldest first."""

    contributions: tuple[Contribution, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"contributions": [c.to_dict() for c in self.contributions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemberRow:
        return cls(tuple(Contribution.from_dict(c) for c in data.get("contributions", ())))


class AggregateStore:
    """Whole aggregate records over the heads table and the members table."""

    def __init__(self, heads: Any, members: Any) -> None:
        self.heads = heads
        self.members = members
        self._cache: dict[str, tuple[AggregateHead, AggregateRecord]] = {}

    def get(self, subject_id: str) -> AggregateRecord | None:
        head: AggregateHead | None = self.heads.get(subject_id)
        if head is None:
            self._cache.pop(subject_id, None)
            return None
        cached = self._cache.get(subject_id)
        if cached is not None and cached[0] is head:
            return cached[1]
        members = {}
        for member in head.members:
            row: MemberRow | None = self.members.get(member_key(subject_id, member))
            if row is not None:
                members[member] = row.contributions
        record = replace(head.record, members=members)
        self._cache[subject_id] = (head, record)
        return record

    def items(self) -> Iterator[tuple[str, AggregateRecord]]:
        for subject_id in list(self.heads.keys()):
            record = self.get(subject_id)
            if record is not None:
                yield subject_id, record

    def write(self, partition: int, subject_id: str, record: AggregateRecord) -> int:
        """Store ``record``: its head, and every member whose contributions are not the same
        object as before; members it no longer has are deleted. Returns the changelog writes."""
        before = self.get(subject_id)
        old = before.members if before is not None else {}
        writes = 0
        for member, history in record.members.items():
            if old.get(member) is not history:
                row = MemberRow(history)
                self._set(self.members, partition, member_key(subject_id, member), row)
                writes += 1
        for member in old:
            if member not in record.members:
                self._delete(self.members, partition, member_key(subject_id, member))
                writes += 1
        head = AggregateHead(replace(record, members={}), tuple(record.members))
        if (
            before is None
            or replace(before, members={}) != head.record
            or (tuple(old) != head.members)
        ):
            self._set(self.heads, partition, subject_id, head)
            writes += 1
        else:
            # Nothing but members changed: keep the stored head, and the cache in step with it.
            head = self.heads.get(subject_id)
        self._cache[subject_id] = (head, record)
        return writes

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
        for table in (self.heads, self.members):
            for key in list(table.data.keys()):
                del table.data[key]
        self._cache.clear()
