"""The consumer's hand-over patch (``streams.worker.faust_patches``) in a real Faust worker on a
real broker: with a stream buffer of eight records most hand-overs find it full and wait, and the
agent still reads every record once, in each partition's order, as the same worker does without
the patch (docs/performance.md, 2026-12-04)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import run_topics
from aiokafka import AIOKafkaProducer

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parent / "handover_app.py"
REPO = Path(__file__).resolve().parents[2]
PER_PARTITION = 1500


def read_all(bootstrap: str, topic: str, patched: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="opvang-handover-") as data_dir:
        env = dict(
            os.environ,
            HANDOVER_BOOTSTRAP=bootstrap,
            HANDOVER_TOPIC=topic,
            HANDOVER_COUNT=str(2 * PER_PARTITION),
            HANDOVER_APP_ID=f"{topic}-{'patched' if patched else 'faust'}",
            HANDOVER_DATA_DIR=data_dir,
            HANDOVER_PATCH="1" if patched else "0",
            PYTHONPATH=str(REPO),
        )
        done = subprocess.run(
            [sys.executable, str(APP), "worker"],
            env=env,
            capture_output=True,
            timeout=120,
            cwd=str(REPO),
        )
    # Faust's worker writes terminal escapes (cursor hide/show) even to a pipe, on the same line.
    lines = [ln[ln.index("{") :] for ln in done.stdout.decode().splitlines() if "{" in ln]
    assert lines, (done.stdout.decode()[-1000:], done.stderr.decode()[-3000:])
    return dict(json.loads(lines[-1]))


async def test_every_record_once_in_order_when_hand_overs_wait(kafka_bootstrap: str) -> None:
    topic = await run_topics.fresh_topic(kafka_bootstrap, "handover", 2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, f"{p}:{n}".encode(), partition=p)
            for n in range(PER_PARTITION)
            for p in (0, 1)
        ]
        for delivery in sent:
            await delivery
    finally:
        await producer.stop()

    patched = read_all(kafka_bootstrap, topic, patched=True)
    by_faust = read_all(kafka_bootstrap, topic, patched=False)
    expected = {str(p): [f"{p}:{n}" for n in range(PER_PARTITION)] for p in (0, 1)}
    assert patched["seen"] == expected
    assert by_faust["seen"] == expected
    # The waiting path was taken, and far from for every record.
    assert 0 < patched["waited"] < PER_PARTITION
