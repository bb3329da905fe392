"""The cursor that keeps each agent's input whole: holes that Faust's stream leaves are read back
from the broker, events already handled are dropped, and positions move only when a batch is
durable. The broker side (``GapReader``) is replaced by a fake of our own interface."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.worker.guarantee import Cursor, Record


class FakeReader:
    def __init__(self, log: dict[int, bytes], earliest: int = 0) -> None:
        self.log = log
        self._earliest = earliest
        self.reads: list[tuple[int, int]] = []

    async def earliest(self, topic: str, partition: int) -> int:
        return self._earliest

    async def read(self, topic: str, partition: int, start: int, stop: int) -> list[Record]:
        self.reads.append((start, stop))
        return [
            Record(topic, partition, offset, None, None, value)
            for offset, value in sorted(self.log.items())
            if start <= offset < stop
        ]


def app_with(committed: dict[TP, int], assigned: set[TP] | None = None) -> Any:
    held = assigned if assigned is not None else {TP("in", p) for p in range(4)}
    return SimpleNamespace(
        consumer=SimpleNamespace(_committed_offset=committed, assignment=lambda: held)
    )


def event(offset: int, partition: int = 0, topic: str = "in") -> Any:
    message = SimpleNamespace(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=None,
        key=None,
        value=b"%d" % offset,
    )
    return SimpleNamespace(message=message)


async def test_a_hole_in_the_stream_is_read_back_in_order() -> None:
    log = {n: b"%d" % n for n in range(10)}
    reader = FakeReader(log)
    cursor = Cursor(app_with({TP("in", 0): 3}), reader)  # type: ignore[arg-type]
    records = await cursor.admit([event(3), event(4), event(8), event(9)])
    assert [r.offset for r in records] == [3, 4, 5, 6, 7, 8, 9]
    assert reader.reads == [(5, 8)]


async def test_the_stream_starting_past_the_committed_offset_is_a_hole_too() -> None:
    reader = FakeReader({n: b"x" for n in range(20)})
    cursor = Cursor(app_with({TP("in", 0): 10}), reader)  # type: ignore[arg-type]
    records = await cursor.admit([event(15)])
    assert [r.offset for r in records] == [10, 11, 12, 13, 14, 15]


async def test_without_a_commit_a_partition_starts_where_its_log_begins() -> None:
    reader = FakeReader({n: b"x" for n in range(5)}, earliest=0)
    cursor = Cursor(app_with({}), reader)  # type: ignore[arg-type]
    assert [r.offset for r in await cursor.admit([event(2)])] == [0, 1, 2]


async def test_events_before_the_position_are_dropped_and_positions_move_only_when_done() -> None:
    reader = FakeReader({})
    cursor = Cursor(app_with({TP("in", 0): 5, TP("in", 1): 0}), reader)  # type: ignore[arg-type]
    first = await cursor.admit([event(4), event(5), event(0, partition=1)])
    assert [(r.partition, r.offset) for r in first] == [(0, 5), (1, 0)]
    # Not durable yet: the same events come again (the batch failed) and are admitted again.
    again = await cursor.admit([event(5), event(0, partition=1)])
    assert [(r.partition, r.offset) for r in again] == [(0, 5), (1, 0)]
    assert cursor.done(again) == {TP("in", 0): 6, TP("in", 1): 1}
    assert await cursor.admit([event(5), event(6)]) == [Record("in", 0, 6, None, None, b"6")]
    assert reader.reads == []


async def test_a_rebalance_forgets_the_positions() -> None:
    committed = {TP("in", 0): 2}
    cursor = Cursor(app_with(committed), FakeReader({}))  # type: ignore[arg-type]
    cursor.done(await cursor.admit([event(2)]))
    committed[TP("in", 0)] = 1  # another worker held it meanwhile and committed less
    cursor.reset()
    assert [r.offset for r in await cursor.admit([event(1)])] == [1]


async def test_events_of_a_partition_this_worker_no_longer_holds_are_dropped() -> None:
    reader = FakeReader({n: b"x" for n in range(5)})
    app = app_with({TP("in", 0): 0, TP("in", 1): 0}, assigned={TP("in", 0)})
    cursor = Cursor(app, reader)
    records = await cursor.admit([event(0), event(3, partition=1)])
    assert [(r.partition, r.offset) for r in records] == [(0, 0)]
    assert reader.reads == []
