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

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Final, cast

import faust
from faust.types import EventT

from streams.state.split import Changes

__all__ = [
    "BACKLOG_BEHIND",
    "BATCH_MAX",
    "BATCH_WITHIN",
    "CHUNK_MAX",
    "JOIN_WAIT",
    "Overlay",
    "batches",
]

#: Events per batch: an agent handles a batch once it holds this many (see :func:`batches`).
BATCH_MAX: Final = 2000
#: How long an agent waits for more events before it handles what it has: the latency a batch adds.
BATCH_WITHIN: Final = 0.05
#: Events Faust hands over at once at the most (``Stream.take_events``); a batch is at most
#: BATCH_MAX + CHUNK_MAX - 1 events.
CHUNK_MAX: Final = 500
#: How long a joined batch waits for the next chunk before it is handled as it is: longer than
#: ``take_events`` itself takes to hand a chunk over (BATCH_WITHIN and a loaded event loop), or
#: a backlog's batches would be cut at every chunk.
JOIN_WAIT: Final = 0.5
#: Records a partition's end may be ahead of the chunk's last record for the input to count as
#: behind (a backlog): the agent then takes the next chunk into the same batch.
BACKLOG_BEHIND: Final = 100


def behind(stream: Any, chunk: Sequence[Any]) -> bool:
    """Whether the consumer has seen more than BACKLOG_BEHIND records past this chunk on one of
    its partitions (the highwater Faust's consumer last fetched); False when it cannot say."""
    last: dict[Any, int] = {}
    for event in chunk:
        last[event.message.tp] = event.message.offset
    try:
        consumer = stream.app.consumer
        for tp, offset in last.items():
            high = consumer.highwater(tp)
            if high is not None and high - offset > BACKLOG_BEHIND:
                return True
    except Exception:  # no consumer (yet), or a transport that keeps no highwater
        return False
    return False


async def batches(
    stream: faust.StreamT[bytes],
) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """The agent's input in batches of events.

    ``Stream.take_events`` hands over what arrived within BATCH_WITHIN, and fills its buffer only
    during that window, not while the agent handles the previous batch: in a backlog that is
    about 200 events, and a location then had about one report per batch, so nearly every report
    cost a row and a head on the changelog (docs/performance.md, issue 12). While the input is
    behind (:func:`behind`: a backlog), chunks are joined into one batch of up to BATCH_MAX events;
    otherwise (live traffic) a chunk is handled at once, so the latency a batch adds stays
    BATCH_WITHIN. Joining
    changes nothing in what is decided or when offsets are committed: the agents commit what
    their writer has made durable (``streams.worker.guarantee``), not what Faust acknowledges."""
    chunks = cast(
        AsyncIterator[Sequence[EventT[bytes]]],
        cast(Any, stream).take_events(CHUNK_MAX, BATCH_WITHIN),
    )
    pending: list[EventT[bytes]] = []
    # The next chunk, asked for while a joined batch is open: ``take_events`` yields only
    # non-empty chunks, so a backlog that ends on a large chunk must not wait for the next event.
    ahead: asyncio.Future[Sequence[EventT[bytes]]] | None = None
    try:
        while True:
            if ahead is None:
                ahead = asyncio.ensure_future(anext(chunks))
            if pending:
                await asyncio.wait((ahead,), timeout=JOIN_WAIT)
                if not ahead.done():
                    batch, pending = pending, []
                    yield batch
                    continue
            got, ahead = ahead, None
            try:
                chunk = await got
            except StopAsyncIteration:
                break
            pending.extend(chunk)
            if len(pending) < BATCH_MAX and behind(stream, chunk):
                continue
            batch, pending = pending, []
            yield batch
        if pending:
            yield pending
    finally:
        if ahead is not None:
            ahead.cancel()


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

    def offset(self, key: Any, source: str) -> int:
        """The input offset of ``source`` the key's record reflects, -1 for none: what
        ``offsets(key).get(source, -1)`` gives, without merging the two mappings."""
        pending = self._dirty.get(key)
        if pending is not None and pending[2] and source in pending[2]:
            return pending[2][source]
        stored: Mapping[str, int] = (
            self.table.offsets(key) if hasattr(self.table, "offsets") else {}
        )
        return stored.get(source, -1)

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
