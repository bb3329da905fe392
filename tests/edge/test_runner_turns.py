"""The batch path gives the event loop its turns (``streams.worker.runner``): a large batch lets
/health, /metrics and the writer run between its records, and the stall watch reads a partition
far behind in batches, never all of it at once. The broker reader and Faust's app are replaced
by fakes of our own interfaces."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.metrics import PipelineMetrics
from streams.state.batch import BATCH_MAX
from streams.worker.guarantee import Cursor, Record
from streams.worker.runner import YIELD_EVERY, Edge, Runner

TOPIC = "opvang.intake"


class _Signal:
    def connect(self, receiver: Any) -> None:
        pass


class FakeApp:
    on_partitions_revoked = _Signal()
    on_partitions_assigned = _Signal()
    should_stop = False


class FakeReader:
    """A partition of ``size`` records on a broker; remembers every range asked for."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.asked: list[tuple[int, int]] = []

    async def read(self, topic: str, partition: int, start: int, stop: int) -> list[Record]:
        self.asked.append((start, stop))
        return [
            Record(topic, partition, offset, 0.0, b"k", b"{}")
            for offset in range(start, min(stop, self.size))
        ]


def runner(reader: FakeReader) -> Runner:
    return Runner(
        FakeApp(),
        PipelineMetrics.create(CollectorRegistry()),
        Edge(),
        reader=reader,  # type: ignore[arg-type]
        deadletter_topic=None,
        audit_topic=None,
        clock=lambda: None,
    )


async def test_a_large_batch_lets_other_tasks_run_between_its_records() -> None:
    handled = 0
    seen_at: list[int] = []

    async def other_task() -> None:
        # What /health or a timer does: runs as soon as the loop gets a turn.
        seen_at.append(handled)

    async def handle_one(record: Record) -> None:
        nonlocal handled
        handled += 1  # no await inside: pure work, as the decision core is

    records = [Record(TOPIC, 0, n, 0.0, None, b"{}") for n in range(3 * YIELD_EVERY)]
    task = asyncio.ensure_future(other_task())
    await runner(FakeReader(0)).each(records, handle_one)
    await task
    assert seen_at and seen_at[0] < len(records)


async def test_a_stalled_partition_is_read_one_batch_at_a_time() -> None:
    size = 2 * BATCH_MAX + 123
    reader = FakeReader(size)
    run = runner(reader)
    batches: list[list[int]] = []

    async def run_batch(cursor: Cursor, events: Sequence[Any], handle: Any) -> None:
        batches.append([e.message.offset for e in events])

    run.run_batch = run_batch  # type: ignore[method-assign]
    cursor = Cursor(FakeApp(), reader)  # type: ignore[arg-type]
    await run._read_through(cursor, TP(TOPIC, 0), 0, size, handle=None)  # type: ignore[arg-type]
    assert [len(b) for b in batches] == [BATCH_MAX, BATCH_MAX, 123]
    assert [o for b in batches for o in b] == list(range(size))
    assert all(stop - start <= BATCH_MAX for start, stop in reader.asked)


async def test_the_read_stops_where_the_agents_own_stream_caught_up() -> None:
    size = 3 * BATCH_MAX
    reader = FakeReader(size)
    run = runner(reader)
    cursor = Cursor(FakeApp(), reader)  # type: ignore[arg-type]
    batches: list[list[int]] = []

    async def run_batch(cur: Cursor, events: Sequence[Any], handle: Any) -> None:
        offsets = [e.message.offset for e in events]
        batches.append(offsets)
        cur.done([e.message for e in events])
        # Meanwhile Faust handed the agent everything up to 2.5 batches on.
        cur.done([Record(TOPIC, 0, int(2.5 * BATCH_MAX) - 1, 0.0, None, None)])

    run.run_batch = run_batch  # type: ignore[method-assign]
    await run._read_through(cursor, TP(TOPIC, 0), 0, size, handle=None)  # type: ignore[arg-type]
    assert batches[0] == list(range(BATCH_MAX))
    assert batches[1][0] == int(2.5 * BATCH_MAX)
    assert batches[-1][-1] == size - 1


class FakeConsumer:
    """Faust's consumer as the stall watch sees it: the last offset it handed over per
    partition, and ``seek_wait``."""

    def __init__(self, handed: int | None, fail: bool = False) -> None:
        self._read_offset: dict[TP, int] = {} if handed is None else {TP(TOPIC, 0): handed}
        self.fail = fail
        self.seeks: list[dict[TP, int]] = []

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        if self.fail:
            raise RuntimeError("partition not assigned")
        self.seeks.append(dict(partitions))


async def read_through_with(consumer: FakeConsumer, size: int) -> None:
    reader = FakeReader(size)
    run = runner(reader)
    run.app.consumer = consumer  # type: ignore[attr-defined]

    async def run_batch(cur: Cursor, events: Sequence[Any], handle: Any) -> None:
        cur.done([e.message for e in events])

    run.run_batch = run_batch  # type: ignore[method-assign]
    cursor = Cursor(FakeApp(), reader)  # type: ignore[arg-type]
    await run._read_through(cursor, TP(TOPIC, 0), 0, size, handle=None)  # type: ignore[arg-type]


async def test_faust_goes_on_after_what_the_watch_read() -> None:
    # Faust handed over nothing of the partition yet: it would fetch, decode and hand over the
    # 3,000 records the watch has handled, for the cursor to drop.
    consumer = FakeConsumer(handed=None)
    await read_through_with(consumer, 3000)
    assert consumer.seeks == [{TP(TOPIC, 0): 3000}]
    behind = FakeConsumer(handed=1200)
    await read_through_with(behind, 3000)
    assert behind.seeks == [{TP(TOPIC, 0): 3000}]


async def test_faust_is_never_moved_back_and_a_failed_move_is_no_error() -> None:
    ahead = FakeConsumer(handed=5000)
    await read_through_with(ahead, 3000)
    assert ahead.seeks == []
    revoked = FakeConsumer(handed=None, fail=True)
    await read_through_with(revoked, 3000)  # the partition went away meanwhile: left as it is
