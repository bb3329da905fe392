"""Province and national state in two tables, the way ``streams.state.locations`` keeps locations: a
head per subject (closed day, alert states, the list of members) and one row per (subject,
member) with that member's contributions for the days still open.

A contribution changes one member's row; closing a day changes the rows of the members whose
older figures it lets go of. Writing the whole record instead, with every member's open days,
came to 150 kB for a province and 700 kB for the nation per write, most of the changelog of a
year (docs/performance.md). How the two tables are kept in step: ``streams.state.split``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from alerts.capacity.totals import Contribution
from alerts.engine import AggregateRecord
from streams.state.split import SplitStore

__all__ = ["AggregateHead", "AggregateStore", "MemberRow", "member_key"]


def member_key(subject_id: str, member: str) -> str:
    return f"{subject_id}|{member}"


@dataclass(frozen=True, slots=True)
class AggregateHead:
    """An aggregate record without its members' contributions, and the members it has."""

    record: AggregateRecord
    members: tuple[str, ...] = ()
    #: How many times the head was written: the rows it goes with (``streams.state.split``).
    seq: int = 0
    #: The newest offset of its input partition (``in``) this record reflects.
    offsets: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.record.to_dict(),
            "member_ids": list(self.members),
            "seq": self.seq,
            "offsets": dict(self.offsets),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregateHead:
        rest = {key: value for key, value in data.items() if key not in _HEAD_FIELDS}
        offsets = {str(k): int(v) for k, v in (data.get("offsets") or {}).items()}
        return cls(
            AggregateRecord.from_dict(rest),
            tuple(data.get("member_ids", ())),
            int(data.get("seq", 0)),
            offsets,
        )


_HEAD_FIELDS = frozenset({"member_ids", "seq", "offsets"})


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One member's contributions, oldest first."""

    contributions: tuple[Contribution, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"contributions": [c.to_dict() for c in self.contributions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemberRow:
        return cls(tuple(Contribution.from_dict(c) for c in data.get("contributions", ())))

    # ---- the version a row replaced, as its difference to this row (``streams.state.split``)
    #
    # Read, not written yet. A later version may write a member row's replaced version as
    # ``{"c": [...]}``: in order, each contribution it shares with the new row as its position
    # there, the others in full (a few bytes where the whole row is hundreds). Reading comes one
    # version before writing, so that going back one version never meets a row it cannot read
    # (docs/architecture.md, "Mixed versions"). Until then ``Versions`` writes the whole row.

    def undo(self, delta: Mapping[str, Any]) -> MemberRow:
        """The row ``delta`` (the form above) describes."""
        own = self.contributions
        return MemberRow(
            tuple(
                own[x] if type(x) is int and x >= 0 else Contribution.from_dict(x)
                for x in delta.get("c", ())
            )
        )


class AggregateStore(SplitStore[AggregateRecord, AggregateHead]):
    """Whole aggregate records over the heads table and the members table."""

    def row_key(self, key: str, part: Any) -> str:
        return member_key(key, part)

    def parts(self, record: AggregateRecord) -> Mapping[Any, Any]:
        return record.members

    def head(self, record: AggregateRecord) -> AggregateHead:
        return AggregateHead(replace(record, members={}), tuple(record.members))

    def head_parts(self, head: AggregateHead) -> Iterable[Any]:
        return head.members

    def join(self, head: AggregateHead, parts: Mapping[Any, Any]) -> AggregateRecord:
        return replace(head.record, members=dict(parts))

    def to_row(self, part: Any) -> Any:
        return MemberRow(part)

    def from_row(self, row: Any) -> Any:
        return row.contributions
