"""An in-memory Kafka log and the part of ``aiokafka.AIOKafkaConsumer`` that the followers of
small topics use (assign, seek to the beginning, getmany, position, end_offsets), for unit tests
of those loops without a broker. Patch it in where the module under test builds its consumer::

    log = FakeLog()
    monkeypatch.setattr(streams.state.follow, "AIOKafkaConsumer", log.consumer)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0  # ms, as aiokafka gives it


@dataclass
class FakeLog:
    partitions: dict[str, int] = field(default_factory=dict)
    records: dict[TopicPartition, list[Record]] = field(default_factory=dict)
    #: How many records one getmany returns at most, per partition.
    batch: int = 5
    consumers: list[FakeConsumer] = field(default_factory=list)

    def append(
        self, topic: str, key: bytes | None, value: bytes | None, *, partition: int = 0
    ) -> Record:
        self.partitions[topic] = max(self.partitions.get(topic, 1), partition + 1)
        log = self.records.setdefault(TopicPartition(topic, partition), [])
        record = Record(topic, partition, len(log), key, value, int(time.time() * 1000))
        log.append(record)
        return record

    def extend(self, topic: str, items: Iterable[tuple[bytes | None, bytes | None]]) -> None:
        for key, value in items:
            self.append(topic, key, value)

    def end(self, tp: TopicPartition) -> int:
        return len(self.records.get(tp, ()))

    def consumer(self, **_: Any) -> FakeConsumer:
        made = FakeConsumer(self)
        self.consumers.append(made)
        return made


class FakeConsumer:
    def __init__(self, log: FakeLog) -> None:
        self.log = log
        self.assigned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.started = self.stopped = False
        self.end_offsets_calls = 0
        #: Seconds each end_offsets call takes (the real one waits behind a held fetch).
        self.end_offsets_delay = 0.0

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        count = self.log.partitions.get(topic)
        return None if count is None else set(range(count))

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)
        for tp in partitions:
            self.positions.setdefault(tp, 0)

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self.positions[tp] = 0

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.end_offsets_calls += 1
        if self.end_offsets_delay:
            await asyncio.sleep(self.end_offsets_delay)
        return {tp: self.log.end(tp) for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Record]]:
        found: dict[TopicPartition, list[Record]] = {}
        for tp in self.assigned:
            start = self.positions[tp]
            taken = self.log.records.get(tp, [])[start : start + self.log.batch]
            if taken:
                found[tp] = taken
                self.positions[tp] = start + len(taken)
        if not found:
            await asyncio.sleep(min(timeout_ms, 10) / 1000)
        else:
            await asyncio.sleep(0)
        return found
