"""Write each table key once per batch instead of once per event.

The agents read their input in batches (``Stream.take_events``). Within a batch every event is
handled exactly as on its own, in order, and reads see the batch's own earlier writes; only the
table writes wait until the end of the batch, when each changed key goes to the changelog once.
Faust acknowledges the batch's events after the agent has asked for the next batch, so an offset
is committed only after the state it produced was handed to the producer: a crash in between
replays the batch, which the core recognises by event id.

In a backlog a location gets two reports a day, a province dozens of contributions and the nation
two dozen shares; writing a whole record for each of them was most of the worker's time and all
of a restart's (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Final, cast

import faust

from streams.split import write_through

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

    ``table``: a Faust table, or anything with ``get``, ``items`` and
    ``write(partition, key, value)`` that stores a value and sends it to its changelog
    (``streams.split.SplitStore``)."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._dirty: dict[Any, tuple[int, Any]] = {}

    def get(self, key: Any) -> Any:
        pending = self._dirty.get(key)
        if pending is not None:
            return pending[1]
        return self.table.get(key)

    def set(self, partition: int, key: Any, value: Any) -> None:
        """``partition``: the changelog partition, the one the key's input arrives on."""
        self._dirty[key] = (partition, value)

    def items(self) -> Iterator[tuple[Any, Any]]:
        for key, value in list(self.table.items()):
            if key not in self._dirty:
                yield key, value
        for key, (_, value) in self._dirty.items():
            yield key, value

    def __len__(self) -> int:
        return len(self._dirty)

    def flush(self) -> int:
        """Store every pending value and send it to the changelog; returns the number of
        changelog writes."""
        written = 0
        write = getattr(self.table, "write", None)
        for key, (partition, value) in self._dirty.items():
            if write is not None:
                written += write(partition, key, value)
                continue
            write_through(self.table, partition, key, value)
            written += 1
        self._dirty.clear()
        return written
