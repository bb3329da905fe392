"""Write each table key once per batch instead of once per event.

The agents read their input in batches (``Stream.take_events``). Within a batch every event is
handled exactly as on its own, in order, and reads see the batch's own earlier writes; only the
table writes wait until the end of the batch, when each changed key goes to the changelog once
(in the steps ``streams.worker.guarantee`` describes, which also say when offsets are committed).

In a backlog a location gets two reports a day, a province dozens of contributions and the nation
two dozen shares; writing a whole record for each of them was most of the worker's time and all
of a restart's (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Final, cast

import faust

from streams.state.split import Changes

__all__ = ["BATCH_MAX", "BATCH_WITHIN", "Overlay", "batches"]

#: Events per batch at the most; in a backlog batches are full, in live traffic they are small.
BATCH_MAX: Final = 2000
#: How long an agent waits for more events before it handles what it has: the latency a batch adds.
BATCH_WITHIN: Final = 0.05


def batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[faust.types.EventT[bytes]]]:
    """The agent's input in batches of events (``Stream.take_events``, missing from ``StreamT``)."""
    return cast(
        AsyncIterator[Sequence[faust.types.EventT[bytes]]],
        cast(Any, stream).take_events(BATCH_MAX, BATCH_WITHIN),
    )


class Overlay:
    """A table seen through the batch's pending writes.

    ``table``: a Faust table, or a split store (``streams.state.split.SplitStore``) whose records
    are written as rows and a head that carries the input offsets the record reflects."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._dirty: dict[Any, tuple[int, Any, Mapping[str, int] | None]] = {}

    def get(self, key: Any) -> Any:
        pending = self._dirty.get(key)
        if pending is not None:
            return pending[1]
        return self.table.get(key)

    def offsets(self, key: Any) -> Mapping[str, int]:
        """The input offsets the key's record reflects, the batch's own writes included (split
        stores only; a plain table keeps none)."""
        pending = self._dirty.get(key)
        stored: Mapping[str, int] = (
            self.table.offsets(key) if hasattr(self.table, "offsets") else {}
        )
        if pending is None or not pending[2]:
            return stored
        return {**stored, **pending[2]}

    def set(
        self, partition: int, key: Any, value: Any, offsets: Mapping[str, int] | None = None
    ) -> None:
        """``partition``: the changelog partition, the one the key's input arrives on;
        ``offsets``: input offsets the value now reflects (split stores only)."""
        previous = self._dirty.get(key)
        if previous is not None and previous[2] and offsets is not None:
            offsets = {**previous[2], **offsets}
        elif previous is not None and offsets is None:
            offsets = previous[2]
        self._dirty[key] = (partition, value, offsets)

    def items(self) -> Iterator[tuple[Any, Any]]:
        for key, value in list(self.table.items()):
            if key not in self._dirty:
                yield key, value
        for key, (_, value, _) in self._dirty.items():
            yield key, value

    def all_keys(self) -> Iterator[Any]:
        yield from (key for key in list(self.table.keys()) if key not in self._dirty)
        yield from self._dirty

    def __len__(self) -> int:
        return len(self._dirty)

    def stage(self, changes: Changes) -> int:
        """Put every pending value into ``changes`` (see ``streams.state.split``); returns how many
        keys were pending."""
        stage = getattr(self.table, "stage", None)
        count = len(self._dirty)
        for key, (partition, value, offsets) in self._dirty.items():
            if stage is not None:
                stage(changes, partition, key, value, offsets)
            else:
                changes.head(self.table, partition, key, value)
        self._dirty.clear()
        return count
