"""How every agent turns a batch of input into outputs and state, so that a crash anywhere gives
the same alerts as no crash at all.

Faust's own offset commits are not used for the project's topics (``acks=False``): they are known
to stall behind a hole after a recovery, to run past events an agent never finished, and to move
on when an agent raises (docs/architecture.md, "Crash safety"). Each agent instead handles a
batch, stages its state, and hands it to its writer (``streams.worker.app.BatchWriter``), which
takes the batches in order through four steps, each awaited before the next:

1. **Outputs and rows.** The batch is handled record by record; every message it produces (alert
   changes, contributions, notifications, audit entries, dead letters) and every changed row of a
   split store is sent, and the broker's acknowledgements are awaited.
2. **Heads.** The heads of the records the batch changed, each carrying the input offsets it
   reflects, and the plain table values. Acknowledged: this is the batch's commit point.
3. **Deletes** of rows no head names any more (not awaited: a lost delete leaves a row nobody
   reads).
4. **Offsets.** The batch's input offsets are committed to the consumer group.

A ``kill -9`` between any two of these steps, or inside one, leaves one of three situations:
outputs sent but no state (the batch is read again and, handled by the same pure functions on
the same state, produces the very same messages again: repeats of an identical change), state
written but offsets not committed (read again, each record is recognised by the offsets its
record's head carries and skipped), or everything done. Nothing is lost: a record's effects are
only ever acknowledged after they are durable.

Faust can also deliver a partition with a hole in it (after a recovery or a rebalance it drops
events it had fetched). ``Cursor`` knows the next offset every partition must continue at and
reads a hole back from the broker with a plain consumer of its own, so an agent never depends
on Faust having handed it every offset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from streams.state.split import Changes

__all__ = ["Cursor", "GapReader", "Outputs", "Record", "commit_offsets"]

log = structlog.get_logger("opvangwacht.guarantee")

#: How long the broker may hold a fetch of the reader (see ``GapReader._ensure``).
READ_FETCH_WAIT_MS = 50


@dataclass(frozen=True, slots=True)
class Record:
    """One input message, from Faust's stream or read back from the broker."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None
    key: bytes | None
    value: bytes | None

    @classmethod
    def of(cls, message: Any) -> Record:
        return cls(
            message.topic,
            message.partition,
            message.offset,
            message.timestamp,
            message.key,
            message.value,
        )


class Outputs:
    """The messages a batch sends, with their delivery futures: the batch awaits them all before
    it writes any state (step 1)."""

    def __init__(self) -> None:
        self.futures: list[Any] = []

    def add(self, future: Any) -> None:
        """A message sent for the batch: its delivery future (None when nothing is awaited)."""
        self.futures.append(future)

    async def settle(self, more: Iterable[Any] = ()) -> None:
        """Wait for every send of the batch, and ``more`` (its rows) with them."""
        pending = [*self.futures, *more]
        self.futures.clear()
        await Changes.settle(pending)


class GapReader:
    """Reads a range of offsets of one partition straight from the broker, outside any consumer
    group: the records Faust skipped."""

    def __init__(self, bootstrap: str, *, max_bytes: int) -> None:
        self._bootstrap = bootstrap
        self._max_bytes = max_bytes
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=self._max_bytes,
                fetch_max_bytes=self._max_bytes,
                # It reads ranges that are on the broker. Once one is read, aiokafka has already
                # asked for more of that partition, and the broker holds such a fetch for this
                # long; the next range's fetch waits behind it (aiokafka keeps one fetch in flight
                # per broker). With aiokafka's 500 ms, each partition the stall watch read after a
                # restart cost half a second or more.
                fetch_max_wait_ms=READ_FETCH_WAIT_MS,
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def earliest(self, topic: str, partition: int) -> int:
        tp = TP(topic, partition)
        return (await self.beginnings([tp]))[tp]

    async def ends(self, tps: Sequence[TP]) -> dict[TP, int]:
        """The log end offset of each partition."""
        return await self._offsets(tps, end=True)

    async def beginnings(self, tps: Sequence[TP]) -> dict[TP, int]:
        """The first offset each partition still holds."""
        return await self._offsets(tps, end=False)

    async def _offsets(self, tps: Sequence[TP], *, end: bool) -> dict[TP, int]:
        async with self._lock:
            consumer = await self._ensure()
            ask = consumer.end_offsets if end else consumer.beginning_offsets
            found = await ask([TopicPartition(tp.topic, tp.partition) for tp in tps])
            return {TP(tp.topic, tp.partition): int(offset) for tp, offset in found.items()}

    async def read(self, topic: str, partition: int, start: int, stop: int) -> list[Record]:
        """Every record with ``start <= offset < stop`` that the broker still has."""
        async with self._lock:
            consumer = await self._ensure()
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            found: list[Record] = []
            idle = 0
            while True:
                position = await consumer.position(tp)
                if position >= stop:
                    break
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
                records = batch.get(tp, [])
                if not records:
                    idle += 1
                    if idle >= 20:  # 10 s without a record below `stop`: the broker has no more
                        log.error("gap not readable", topic=topic, partition=partition, at=position)
                        break
                    continue
                idle = 0
                for r in records:
                    if r.offset >= stop:
                        return found
                    found.append(
                        Record(topic, partition, r.offset, r.timestamp / 1000.0, r.key, r.value)
                    )
            return found

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class Cursor:
    """Where each input partition of one agent continues, and the records of a batch in order,
    holes filled and events already handled dropped.

    The position of a partition starts, after every assignment, at the offset committed for it
    (only ever committed after the state of everything before it was written; see the module
    docstring) and moves with each finished batch."""

    def __init__(
        self,
        app: Any,
        reader: GapReader,
        on_read_back: Callable[[str, int], None] | None = None,
        *,
        assignment: Callable[[], set[TP] | None] | None = None,
    ) -> None:
        self._app = app
        self._reader = reader
        self._assigned = assignment
        self._next: dict[TP, int] = {}
        self._on_read_back = on_read_back
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        #: Batches handed over so far: the stall watch tells a busy agent from an idle one.
        self.batches = 0

    def reset(self) -> None:
        """Forget the positions (after a rebalance: committed offsets are the truth again)."""
        self._next.clear()

    def position(self, tp: TP) -> int | None:
        """Where the agent goes on in ``tp``: None before its first batch there."""
        return self._next.get(tp)

    def _assignment(self) -> set[TP] | None:
        if self._assigned is not None:
            return self._assigned()
        return set(self._app.consumer.assignment())

    async def _start(self, tp: TP) -> int:
        committed = self._app.consumer._committed_offset.get(tp)
        if committed is not None:
            return int(committed)
        # Faust keeps "no commit" and "committed 0" alike as None: ask where the log begins.
        return await self._reader.earliest(tp.topic, tp.partition)

    async def admit(self, events: Sequence[Any]) -> list[Record]:
        """The batch's records in order, with every hole before them read back."""
        out: list[Record] = []
        at: dict[TP, int] = {}
        assignment = self._assignment()
        for event in events:
            message = event.message
            tp = TP(message.topic, message.partition)
            if assignment is not None and tp not in assignment:
                continue  # fetched before a rebalance took the partition away: not ours now
            expected = at.get(tp)
            if expected is None:
                expected = self._next.get(tp)
                if expected is None:
                    expected = await self._start(tp)
            if message.offset < expected:
                continue
            if message.offset > expected:
                missing = await self._reader.read(
                    message.topic, message.partition, expected, message.offset
                )
                if missing:
                    if self._on_read_back is not None:
                        self._on_read_back(message.topic, len(missing))
                    log.warning(
                        "read back records the stream skipped",
                        topic=message.topic,
                        partition=message.partition,
                        start=expected,
                        stop=message.offset,
                        records=len(missing),
                    )
                out.extend(missing)
            out.append(Record.of(message))
            at[tp] = message.offset + 1
        return out

    async def behind(self, tps: Sequence[TP]) -> dict[TP, tuple[int, int]]:
        """The partitions whose log goes on past this cursor's position: (position, end)."""
        if not tps:
            return {}
        ends = await self._reader.ends(tps)
        found: dict[TP, tuple[int, int]] = {}
        for tp in tps:
            position = self._next.get(tp)
            if position is None:
                position = await self._start(tp)
            if ends.get(tp, 0) > position:
                found[tp] = (position, ends[tp])
        return found

    def lock(self) -> asyncio.Lock:
        """One batch of this agent at a time, from its stream or from the stall watch."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    def done(self, records: Sequence[Record]) -> dict[TP, int]:
        """The batch is durable: move past it. Returns the offsets to commit."""
        positions: dict[TP, int] = {}
        for record in records:
            tp = TP(record.topic, record.partition)
            positions[tp] = max(positions.get(tp, 0), record.offset + 1)
        self._next.update(positions)
        self.batches += 1
        return positions


async def commit_offsets(app: Any, offsets: Mapping[TP, int]) -> None:
    """Commit input offsets for the partitions this worker still holds, as Faust's own commit
    would, and tell its monitor (the consumer-lag metrics read it)."""
    consumer = app.consumer
    assignment = consumer.assignment()
    mine = {tp: offset for tp, offset in offsets.items() if tp in assignment}
    if not mine:
        return
    if await consumer._commit(mine):
        consumer._committed_offset.update(mine)
        monitor = getattr(app, "monitor", None)
        if monitor is not None:
            monitor.on_tp_commit(mine)
