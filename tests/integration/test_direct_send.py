"""The worker's topic class (``streams.worker.faust_patches.DirectTopic``) sends what Faust's own
``Topic.send`` sends, on a real broker: the same key and value bytes, partition and headers, for
raw outputs and for a table's changelog writes (JSON keys, the state codecs, deletes), and the
sensors hear of every send and its delivery as they do from Faust. Only its cost differs
(docs/performance.md, 2026-12-04)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import faust
import pytest
import run_topics
from aiokafka import AIOKafkaConsumer

from alerts.capacity.totals import Contribution
from streams.state import codecs
from streams.state.aggregates import MemberRow
from streams.state.split import VersionedRows, Versions
from streams.worker.faust_patches import DirectTopic

pytestmark = pytest.mark.integration


class CountingSensor(faust.Sensor):  # type: ignore[misc]  # faust's Sensor is untyped for mypy
    def __init__(self) -> None:
        super().__init__()
        self.initiated: list[tuple[str, int, int]] = []
        self.completed = 0

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        self.initiated.append((topic, keysize, valsize))
        return len(self.initiated)

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        self.completed += 1


_SHARES = tuple(
    Contribution("ter-apel", "GR", dt.date(2022, 8, day), 1900, 2000, "Ter Apel", flow_days=7)
    for day in (1, 2)
)

# (key, value, partition, key serializer, value serializer): raw outputs, a changelog key in
# JSON with a value through JSON, a member row through the worker's record codec, a text key
# through the raw codec, a delete (no value), no key at all.
SENDS: list[tuple[Any, Any, int | None, str, str]] = [
    (b"ter-apel", b'{"rule":"cap_exceeded"}', 0, "raw", "raw"),
    (b"ter-apel", b"\x00\xffbytes", None, "raw", "raw"),
    ("ter-apel|week-of-2025-01-06", {"seq": 3, "row": {"d": [[1, 2]]}}, 1, "json", "json"),
    (
        "GR|ter-apel",
        Versions(4, MemberRow(_SHARES), 3, MemberRow(_SHARES[:1])),
        1,
        "json",
        codecs.serializer(VersionedRows(MemberRow)),
    ),
    ("ter-apel", b"text key", 0, "raw", "raw"),
    ("ter-apel|week-of-2025-01-06", None, 1, "json", "raw"),
    (None, b"no key", 2, "raw", "raw"),
]


# The sends above that name a partition, as the changelog writer hands them to send_many: per
# partition and codecs, in order. A delete goes with the table's value codec (JSON here) and
# must still be a tombstone, as Faust's raw send of None is.
MANY: list[tuple[int, str, str, list[tuple[Any, Any]]]] = [
    (0, "raw", "raw", [(SENDS[0][0], SENDS[0][1]), (SENDS[4][0], SENDS[4][1])]),
    (1, "json", "json", [(SENDS[2][0], SENDS[2][1]), (SENDS[5][0], None)]),
    (1, "json", SENDS[3][4], [(SENDS[3][0], SENDS[3][1])]),
    (2, "raw", "raw", [(None, SENDS[6][1])]),
]


def _app(bootstrap: str, topic_class: Any, **settings: Any) -> faust.App:
    """An app of its own for a test's sends, every send acknowledged by all replicas."""
    return faust.App(
        f"direct-send-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        Topic=topic_class,
        producer_acks=-1,
        **settings,
    )


async def _send_all(
    bootstrap: str, topic_class: Any, topic_name: str, *, many: bool = False
) -> CountingSensor:
    app = _app(bootstrap, topic_class)
    sensor = CountingSensor()
    app.sensors.add(sensor)
    topic = app.topic(topic_name, partitions=3)
    assert type(topic) is topic_class
    await app.maybe_start_producer()
    try:
        await topic.maybe_declare()
        for partition, key_serializer, value_serializer, messages in MANY if many else []:
            deliveries = await topic.send_many(
                partition,
                messages,
                key_serializer=key_serializer,
                value_serializer=value_serializer,
            )
            assert len(deliveries) == 1  # one batch for the partition's messages
            await asyncio.gather(*deliveries)
        for key, value, partition, key_serializer, value_serializer in SENDS:
            if many and partition is not None:
                continue  # sent above
            delivery = await topic.send(
                key=key,
                value=value,
                partition=partition,
                key_serializer=key_serializer,
                value_serializer=value_serializer,
            )
            await delivery  # the producer's delivery future, as Topic.send returns it
        # A send with a callback is one DirectTopic leaves to Faust: the callback is called.
        called: list[Any] = []
        await (await topic.send(key=b"k", value=b"v", partition=0, callback=called.append))
        await asyncio.sleep(0)  # the delivery callbacks run
        assert len(called) == 1
    finally:
        await app.producer.stop()
    return sensor


async def _read(bootstrap: str, topic: str, count: int) -> list[tuple[Any, ...]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[tuple[Any, ...]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        found.append((r.partition, r.key, r.value, tuple(r.headers)))
    finally:
        await consumer.stop()
    return sorted(found, key=repr)


async def test_sends_in_one_batch_are_the_bytes_faust_sends(kafka_bootstrap: str) -> None:
    prefix = f"direct-{uuid.uuid4().hex[:8]}."
    run_topics.remember(kafka_bootstrap, prefix)
    faust_topic, batched_topic = prefix + "faust", prefix + "batched"
    assert sum(len(m) for *_, m in MANY) == sum(1 for s in SENDS if s[2] is not None)
    by_faust = await _send_all(kafka_bootstrap, faust.Topic, faust_topic)
    by_batch = await _send_all(kafka_bootstrap, DirectTopic, batched_topic, many=True)

    sent_by_faust = await _read(kafka_bootstrap, faust_topic, len(SENDS) + 1)
    sent_in_batches = await _read(kafka_bootstrap, batched_topic, len(SENDS) + 1)
    assert sent_in_batches == sent_by_faust
    assert (1, b'"ter-apel|week-of-2025-01-06"', None, ()) in sent_in_batches  # a tombstone
    # The sensors hear of every message, begun and delivered, with the same sizes.
    assert sorted((k, v) for _, k, v in by_batch.initiated) == sorted(
        (k, v) for _, k, v in by_faust.initiated
    )
    assert by_batch.completed == by_faust.completed == len(SENDS) + 1


async def test_direct_sends_are_the_bytes_faust_sends(kafka_bootstrap: str) -> None:
    prefix = f"direct-{uuid.uuid4().hex[:8]}."
    run_topics.remember(kafka_bootstrap, prefix)
    faust_topic, direct_topic = prefix + "faust", prefix + "direct"
    by_faust = await _send_all(kafka_bootstrap, faust.Topic, faust_topic)
    by_direct = await _send_all(kafka_bootstrap, DirectTopic, direct_topic)

    sent_by_faust = await _read(kafka_bootstrap, faust_topic, len(SENDS) + 1)
    sent_directly = await _read(kafka_bootstrap, direct_topic, len(SENDS) + 1)
    assert sent_directly == sent_by_faust
    assert len(sent_by_faust) == len(SENDS) + 1
    # A send without a partition goes where the producer's partitioner puts its key, in both.
    assert {(p, k) for p, k, _, _ in sent_by_faust} >= {(0, b"ter-apel"), (2, None)}
    assert (1, b'"ter-apel|week-of-2025-01-06"', None, ()) in sent_by_faust

    assert [(size_k, size_v) for _, size_k, size_v in by_direct.initiated] == [
        (size_k, size_v) for _, size_k, size_v in by_faust.initiated
    ]
    assert [t for t, _, _ in by_direct.initiated] == [direct_topic] * (len(SENDS) + 1)
    assert by_direct.completed == by_faust.completed == len(SENDS) + 1


async def test_more_than_a_batch_holds_goes_out_in_several_in_order(kafka_bootstrap: str) -> None:
    """A partition's messages beyond the producer's batch size start a new batch each time one
    is full: every message arrives, in the order given, and each batch has its delivery."""
    prefix = f"direct-{uuid.uuid4().hex[:8]}."
    run_topics.remember(kafka_bootstrap, prefix)
    app = _app(kafka_bootstrap, DirectTopic, producer_max_batch_size=600)
    topic = app.topic(prefix + "many", partitions=1)
    messages = [(f"key-{n}".encode(), bytes([65 + n % 26]) * 100) for n in range(20)]
    await app.maybe_start_producer()
    try:
        await topic.maybe_declare()
        deliveries = await topic.send_many(
            0, messages, key_serializer="raw", value_serializer="raw"
        )
        await asyncio.gather(*deliveries)
    finally:
        await app.producer.stop()
    assert len(deliveries) >= 4  # 20 messages of about 110 bytes, batches of 600 bytes
    consumer = AIOKafkaConsumer(
        prefix + "many", bootstrap_servers=kafka_bootstrap, group_id=None,
        auto_offset_reset="earliest",
    )  # fmt: skip
    await consumer.start()
    found: list[tuple[bytes | None, bytes | None]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < len(messages):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    assert found == messages
