"""Reading a whole topic once, outside any consumer group: what the integration tests and the
benchmark read back from the topics a worker wrote (its alerts, notifications, audit trail).

The one reader both use, so that a test and the benchmark agree on what "everything on the
topic" means. Imports aiokafka and ``streams.state.follow`` only: never faust or ``alerts``.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.state.follow import reached

__all__ = ["drain_topic"]


async def drain_topic(
    bootstrap: str, topic: str, *, timeout: float | None = 30.0
) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record on ``topic`` now, from the start to the end offsets found
    when reading began. Read up to the offsets, not to a message count: a compacted topic holds
    fewer messages than its end offset says. Gives back what it has after ``timeout`` seconds
    (``None``: no limit); a topic that does not exist gives nothing."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    records: list[tuple[bytes | None, bytes | None]] = []
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return records
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = None if timeout is None else time.monotonic() + timeout
        while (deadline is None or time.monotonic() < deadline) and not await reached(
            consumer, ends
        ):
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                records.extend((m.key, m.value) for m in messages)
    finally:
        await consumer.stop()
    return records
