"""A real embedded broker of its own: start, round trip, idempotent start, stop, restart.

Runs on free ports in a temporary state dir, so it never touches a broker on 9092. Maven
copies the jars from ~/.m2 after the first run, which keeps this around 20 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.dev import broker, kafka_install

pytestmark = pytest.mark.integration

TOPIC = "opvang.broker-selftest"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def _produce(bootstrap: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, value, key=key)
    finally:
        await producer.stop()


async def _consume_all(bootstrap: str, expected: int, timeout: float = 20.0) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + timeout
        while len(values) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            values.extend(m.value for records in batches.values() for m in records if m.value)
    finally:
        await consumer.stop()
    return values


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    yield state
    # Whatever happened in the test, leave no JVM behind.
    try:
        broker.stop(state, timeout=10.0)
    finally:
        pid_file = state / "kafka.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


def test_broker_lifecycle(state_dir: Path) -> None:
    port, controller_port = _free_port(), _free_port()
    bootstrap = f"localhost:{port}"
    lines: list[str] = []

    first = broker.start(
        state_dir, port=port, controller_port=controller_port, timeout=90, progress=lines.append
    )

    assert first.running
    assert first.pid is not None
    assert first.bootstrap == bootstrap
    assert first.kafka_version == kafka_install.KAFKA_VERSION
    assert any("formatting storage" in line for line in lines)
    assert (state_dir / "kafka-data" / "meta.properties").is_file()
    assert (state_dir / "server.log").stat().st_size > 0
    assert broker.status(state_dir).running

    asyncio.run(_produce(bootstrap, b"ter-apel", b'{"occupancy": 2100}'))
    assert asyncio.run(_consume_all(bootstrap, 1)) == [b'{"occupancy": 2100}']

    again = broker.start(state_dir, port=port, controller_port=controller_port, timeout=30)
    assert again.running
    assert again.pid == first.pid

    stopped = broker.stop(state_dir, timeout=30)
    assert not stopped.running
    assert not _pid_exists(first.pid)
    assert not (state_dir / "kafka.pid").exists()
    assert not broker.status(state_dir).running

    lines.clear()
    restarted = broker.start(
        state_dir, port=port, controller_port=controller_port, timeout=90, progress=lines.append
    )
    assert restarted.running
    assert restarted.pid != first.pid
    assert not any("formatting" in line or "Maven" in line for line in lines)
    asyncio.run(_produce(bootstrap, b"budel", b'{"occupancy": 500}'))
    assert asyncio.run(_consume_all(bootstrap, 2)) == [
        b'{"occupancy": 2100}',
        b'{"occupancy": 500}',
    ]


def test_start_refuses_a_port_held_by_someone_else(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(kafka_install.BrokerError, match=f"port {port} is taken"):
            broker.start(tmp_path / "state", port=port, controller_port=_free_port(), timeout=5)
    assert not (tmp_path / "state" / "kafka.pid").exists()
