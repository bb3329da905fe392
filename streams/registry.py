"""The locations every worker needs: the compacted locations topic, read whole and then tailed.

Each worker reads all of ``opvang.locations`` itself (a hand-made global table) with a plain
consumer that belongs to no group, so a report is never judged against a partial list. Report
agents wait for :attr:`LocationRegistry.ready`, set once the topic has been read to its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.errors import InvalidReport
from alerts.model import Location
from streams.follow import reached
from streams.records import location_to_domain

__all__ = ["LocationRegistry"]

log = structlog.get_logger(__name__)

DeadLetterSink = Callable[
    [str, int, int, bytes | None, InvalidReport, bytes | None], Awaitable[None]
]


class LocationRegistry:
    def __init__(self) -> None:
        self._locations: dict[str, Location] = {}
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}

    def get(self, location_id: str) -> Location | None:
        return self._locations.get(location_id)

    def all(self) -> list[Location]:
        return list(self._locations.values())

    def __len__(self) -> int:
        return len(self._locations)

    def apply(self, key: bytes | None, value: bytes | None) -> Location | None:
        """Apply one record of the locations topic. A tombstone (no value) removes the key."""
        if value is None:
            if key is not None:
                self._locations.pop(key.decode("utf-8", "replace"), None)
            return None
        location = location_to_domain(value)
        self._locations[location.location_id] = location
        return location

    async def follow(
        self, bootstrap: str, topic: str, dead_letter: DeadLetterSink, *, poll_ms: int = 200
    ) -> None:
        """Read ``topic`` from the beginning; set ``ready`` at its end; keep following it."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for p in sorted(consumer.partitions_for_topic(topic) or {0})
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            self._consumer, self._partitions = consumer, partitions
            end = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=poll_ms)
                for tp, messages in batches.items():
                    if messages:
                        self._positions[tp] = messages[-1].offset + 1
                    for message in messages:
                        try:
                            self.apply(message.key, message.value)
                        except InvalidReport as exc:
                            await dead_letter(
                                tp.topic,
                                tp.partition,
                                message.offset,
                                message.key,
                                exc,
                                message.value,
                            )
                if not self.ready.is_set() and await reached(consumer, end):
                    self.ready.set()
                    log.info("locations loaded", count=len(self._locations), topic=topic)
        finally:
            self._consumer = None
            await consumer.stop()

    async def caught_up(self, timeout: float = 5.0) -> None:
        """Wait until everything on the locations topic *now* has been read: a location
        published a moment before its first report is then known when that report is judged."""
        consumer = self._consumer
        if consumer is None or not self._partitions:
            return
        end = await consumer.end_offsets(self._partitions)
        deadline = asyncio.get_running_loop().time() + timeout
        while any(self._positions.get(tp, 0) < end[tp] for tp in self._partitions):
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.05)
