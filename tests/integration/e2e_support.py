"""Helpers for integration tests: a worker subprocess, a webhook receiver, topic readers.

Records are produced with a plain aiokafka producer, never through opvangwacht's own publishing
code, so the tests check the wire contract rather than our agreement with ourselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import run_topics
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.dev import worker_process
from streams.dev.sink import Delivery, WebhookSink

#: Ter Apel as the tests put it on the locations topic: a registration centre capped at 2,000.
TER_APEL: dict[str, Any] = {
    "location_id": "ter-apel",
    "name": "Ter Apel",
    "kind": "registration_centre",
    "municipality_code": "GM1950",
    "province": "GR",
    "capacity": 2000,
    "cap": 2000,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: What the hook server received: path, lower-case headers, JSON body, raw bytes, arrival time.
Received = Delivery


class HookServer(WebhookSink):
    """The webhook sink (:class:`streams.dev.sink.WebhookSink`) on loopback, started at once,
    answering 200; ``status=503`` plays a receiver that is down (refused posts are counted)."""

    def __init__(
        self, status: int = 200, on_answer: Callable[[Received], None] | None = None
    ) -> None:
        super().__init__(path="/hook", status=status, on_answer=on_answer)
        self.start()

    @property
    def received(self) -> list[Received]:
        return self.deliveries

    @property
    def raw(self) -> list[bytes]:
        return [d.raw for d in self.snapshot()]

    def close(self) -> None:
        self.stop()


class WorkerProcess(worker_process.WorkerProcess):
    """``opvangwacht worker`` as a subprocess with its own prefix, port and data dir
    (:class:`streams.dev.worker_process.WorkerProcess`), run from ``workdir`` with ``config``."""

    def __init__(
        self,
        *,
        bootstrap: str,
        prefix: str,
        workdir: Path,
        config: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.prefix = prefix
        self.workdir = workdir
        run_topics.remember(bootstrap, prefix)  # its topics go when the test session ends
        config_path = workdir / "alerting.yml"
        config_path.write_text(config, encoding="utf-8")
        super().__init__(
            env={
                "OPVANG_KAFKA_BOOTSTRAP": bootstrap,
                "OPVANG_TOPIC_PREFIX": prefix,
                "OPVANG_CONFIG": str(config_path),
                "OPVANG_DATA_DIR": str(workdir / "data"),
                "OPVANG_PARTITIONS": "2",
                **(extra_env or {}),
            },
            log_path=workdir / "worker.log",
            cwd=workdir,  # not the repository: the worker runs the installed package
        )

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        self.spawn()
        self.wait_health(worker_process.health_ok, timeout)
        return self

    def spawn(self) -> None:
        """Start the worker process and return at once, without waiting until it is ready."""
        super().start()

    def wait_health(
        self, condition: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        try:
            return self.wait_healthy(condition, timeout)
        except worker_process.WorkerFailed as exc:
            raise AssertionError(str(exc)) from None

    async def publish_locations(self, *locations: dict[str, Any]) -> dict[str, Any]:
        """Put ``locations`` (Ter Apel unless given) on the worker's locations topic, keyed by
        their id, and wait until the worker knows that many; returns its /health body."""
        records = locations or (TER_APEL,)
        await produce(
            self.env["OPVANG_KAFKA_BOOTSTRAP"],
            [
                (f"{self.prefix}locations", loc["location_id"], json.dumps(loc).encode())
                for loc in records
            ],
        )
        return self.wait_health(lambda b: b.get("locations") == len(records), timeout=30)

    def metrics(self, query: str = "") -> str:
        url = f"http://127.0.0.1:{self.port}/metrics{query}"
        with urllib.request.urlopen(url, timeout=5) as r:
            return str(r.read().decode())


@contextlib.contextmanager
def fed_worker(
    bootstrap: str,
    prefix: str,
    workdir: Path,
    locations: Sequence[dict[str, Any]],
    records: Sequence[tuple[str, str, bytes]],
    ready: Callable[[str], bool],
) -> Iterator[str]:
    """A worker without receivers given ``locations``, then ``records`` ((topic name without the
    prefix, key, value)); yields its base URL (``http://127.0.0.1:<port>/``) once it has applied
    every record and ``ready(base URL)`` holds (60 s at most), and stops it at the end."""
    process = WorkerProcess(
        bootstrap=bootstrap, prefix=prefix, workdir=workdir, config="receivers: []\n"
    )
    process.start()
    try:
        asyncio.run(process.publish_locations(*locations))
        asyncio.run(produce(bootstrap, [(f"{prefix}{t}", k, v) for t, k, v in records]))
        base = f"http://127.0.0.1:{process.port}/"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            applied = metric_value(process.metrics(), "opvang_events_total", {"outcome": "applied"})
            if applied == len(records) and ready(base):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the worker did not apply the reports:\n{process.log_tail()}")
        yield base
    finally:
        process.stop()


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        if labels and not all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            continue
        total += float(value)
    return total


async def produce_many(bootstrap: str, records: Iterable[tuple[str, str, bytes]]) -> None:
    """Like :func:`produce`, but all at once (a backlog appears in a moment, not one round trip
    per record); the idempotent producer keeps each partition in the order given."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key.encode()) for topic, key, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce(bootstrap: str, records: Iterable[tuple[str, str, bytes]]) -> None:
    """Send (topic, key, value) records in order and wait for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def read_topic_raw(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 30.0, settle: float = 0.0
) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record on ``topic`` from the start, as bytes, until ``expect``
    arrived (then ``settle`` seconds more, to catch records that should not be there) or
    ``timeout`` passed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    records: list[tuple[bytes | None, bytes | None]] = []
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] = set()
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                records.extend((m.key, m.value) for m in messages)
            if len(records) >= expect:
                if settle_until is None:
                    settle_until = time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
    finally:
        await consumer.stop()
    return records


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 30.0, settle: float = 0.0
) -> list[dict[str, Any]]:
    """Read ``topic`` from the start until ``expect`` records arrived (then ``settle`` seconds
    more, to catch records that should not be there) or ``timeout`` passed."""
    records = await read_topic_raw(bootstrap, topic, expect=expect, timeout=timeout, settle=settle)
    return [json.loads(value) for _, value in records if value is not None]


async def list_topics(bootstrap: str) -> set[str]:
    """Every topic on the broker."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()


async def topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    """The topic's effective configuration, as the broker describes it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    found: dict[str, str] = {}
    for response in responses:
        for _error, _message, _kind, _name, entries in response.resources:
            for entry in entries:
                found[entry[0]] = entry[1]
    return found


async def group_member_ids(bootstrap: str, group: str) -> list[str]:
    """The member ids of a consumer group. Kafka names a static member after its
    ``group.instance.id`` (``<instance id>-<uuid>``), a dynamic one after its client id."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    # DescribeGroups v2: (error, group, state, protocol type, protocol, members); a member is
    # (member id, client id, client host, metadata, assignment).
    return [member[0] for r in responses for described in r.groups for member in described[5]]


def call_api(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """One request to the worker's web port: (status, body), also for 4xx and 5xx answers."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def group_id(prefix: str) -> str:
    """The worker's consumer group (Faust's application id) for a topic prefix, derived as
    ``streams.settings.Settings.app_id`` does: ``opvangwacht-`` and the prefix as a slug."""
    slug = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-") or "default"
    return f"opvangwacht-{slug}"


async def create_input_topics(bootstrap: str, prefix: str, partitions: int) -> None:
    """The topics a producer writes to, as the contract describes them (locations: one partition,
    compacted; occupancy and intake: ``partitions`` each), for publishing before a worker ever
    ran: a first produce would otherwise auto-create them with the broker's defaults."""
    run_topics.remember(bootstrap, prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(f"{prefix}locations", 1, 1, topic_configs={"cleanup.policy": "compact"}),
                NewTopic(f"{prefix}occupancy", partitions, 1),
                NewTopic(f"{prefix}intake", partitions, 1),
            ]
        )
        deadline = time.monotonic() + 30
        names = [f"{prefix}{name}" for name in ("locations", "occupancy", "intake")]
        while time.monotonic() < deadline:
            described = await admin.describe_topics(names)
            if all(
                d.get("error_code", 0) == 0
                and d.get("partitions")
                and all(p.get("leader", -1) >= 0 for p in d["partitions"])
                for d in described
            ):
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"topics {names} have no leader after 30 s")
    finally:
        await admin.close()


class OffsetProbe:
    """How far a consumer group has got: its committed offsets against the end offsets, per
    partition. ``async with OffsetProbe(bootstrap, group) as probe: await probe.positions(...)``"""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.group = group
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def __aenter__(self) -> OffsetProbe:
        await self._consumer.start()
        await self._admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._admin.close()
        await self._consumer.stop()

    async def positions(self, topics: Iterable[str]) -> dict[TopicPartition, tuple[int, int]]:
        """(committed, end) per partition of ``topics``; committed is 0 where the group has
        committed nothing yet."""
        tps: list[TopicPartition] = []
        for topic in topics:
            partitions = self._consumer.partitions_for_topic(topic)
            if not partitions:
                await self._consumer._client.force_metadata_update()
                partitions = self._consumer.partitions_for_topic(topic) or set()
            tps.extend(TopicPartition(topic, p) for p in sorted(partitions))
        if not tps:
            return {}
        ends = await self._consumer.end_offsets(tps)
        committed = await self._admin.list_consumer_group_offsets(self.group, partitions=tps)
        return {
            tp: (max(0, committed[tp].offset) if tp in committed else 0, int(ends[tp]))
            for tp in tps
        }

    async def lag(self, topics: Iterable[str]) -> int:
        """Messages on ``topics`` past the group's committed offsets."""
        return sum(end - done for done, end in (await self.positions(topics)).values())
