"""How an agent's input is cut into batches (``streams.state.batch.batches``): chunks of a backlog
are joined, live traffic is not held back, and a joined batch never waits for input that does not
come. Faust's stream is replaced by a fake with what ``batches`` uses: ``take_events`` and the
consumer's highwater per partition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from streams.state.batch import BACKLOG_BEHIND, BATCH_MAX, JOIN_WAIT, batches


@dataclass(frozen=True)
class Message:
    tp: str
    offset: int


@dataclass(frozen=True)
class Event:
    message: Message


class Consumer:
    def __init__(self, highwater: int) -> None:
        self.end = highwater

    def highwater(self, tp: str) -> int:
        return self.end


class App:
    def __init__(self, highwater: int) -> None:
        self.consumer = Consumer(highwater)


class FakeStream:
    """Hands over ``chunks`` (sizes) of consecutive offsets of one partition, with ``pause``
    seconds before each, then waits for good (Faust's take_events yields no empty chunk)."""

    def __init__(self, chunks: Sequence[int], highwater: int, pause: float = 0.0) -> None:
        self.chunks = chunks
        self.app = App(highwater)
        self.pause = pause

    async def take_events(self, max_: int, within: float) -> AsyncIterator[list[Event]]:
        offset = 0
        for size in self.chunks:
            await asyncio.sleep(self.pause)
            yield [Event(Message("reports-0", offset + i)) for i in range(size)]
            offset += size
        await asyncio.Event().wait()


async def take(stream: FakeStream, count: int) -> list[list[Any]]:
    got: list[list[Any]] = []
    async for batch in batches(stream):  # type: ignore[arg-type]
        got.append(list(batch))
        if len(got) == count:
            break
    return got


async def test_chunks_of_a_backlog_are_joined_up_to_the_batch_size() -> None:
    chunks = [200] * 25  # 5,000 records, all on the broker already, each chunk taking its time
    got = await take(FakeStream(chunks, highwater=5000, pause=0.06), 2)
    assert [len(b) for b in got] == [BATCH_MAX, BATCH_MAX]
    offsets = [e.message.offset for b in got for e in b]
    assert offsets == list(range(2 * BATCH_MAX))


async def test_live_traffic_is_handled_chunk_by_chunk() -> None:
    # The consumer has seen nothing past each chunk: nothing to wait for.
    stream = FakeStream([3, 5, 2], highwater=0)
    stream.app.consumer = Consumer(highwater=0)
    got = await take(stream, 3)
    assert [len(b) for b in got] == [3, 5, 2]


async def test_a_joined_batch_does_not_wait_for_input_that_does_not_come() -> None:
    # The highwater says more is coming, but the stream hands over nothing more: the batch goes
    # after JOIN_WAIT instead of waiting for the next record.
    stream = FakeStream([300], highwater=300 + BACKLOG_BEHIND + 1)
    started = time.monotonic()
    got = await asyncio.wait_for(take(stream, 1), timeout=5)
    assert [len(b) for b in got] == [300]
    assert time.monotonic() - started < JOIN_WAIT + 1.0


async def test_a_consumer_that_cannot_say_how_far_behind_it_is_joins_nothing() -> None:
    stream = FakeStream([300, 300], highwater=0)
    stream.app = object()  # type: ignore[assignment]
    got = await take(stream, 2)
    assert [len(b) for b in got] == [300, 300]
