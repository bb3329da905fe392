"""Reading a small topic whole and then following it, outside any consumer group.

Every worker keeps its own copy of a few small topics (silences, the audit trail): it reads them
from the first offset and applies each record as it comes. This is the loop they share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["follow_topic", "reached"]


async def reached(consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]) -> bool:
    """Whether ``consumer`` has read every partition up to its offset in ``ends``. Offsets, not
    message counts: a compacted topic holds fewer messages than its end offset says."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def follow_topic(
    bootstrap: str,
    topic: str,
    apply: Callable[[str, bytes | None], None],
    ready: asyncio.Event | None = None,
) -> None:
    """Call ``apply(key, value)`` for every keyed record of ``topic``, from the start, forever.
    ``ready`` is set once everything that was on the topic when reading began has been applied."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    if message.key is not None:
                        apply(message.key.decode("utf-8", "replace"), message.value)
            if ready is not None and not ready.is_set() and await reached(consumer, ends):
                ready.set()
    finally:
        await consumer.stop()
