"""The local three-node cluster (`opvangwacht kafka start --brokers 3`) loses no acknowledged
record when a broker dies, and a worker on it gives the same alerts with a broker killed.

A cluster of its own on high ports (19092 and up, never 9092/9093) in a temporary state dir: a
topic with three copies and ``min.insync.replicas=2``, a numbered stream produced with
``acks=all``, the leader of partition 0 killed with SIGKILL in the middle of it, the stream kept
going; every acknowledged record must then be read back. Started again, the dead node must catch
up: every partition has three in-sync replicas again. Then a worker with
OPVANG_REPLICATION_FACTOR=3 replays Ter Apel, August 2022 while the leader of its alerts topic is
killed: its alert changes are those of the core alone (an undisturbed run). One cluster for the
module, stopped whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from e2e_support import WorkerProcess, list_topics, read_topic
from pure_replay import replay

from alerts.config import AlertingConfig
from streams.dev import broker, cluster, kafka_install
from streams.reference import data_path, load_targets

pytestmark = pytest.mark.integration

TOPIC = "opvang.cluster-selftest"
PARTITIONS = 3
BEFORE, AFTER = 300, 300  # records produced before and after the kill
# The bundled scenarios send intake reports: days close once their flows are in.
CONFIG = "aggregation:\n  expect_intake: true\nreceivers: []\n"


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _base_port() -> int:
    """The first of six free ports in a row from 19092 on (brokers, then controllers)."""
    for base in range(19092, 19992, 100):
        if all(_free(base + i) for i in range(2 * cluster.BROKERS)):
            return base
    pytest.fail("no six free ports in a row from 19092 to 19997 for the test cluster")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A cluster of this module's own: its state dir and base port. Stopped whatever happens."""
    state = tmp_path_factory.mktemp("cluster") / "state"
    state.mkdir()
    # The jars of the developer's broker, when it has them, instead of another Maven copy.
    shared = broker.default_state_dir() / "lib" / f"kafka-{kafka_install.KAFKA_VERSION}"
    if not os.environ.get("KAFKA_HOME") and shared.is_dir():
        (state / "lib").mkdir()
        (state / "lib" / shared.name).symlink_to(shared)
    base = _base_port()
    try:
        yield state, base
    finally:
        try:
            cluster.stop(state, timeout=10.0)
        finally:  # whatever happened, leave no JVM behind
            for pid_file in state.glob("cluster/node-*/kafka.pid"):
                with contextlib.suppress(ValueError, ProcessLookupError, OSError):
                    os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    return admin


async def _partitions(bootstrap: str, topic: str = TOPIC) -> list[dict[str, Any]]:
    admin = await _admin(bootstrap)
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(described.get("partitions", []), key=lambda p: p["partition"])


async def _topic_level_configs(bootstrap: str, topic: str) -> dict[str, str]:
    """The configs set on the topic itself (config_source 1, DYNAMIC_TOPIC_CONFIG), not the
    broker's defaults (the cluster's own default is min.insync.replicas=2 too)."""
    admin = await _admin(bootstrap)
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    return {
        entry[0]: entry[1]
        for response in responses
        for *_, entries in response.resources
        for entry in entries
        if entry[3] == 1
    }


async def _create_topic(bootstrap: str) -> None:
    admin = await _admin(bootstrap)
    try:
        config = {"min.insync.replicas": "2"}
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3, topic_configs=config)])
    finally:
        await admin.close()
    await _until(bootstrap, lambda ps: all(len(p["isr"]) == 3 for p in ps), 30.0)


async def _until(bootstrap: str, check: Any, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            seen = await _partitions(bootstrap)
            if len(seen) == PARTITIONS and check(seen):
                return seen
        await asyncio.sleep(0.5)
    pytest.fail(f"{TOPIC} did not get there within {timeout:g} s: {seen}")


async def _produce(bootstrap: str, kill: Any) -> tuple[set[int], float]:
    """Send BEFORE + AFTER numbered records one by one with acks=all, calling `kill` after
    BEFORE of them; returns the numbers the cluster acknowledged and the longest wait for one."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=30000,
        retry_backoff_ms=200,
    )
    await producer.start()
    acknowledged: set[int] = set()
    slowest = 0.0
    try:
        for number in range(BEFORE + AFTER):
            if number == BEFORE:
                kill()
            began = time.monotonic()
            for _attempt in range(5):  # a send the failover made fail is sent again
                try:
                    await producer.send_and_wait(
                        TOPIC, str(number).encode(), key=f"location-{number % 17}".encode()
                    )
                except Exception:
                    await asyncio.sleep(1.0)
                    continue
                acknowledged.add(number)
                break
            slowest = max(slowest, time.monotonic() - began)
    finally:
        await producer.stop()
    return acknowledged, slowest


async def _read_all(bootstrap: str, expected: set[int], timeout: float = 60.0) -> set[int]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + timeout
        while not expected <= seen and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            seen.update(int(m.value) for ms in batches.values() for m in ms if m.value)
    finally:
        await consumer.stop()
    return seen


def test_a_broker_killed_mid_stream_loses_no_acknowledged_record(
    running: tuple[Path, int],
) -> None:
    state_dir, base = running
    bootstrap = cluster.bootstrap_of(base)
    began = time.monotonic()

    started = cluster.start(state_dir, base_port=base, timeout=120)
    assert started.running
    assert [n.bootstrap for n in started.nodes] == bootstrap.split(",")
    ids = {broker._stored_cluster_id(n.state_dir) for n in started.nodes}
    assert len(ids) == 1 and None not in ids, f"the nodes are not one cluster: {ids}"
    asyncio.run(_create_topic(bootstrap))

    # The leader of partition 0 dies: its partitions need a new leader while we write.
    victim_id = asyncio.run(_partitions(bootstrap))[0]["leader"]
    victim = next(n for n in started.nodes if n.state_dir.name == f"node-{victim_id}")
    assert victim.pid is not None

    def kill() -> None:
        os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]

    acknowledged, slowest = asyncio.run(_produce(bootstrap, kill))
    after_kill = {n for n in acknowledged if n >= BEFORE}
    assert len(acknowledged) == BEFORE + AFTER, (
        f"{BEFORE + AFTER - len(acknowledged)} records never acknowledged with one broker dead "
        f"(two of three in sync must do): {sorted(set(range(BEFORE + AFTER)) - acknowledged)}"
    )
    assert after_kill, "nothing acknowledged after the kill"
    down = cluster.status(state_dir)
    assert sum(n.running for n in down.nodes) == 2, down

    survivors = ",".join(n.bootstrap for n in down.nodes if n.running)
    read = asyncio.run(_read_all(survivors, acknowledged))
    lost = sorted(acknowledged - read)
    assert not lost, f"acknowledged records lost after the kill: {lost[:20]} ({len(lost)})"

    # Start again: only the dead node starts; it catches up and is in sync everywhere.
    again = cluster.start(state_dir, base_port=base, timeout=120)
    assert again.running
    assert {n.pid for n in again.nodes} >= {n.pid for n in started.nodes if n.pid != victim.pid}
    caught_up = asyncio.run(
        _until(bootstrap, lambda ps: all(victim_id in p["isr"] for p in ps), 60.0)
    )
    assert all(sorted(p["isr"]) == [1, 2, 3] for p in caught_up), caught_up

    print(
        f"cluster test: {len(acknowledged)} acknowledged, longest wait for one "
        f"{slowest:.1f} s (failover), whole test {time.monotonic() - began:.0f} s"
    )


def _cli(worker: WorkerProcess, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, **worker.env},
        cwd=worker.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    return output


def test_a_worker_on_the_cluster_gives_the_same_alerts_when_a_broker_dies(
    running: tuple[Path, int], tmp_path: Path
) -> None:
    state_dir, base = running
    nodes = cluster.start(state_dir, base_port=base, timeout=120)  # all three, whatever came before
    bootstrap = nodes.bootstrap
    prefix = f"cluster-{uuid.uuid4().hex[:8]}."
    worker = WorkerProcess(
        bootstrap=bootstrap,
        prefix=prefix,
        workdir=tmp_path,
        config=CONFIG,
        # One partition per topic: what this test is about is the broker's death, not the
        # pace at which several input partitions are read (docs/rules.md, "What is left to
        # chance").
        extra_env={"OPVANG_REPLICATION_FACTOR": "3", "OPVANG_PARTITIONS": "1"},
    )
    config = AlertingConfig.from_mapping(yaml.safe_load(CONFIG)).with_targets(load_targets())
    expected = replay(data_path("scenarios", "ter-apel-2022-08.jsonl"), config)
    alerts: list[dict[str, Any]] = []
    worker.start(timeout=120)
    try:
        _finish(_cli(worker, "load-locations"))
        worker.wait_health(lambda body: body.get("locations", 0) >= 11, timeout=60)

        # Three copies of the worker's topics and of Faust's changelogs, two in sync to write.
        topics = asyncio.run(list_topics(bootstrap))
        changelogs = sorted(t for t in topics if t.endswith("-changelog") and prefix[8:16] in t)
        assert changelogs, sorted(topics)
        for topic in (f"{prefix}alerts", f"{prefix}occupancy", changelogs[0]):
            assert all(len(p["replicas"]) == 3 for p in asyncio.run(_partitions(bootstrap, topic)))
            configs = asyncio.run(_topic_level_configs(bootstrap, topic))
            assert configs.get("min.insync.replicas") == "2", (topic, configs)

        victim_id = asyncio.run(_partitions(bootstrap, f"{prefix}alerts"))[0]["leader"]
        victim = next(n for n in nodes.nodes if n.state_dir.name == f"node-{victim_id}")
        publishing = _cli(worker, "replay", "ter-apel-2022-08", "--days-per-second", "10")
        time.sleep(2.0)  # about 20 of the 43 days published
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        assert "published 86 records" in _finish(publishing)
        down = cluster.status(state_dir)
        assert sum(n.running for n in down.nodes) == 2, down

        alerts = asyncio.run(
            read_topic(bootstrap, f"{prefix}alerts", expect=len(expected), timeout=120, settle=5)
        )
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
        print(f"worker on the cluster: {len(alerts)} alert changes, log in {worker.log_path}")
    # A producer that loses its partition leader mid-send retries, and without idempotence
    # (Faust has no setting for it) a retried batch can land twice: at least once, as the
    # contract says, so a repeat of an identical change is allowed, and nothing else.
    distinct = {json.dumps(a, sort_keys=True) for a in alerts}
    assert sorted(distinct) == sorted(json.dumps(e.to_dict(), sort_keys=True) for e in expected)
    versions = {(a["alert_id"], a["revision"]) for a in alerts}
    assert len(versions) == len(distinct)  # no alert_id:revision with two contents
