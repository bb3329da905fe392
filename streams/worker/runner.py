"""How every stage runs a batch: the one path from a batch of input records to outputs sent,
state written and offsets committed (the guarantee of ``streams.worker.guarantee``), shared by
all agents and by the stall watch.

A stage hands :meth:`Runner.run_batch` its cursor, the batch's events and a ``handle`` function.
``handle`` sends its outputs through :meth:`Runner.emit` and returns the overlays it staged state
in; the runner then queues the batch for the agent's :class:`BatchWriter`, which writes in the
order the guarantee needs and commits.

What ``kill -9`` does between any two lines here: nothing that is not read again. Offsets are
committed only after the outputs, rows and heads of every batch before them are acknowledged, and
the heads carry the input offsets they reflect, so a record read again is recognised.

Imports Faust's types only; the app is handed in.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import structlog
from faust.types import TP

from alerts.errors import InvalidReport
from streams.metrics import PipelineMetrics
from streams.records import dead_letter, dead_letter_key, encode
from streams.state.audit import AuditEntry
from streams.state.batch import BATCH_MAX, Overlay
from streams.state.split import Changes
from streams.worker.guarantee import Cursor, GapReader, Outputs, Record, commit_offsets

__all__ = [
    "COMMIT_EVERY",
    "STALL_BUSY_CHECKS",
    "STALL_CHECK_SECONDS",
    "WRITER_BACKLOG",
    "YIELD_EVERY",
    "Edge",
    "Handle",
    "Runner",
    "StallMarks",
    "stalled",
]

log = structlog.get_logger("opvangwacht.worker")

#: A stage's batch handler: the batch's records in, the overlays its state was staged in out.
Handle = Callable[[list[Record]], Awaitable[list[Overlay]]]
#: Sends one message: (topic, key, value, partition) -> the delivery future (or None).
Send = Callable[[Any, bytes | None, bytes | None, int | None], Awaitable[Any]]

#: Batches an agent may hand its writer before it waits: in live traffic a batch every 50 ms meets
#: writes that take a few round trips to the broker each.
WRITER_BACKLOG = 8
#: Seconds between offset commits while batches queue up for a writer; an idle writer commits at
#: once, so the input lag reaches 0 as soon as the worker has caught up.
COMMIT_EVERY = 0.5
#: Records a batch handles between two turns of the event loop (``Runner.each``).
YIELD_EVERY = 100
#: How often each agent checks that its partitions move (see ``Runner.stall_watch``).
#: (Every 2 s was tried: a partition Faust did not fetch after a restart was seen sooner, but in
#: a backlog the province agent's partitions, idle for a few seconds behind a poll, were read
#: twice again; docs/performance.md 2026-12-04.)
STALL_CHECK_SECONDS = 5.0
#: Checks in a row a partition must stand still while its agent is busy with other partitions
#: before the watch reads it itself (see :func:`stalled`): 30 s.
STALL_BUSY_CHECKS = 6


@dataclasses.dataclass(frozen=True, slots=True)
class StallMarks:
    """What the stall watch saw at its last check: each lagging partition's position and for how
    many checks in a row it stood there, and how many batches the agent had handed over."""

    positions: Mapping[TP, tuple[int, int]] = dataclasses.field(default_factory=dict)
    batches: int = -1


def stalled(
    marks: StallMarks, behind: Mapping[TP, tuple[int, int]], batches: int
) -> tuple[dict[TP, tuple[int, int]], StallMarks]:
    """The partitions the agent must read itself, and the marks for the next check.

    ``behind``: the agent's partitions whose log goes on past its position, as (position, end);
    ``batches``: how many batches the agent has handed over so far.

    A partition is stalled when it has records past the agent's position and did not move since
    the last check, while the agent handed over no batch in between: Faust's consumer has been
    seen to stop fetching partitions after a restart, and the agent then waits for records that
    never come. While the agent is busy, a partition that stands still is usually only queued
    behind the others' batches: reading it then read whole ranges twice and let the occupancy
    topic run far ahead of the intake topic (docs/performance.md, issue 12). A busy agent's
    partition counts as stalled only after STALL_BUSY_CHECKS checks in a row, so a partition
    Faust left behind is still read while other partitions keep the agent busy."""
    busy = marks.batches >= 0 and batches != marks.batches
    positions: dict[TP, tuple[int, int]] = {}
    found: dict[TP, tuple[int, int]] = {}
    for tp, span in behind.items():
        before = marks.positions.get(tp)
        checks = before[1] + 1 if before is not None and before[0] == span[0] else 0
        if checks >= (STALL_BUSY_CHECKS if busy else 1):
            found[tp] = span
            checks = 0
        positions[tp] = (span[0], checks)
    return found, StallMarks(positions, batches)


async def send_to_topic(
    topic: Any, key: bytes | None, value: bytes | None, partition: int | None = None
) -> Any:
    return await topic.send(key=key, value=value, partition=partition)


@dataclasses.dataclass(frozen=True, slots=True)
class Edge:
    """Where the worker touches the broker beyond Faust's own streams and tables. The composition
    root uses the real ones; the agent tests pass recording fakes (no broker there)."""

    #: Every message the worker sends (outputs, ticks, the API's writes) goes through this.
    send: Send = send_to_topic
    #: Commits input offsets (``streams.worker.guarantee.commit_offsets``).
    commit: Callable[[Any, dict[TP, int]], Awaitable[None]] = commit_offsets
    #: Reads records straight from the broker (holes, stalls); None: a GapReader on the broker.
    reader: Any = None
    #: The partitions this worker holds; None: ask Faust's consumer.
    assignment: Callable[[], set[TP] | None] | None = None
    #: What a batch that could not be written does; None: the worker exits with code 70.
    fatal: Callable[[BaseException], None] | None = None


class Runner:
    """The batch path of one worker (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        metrics: PipelineMetrics,
        edge: Edge,
        *,
        reader: GapReader,
        deadletter_topic: Any,
        audit_topic: Any,
        clock: Callable[[], Any],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.edge = edge
        self.reader = reader
        self.clock = clock
        self._deadletter = deadletter_topic
        self._audit = audit_topic
        self._outputs: contextvars.ContextVar[Outputs | None] = contextvars.ContextVar(
            "outputs", default=None
        )
        self._writers: dict[str, BatchWriter] = {}
        self._cursors: list[Cursor] = []
        self._stall_marks: dict[str, StallMarks] = {}
        app.on_partitions_revoked.connect(self._reset_cursors)
        app.on_partitions_assigned.connect(self._reset_cursors)

    # ------------------------------------------------------------ sending

    async def emit(
        self, topic: Any, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        """Send a message; inside a batch, the batch waits for its delivery before writing
        state."""
        outputs = self._outputs.get()
        if outputs is not None:
            outputs.add(await self.edge.send(topic, key, value, partition))
        else:
            await self.edge.send(topic, key, value, partition)

    async def audit(self, alert_id: str, entry: AuditEntry) -> None:
        """One entry of the audit trail (``streams.state.audit``), keyed by its alert."""
        record = {"time": self.clock().isoformat(), **entry.to_dict()}
        await self.emit(self._audit, alert_id.encode(), encode(record))

    async def send_dead_letter(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        error: InvalidReport,
        value: bytes | None,
    ) -> None:
        record = dead_letter(
            source_topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            reason=error.reason,
            detail=error.detail,
            payload=value,
        )
        await self.emit(self._deadletter, dead_letter_key(key), encode(record))
        self.metrics.events.labels(topic, f"dead_letter:{error.reason}").inc()
        log.warning(
            "dead letter", topic=topic, offset=offset, reason=error.reason, detail=error.detail
        )

    async def reject(self, record: Record, error: InvalidReport) -> None:
        await self.send_dead_letter(
            record.topic, record.partition, record.offset, record.key, error, record.value
        )

    async def each(
        self, records: list[Record], handle_one: Callable[[Record], Awaitable[None]]
    ) -> None:
        """Handle a batch's records one by one: one that does not decode is dead-lettered with
        its reason, one the core fails on as ``internal``; the batch goes on either way."""
        for count, record in enumerate(records, 1):
            if count % YIELD_EVERY == 0:
                # A batch of 2,000 reports takes a second or more: let /health, /metrics and
                # the writer run in between (a backlog held the loop for over 5 s otherwise).
                await asyncio.sleep(0)
            try:
                await handle_one(record)
            except InvalidReport as exc:
                await self.reject(record, exc)
            except Exception as exc:
                log.exception("record failed", topic=record.topic, offset=record.offset)
                await self.reject(record, internal(exc))

    # ------------------------------------------------------------ batches

    def cursor(self) -> Cursor:
        """A cursor for one agent; reset with every rebalance."""
        cursor = Cursor(
            self.app, self.reader, self._count_read_back, assignment=self.edge.assignment
        )
        self._cursors.append(cursor)
        return cursor

    def _count_read_back(self, topic: str, count: int) -> None:
        self.metrics.read_back.labels(topic).inc(count)

    async def _reset_cursors(self, *_: Any, **__: Any) -> None:
        """After a rebalance the committed offsets are the truth again (``Cursor.reset``)."""
        for cursor in self._cursors:
            cursor.reset()

    async def run_batch(self, cursor: Cursor, events: Sequence[Any], handle: Handle) -> None:
        """One batch of an agent: handle every record (sending its outputs) and stage its state;
        then hand the batch to the agent's writer, which waits for the outputs and changed rows,
        then the heads, then deletes rows and commits the input offsets, while the agent goes on
        with the next batch."""
        async with cursor.lock():
            await self._run_batch(cursor, events, handle)

    async def _run_batch(self, cursor: Cursor, events: Sequence[Any], handle: Handle) -> None:
        name = getattr(handle, "__name__", "batch").lstrip("_")
        try:
            clock = time.perf_counter()
            records = await cursor.admit(events)
            if not records:
                return
            outputs = Outputs()
            token = self._outputs.set(outputs)
            try:
                overlays = await handle(records)
            finally:
                self._outputs.reset(token)
            changes = Changes()
            for overlay in overlays:
                overlay.stage(changes)
            lap(self.metrics.batch_steps, name, "handle", clock)
            writer = self._writers.get(name)
            if writer is None:
                writer = self._writers[name] = BatchWriter(name, self)
            await writer.put(outputs, changes, cursor.done(records))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.fatal(exc)

    async def drain(self) -> None:
        """Wait until every batch handed to a writer is written (tests)."""
        for writer in list(self._writers.values()):
            await writer.drain()

    def fatal(self, exc: BaseException) -> None:
        """A batch whose outputs or state could not be written: nothing of it was committed, so
        the worker stops with a non-zero exit code and its supervisor restarts it at the
        uncommitted offsets. Carrying on would skip the batch. While the worker is stopping
        (SIGTERM), a write cut off by the producer or the event loop closing is expected: the
        batch is read again at the next start all the same, and the exit stays clean."""
        if self.edge.fatal is not None:
            self.edge.fatal(exc)
            return
        if self.app.should_stop:
            log.info("batch left unwritten by the stop; it is read again at the next start")
            return
        log.critical("batch failed; stopping so that it is read again", error=repr(exc))
        logging.shutdown()
        os._exit(70)

    # ------------------------------------------------------------ stalls

    def stall_watch(
        self, name: str, cursor: Cursor, topics: Iterable[str], handle: Handle, *, ready: Any
    ) -> None:
        """Check every STALL_CHECK_SECONDS that the agent's partitions move (see ``_watch``);
        ``ready`` is an event set once the stage may handle records."""
        topic_names = tuple(topics)

        async def check() -> None:
            try:
                await self._watch(name, cursor, topic_names, handle, ready)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker did not answer: try again at the next check
                log.warning("stall check failed", agent=name, error=str(exc)[:300])

        check.__name__ = f"watch_{name}"
        self.app.timer(interval=STALL_CHECK_SECONDS)(check)

    async def _watch(
        self, name: str, cursor: Cursor, topics: Iterable[str], handle: Handle, ready: Any
    ) -> None:
        """A partition with records past the agent's position that did not move since the last
        check is stalled: after a restart, Faust's consumer has been seen to stop fetching
        partitions for good (the year benchmark: 425 of 800 new reports, then nothing for
        minutes, with lag on half the input partitions). Its records are read straight from the
        broker and go through the same batch path. Never during a rebalance or a recovery (a
        stall check then handled records beside Faust's own table recovery, and the crash test
        caught false report_missing alerts), and only once the locations are loaded."""
        state: Any = self.app
        busy = (
            state.rebalancing
            or getattr(state, "in_recovery", False)
            or not state.flow_control.is_active()
            or not cast(Any, self.app.tables).recovery.completed.is_set()
            or not ready.is_set()
        )
        if busy:
            # A rebalance pauses every stream and may read tables back: nothing is stalled then,
            # and nothing may be handled beside Faust's recovery.
            self._stall_marks.pop(name, None)
            return
        wanted = set(topics)
        tps = [tp for tp in self.app.consumer.assignment() if tp.topic in wanted]
        behind = await cursor.behind(tps)
        found, self._stall_marks[name] = stalled(
            self._stall_marks.get(name, StallMarks()), behind, cursor.batches
        )
        for tp, (start, end) in found.items():
            log.warning(
                "partition stalled; reading it directly",
                topic=tp.topic,
                partition=tp.partition,
                start=start,
                end=end,
            )
            await self._read_through(cursor, tp, start, end, handle)

    async def _read_through(
        self, cursor: Cursor, tp: TP, start: int, end: int, handle: Handle
    ) -> None:
        """Read ``[start, end)`` of a stalled partition straight from the broker and hand it to
        the batch path, one batch at a time: a partition far behind (24,000 records in the year
        benchmark) is never held in memory at once, and the event loop answers /health and
        /metrics between the batches. Stops early where the agent's own stream has caught up."""
        position = start
        while position < end:
            position = max(position, cursor.position(tp) or position)
            if position >= end:
                break
            stop = min(end, position + BATCH_MAX)
            records = await self.reader.read(tp.topic, tp.partition, position, stop)
            self.metrics.read_back.labels(tp.topic).inc(len(records))
            if records:
                await self.run_batch(cursor, [_Event(r) for r in records], handle)
            position = stop
        await self._move_faust_past(tp, cursor.position(tp))

    async def _move_faust_past(self, tp: TP, position: int | None) -> None:
        """Let Faust's consumer go on at ``position`` in ``tp`` when it is still before it: the
        records before it are handled (the stall watch read them), and Faust would otherwise
        fetch, decode and hand them over again for the cursor to drop (in the year benchmark
        most of the province, national and alert records, read late by Faust after the watch).
        Only ever forward; nothing is lost either way, since the cursor reads back any hole
        before a record Faust hands over. A partition taken away meanwhile (a rebalance) is left
        as it is."""
        consumer = getattr(self.app, "consumer", None)
        seek = getattr(consumer, "seek_wait", None)
        if position is None or seek is None:
            return
        handed = getattr(consumer, "_read_offset", {}).get(tp)
        if handed is not None and handed >= position - 1:
            return  # Faust has handed over everything before ``position`` already
        try:
            await seek({tp: position})
        except Exception as exc:  # not assigned any more, or the consumer is stopping
            log.info("Faust's consumer left where it was", topic=tp.topic, error=str(exc)[:200])


@dataclasses.dataclass(frozen=True, slots=True)
class _Event:
    """A record read from the broker, in the shape of a stream's event."""

    message: Record


def internal(exc: BaseException) -> InvalidReport:
    """An input that made an agent fail: dead-lettered, so the batch and the worker go on."""
    return InvalidReport("internal", f"{type(exc).__name__}: {exc}"[:500])


def lap(histogram: Any, agent: str, step: str, since: float) -> float:
    now = time.perf_counter()
    histogram.labels(agent, step).observe(now - since)
    return now


class BatchWriter:
    """Writes an agent's batches in order, one at a time, in the steps of
    ``streams.worker.guarantee``: outputs and rows acknowledged, then heads (and plain table
    values) acknowledged, then deletes, then the input offsets committed. The agent hands a batch
    over and goes on with the next one; up to WRITER_BACKLOG wait here (the queue's bound), so
    the agent's handling and the broker's round trips overlap. The rows of a batch are sent only
    after the heads of the batch before are acknowledged: a row is never more than one version
    ahead of the head on the changelog (``streams.state.split``)."""

    def __init__(self, agent: str, runner: Runner) -> None:
        self.agent = agent
        self._runner = runner
        self._queue: asyncio.Queue[tuple[Outputs, Changes, dict[TP, int]]]
        self._queue = asyncio.Queue(WRITER_BACKLOG)
        self._task: asyncio.Task[None] | None = None
        #: Offsets durable but not committed yet, and when offsets were last committed.
        self._uncommitted: dict[TP, int] = {}
        self._committed_at = 0.0

    async def put(self, outputs: Outputs, changes: Changes, offsets: dict[TP, int]) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        await self._queue.put((outputs, changes, offsets))

    async def _run(self) -> None:
        runner = self._runner
        steps = runner.metrics.batch_steps
        while True:
            outputs, changes, offsets = await self._queue.get()
            try:
                clock = time.perf_counter()
                await outputs.settle(await Changes.send(changes.rows))
                clock = lap(steps, self.agent, "outputs_and_rows", clock)
                await Changes.settle(await Changes.send(changes.heads))
                clock = lap(steps, self.agent, "heads", clock)
                await Changes.send(changes.deletes)
                self._uncommitted.update(offsets)
                # Committing is for a quick restart and the lag metrics, not for correctness
                # (the heads carry the offsets): in a backlog it is done twice a second, not per
                # batch.
                if self._queue.qsize() == 0 or clock - self._committed_at >= COMMIT_EVERY:
                    await runner.edge.commit(runner.app, self._uncommitted)
                    self._uncommitted = {}
                    self._committed_at = clock
                    lap(steps, self.agent, "commit", clock)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                runner.fatal(exc)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every batch handed over is written (tests)."""
        await self._queue.join()
