"""A static group member (OPVANG_WORKER_ID) that comes back on another web port joins its group
normally: Faust's assignor used to assert that the URL in the member's last assignment is its own,
and Kafka hands a rejoining static member exactly that last assignment."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import pytest
from e2e_support import WorkerProcess, free_port, metric_value, produce

pytestmark = pytest.mark.integration


def report(n: int, count: int) -> tuple[str, bytes]:
    body = {"event_id": f"p{n}", "location_id": "ter-apel", "date": f"2024-04-{n:02d}"}
    return "ter-apel", json.dumps({**body, "occupancy": count}).encode()


def occupancy(worker: WorkerProcess) -> float:
    return metric_value(worker.metrics(), "opvang_location_occupancy", {"location_id": "ter-apel"})


async def test_a_static_member_rejoins_on_another_port(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"static-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config="receivers: []\n",
        # The member must be back within its session timeout for Kafka to hand it its old
        # assignment; a loaded CI machine took over 30 s to restart the worker, past the 10 s
        # default, so the test gives it a minute.
        extra_env={"OPVANG_WORKER_ID": "x", "OPVANG_SESSION_TIMEOUT": "60"},
    )
    topic = f"{worker.prefix}occupancy"
    try:
        worker.start()
        await worker.publish_locations()
        key, value = report(1, 1500)
        await produce(kafka_bootstrap, [(topic, key, value)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and occupancy(worker) != 1500:
            time.sleep(0.3)
        assert occupancy(worker) == 1500
        time.sleep(3)  # offsets committed and the changelog flushed
    finally:
        worker.stop(signal.SIGKILL)

    first_port = worker.port
    worker.port = free_port()
    worker.env["OPVANG_WEB_PORT"] = str(worker.port)
    assert worker.port != first_port
    try:
        worker.start(timeout=60)  # /health 200: it joined and has its partitions
        key, value = report(2, 1600)
        await produce(kafka_bootstrap, [(topic, key, value)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and occupancy(worker) != 1600:
            time.sleep(0.3)
        assert occupancy(worker) == 1600, worker.log_tail()
        # Kafka handed the static member its previous assignment, with the old URL in it.
        assert "rejoined with the assignment of an earlier run" in worker.log_path.read_text()
    finally:
        worker.stop()
