"""The broker side of a run: checking the broker, creating and deleting topics, producing the
input, a plain consumer's baseline, and the worker's consumer group lag."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.data import Dataset
from bench.harness import RunFailed, say
from streams.settings import Settings, load_alerting_config
from streams.state.follow import reached
from streams.worker.app import build_worker


async def check_broker(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), 15)
    except Exception as exc:
        raise RunFailed(
            f"no Kafka broker answers on {bootstrap} ({type(exc).__name__}: {exc}); start one "
            "(`opvangwacht kafka start`) or set OPVANG_KAFKA_BOOTSTRAP"
        ) from None
    await admin.close()


async def create_topics(bootstrap: str, prefix: str, partitions: int) -> list[str]:
    from streams.topics import ensure_topics

    # The environment's settings (OPVANG_REPLICATION_FACTOR on a cluster), with the run's own.
    settings = dataclasses.replace(
        Settings.from_env(), bootstrap=bootstrap, topic_prefix=prefix, partitions=partitions
    )
    return await ensure_topics(settings)


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from aiokafka.admin import NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str, app_id: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        names = [
            t
            for t in await admin.list_topics()
            if t.startswith(prefix) or t.startswith(app_id + "-")
        ]
        if names:
            await admin.delete_topics(names)
        return sorted(names)
    finally:
        await admin.close()


async def produce_backlog(bootstrap: str, prefix: str, data: Dataset) -> float:
    """Publish the locations, then the occupancy reports; seconds spent on the reports."""
    await produce_locations(bootstrap, prefix, data.locations)
    messages = ((f"{prefix}occupancy", key, value) for key, value in data.reports)
    return await produce_messages(bootstrap, messages, len(data.reports))


async def produce_locations(bootstrap: str, prefix: str, locations: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = [
            await producer.send(
                f"{prefix}locations", key=loc["location_id"].encode(), value=encode_json(loc)
            )
            for loc in locations
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_messages(
    bootstrap: str, messages: Iterable[tuple[str, str, dict[str, Any]]], total: int
) -> float:
    """Publish (topic, key, value) in order, as fast as the broker takes them; seconds spent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        futures = []
        started = time.monotonic()
        last_report = started
        for i, (topic, key, value) in enumerate(messages, start=1):
            futures.append(await producer.send(topic, key=key.encode(), value=encode_json(value)))
            if len(futures) >= 2000:
                await asyncio.gather(*futures)
                futures.clear()
            if time.monotonic() - last_report >= 2.0:
                last_report = time.monotonic()
                say(f"  produced {i:,}/{total:,}")
        await asyncio.gather(*futures)
        return time.monotonic() - started
    finally:
        await producer.stop()


def encode_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


async def baseline_consume(
    bootstrap: str, topic: str, partitions: int, expected: int
) -> dict[str, Any]:
    """A plain consumer (no group) reads the topic from the start and json-decodes every value."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count = 0
        decoded_bytes = 0
        t_start = time.monotonic()
        t_first: float | None = None
        deadline = t_start + max(60.0, expected / 1000)
        while count < expected:
            if time.monotonic() > deadline:
                raise RunFailed(f"baseline consumer read only {count}/{expected} messages")
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                for message in messages:
                    if t_first is None:
                        t_first = time.monotonic()
                    json.loads(message.value)
                    decoded_bytes += len(message.value)
                    count += 1
        t_end = time.monotonic()
        assert t_first is not None
        return {
            "events": count,
            "seconds_first_to_last": t_end - t_first,
            "seconds_incl_first_fetch": t_end - t_start,
            "events_per_s": count / (t_end - t_first) if t_end > t_first else float("inf"),
            "mean_value_bytes": decoded_bytes / max(count, 1),
        }
    finally:
        await consumer.stop()


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: Iterable[str]
) -> dict[str, list[int]]:
    """Partition numbers of those of ``topics`` that exist."""
    names = list(topics)
    if not names:
        return {}
    return {
        d["topic"]: sorted(p["partition"] for p in d["partitions"])
        for d in await admin.describe_topics(names)
        if d["error_code"] == 0 and d["partitions"]
    }


async def group_lag(bootstrap: str, group: str, topics: Iterable[str]) -> int:
    """Messages in ``topics`` not yet committed by consumer group ``group``."""
    return sum((await group_lag_by_topic(bootstrap, group, topics)).values())


async def group_lag_by_topic(bootstrap: str, group: str, topics: Iterable[str]) -> dict[str, int]:
    """Per topic (those that exist): messages not yet committed by consumer group ``group``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [
            TopicPartition(t, p)
            for t, parts in (await topic_partitions(admin, topics)).items()
            for p in parts
        ]
        ends = await consumer.end_offsets(tps) if tps else {}
        lag: Counter[str] = Counter()
        for tp, end in ends.items():
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[tp.topic] += max(0, end - done)
        return dict(lag)
    finally:
        await consumer.stop()
        await admin.close()


def worker_source_topics(prefix: str) -> list[str]:
    """The topics the worker's agents consume with topic prefix ``prefix``, sorted: read from a
    worker built by the composition root (a fixed list would miss a new agent). Nothing is
    started: building the app only declares its agents and topics."""
    settings = dataclasses.replace(Settings(), topic_prefix=prefix)
    return build_worker(settings, load_alerting_config(None)).source_topics()


async def wait_drained(
    bootstrap: str, group: str, topics: list[str], timeout: float, stall: float
) -> tuple[int, float]:
    """Poll the group's lag on ``topics`` until it is 0; (last lag, monotonic time of that poll).

    Gives up after ``timeout`` seconds, or when the lag has not gone down for ``stall`` seconds.
    Faust commits every ~2.8 s, so the moment found is up to ~3.5 s late."""
    started = time.monotonic()
    lag = -1
    best = -1
    best_at = started
    last_print = 0.0
    while True:
        by_topic = await group_lag_by_topic(bootstrap, group, topics)
        lag = sum(by_topic.values())
        now = time.monotonic()
        if lag == 0:
            return 0, now
        if best < 0 or lag < best:
            best, best_at = lag, now
        if now - started > timeout or now - best_at > stall:
            return lag, now
        if now - last_print >= 3:
            last_print = now
            detail = ", ".join(f"{t.rsplit('.', 1)[-1]} {n:,}" for t, n in by_topic.items() if n)
            say(f"  messages not yet committed by the worker's agents: {lag:,} ({detail})")
        await asyncio.sleep(0.5)


async def topic_stats(bootstrap: str, names: list[str], sample: int = 50) -> dict[str, Any]:
    """Offsets per topic (the messages written; compaction may have removed some of them since)
    and the mean value size of what is left among the newest ``sample`` offsets of each
    partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = await topic_partitions(admin, names)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    out: dict[str, Any] = {}
    try:
        for name, parts in partitions.items():
            tps = [TopicPartition(name, p) for p in parts]
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            sizes: list[int] = []
            for tp in tps:
                if ends[tp] > 0:
                    consumer.seek(tp, max(0, ends[tp] - sample))
            # Read to the end offsets, not to a message count: a compacted topic has fewer
            # messages than offsets, and counting them once held the run here for 16 minutes.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not await reached(consumer, ends):
                batches = await consumer.getmany(timeout_ms=500)
                for messages in batches.values():
                    sizes.extend(len(m.value or b"") for m in messages)
            messages_total = sum(ends.values())
            mean = sum(sizes) / len(sizes) if sizes else 0.0
            out[name] = {
                "messages": messages_total,
                "mean_value_bytes_newest": round(mean),
                "estimated_mb": round(messages_total * mean / 1e6, 1),
            }
    finally:
        await consumer.stop()
    return out
