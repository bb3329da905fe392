"""The reader that fills holes and reads stalled partitions (``streams.worker.guarantee.GapReader``)
on a real broker: ranges of one partition after another, exactly the records asked for, with a
short fetch wait so that going from one partition to the next does not wait for a fetch the
broker holds (docs/performance.md, 2026-12-04)."""

from __future__ import annotations

import pytest
import run_topics
from aiokafka import AIOKafkaProducer

from streams.worker.guarantee import READ_FETCH_WAIT_MS, GapReader

pytestmark = pytest.mark.integration


async def test_ranges_of_one_partition_after_another(kafka_bootstrap: str) -> None:
    topic = await run_topics.fresh_topic(kafka_bootstrap, "gapread", 2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for partition in (0, 1):
            for n in range(30):
                await producer.send_and_wait(
                    topic, f"{partition}:{n}".encode(), key=b"k", partition=partition
                )
    finally:
        await producer.stop()

    reader = GapReader(kafka_bootstrap, max_bytes=1024 * 1024)
    try:
        first = await reader.read(topic, 0, 5, 12)
        second = await reader.read(topic, 1, 20, 30)
        again = await reader.read(topic, 0, 28, 30)
        consumer = reader._consumer
        assert consumer is not None
        assert READ_FETCH_WAIT_MS <= 100
        assert consumer._fetch_max_wait_ms == READ_FETCH_WAIT_MS
    finally:
        await reader.stop()
    assert [(r.partition, r.offset, r.value) for r in first] == [
        (0, n, f"0:{n}".encode()) for n in range(5, 12)
    ]
    assert [r.value for r in second] == [f"1:{n}".encode() for n in range(20, 30)]
    assert [r.value for r in again] == [b"0:28", b"0:29"]
