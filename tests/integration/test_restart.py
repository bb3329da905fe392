"""A worker that stops (cleanly or with kill -9) comes back with its state from the changelog and
neither loses reports nor applies one twice."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import pytest
from e2e_support import (
    WorkerProcess,
    group_member_ids,
    list_topics,
    metric_value,
    produce,
    read_topic,
    topic_configs,
)

pytestmark = pytest.mark.integration


def report(n: int, count: int) -> tuple[str, str, bytes]:
    body = {"event_id": f"r{n}", "location_id": "ter-apel", "date": f"2024-03-{n:02d}"}
    return ("occupancy", "ter-apel", json.dumps({**body, "occupancy": count}).encode())


@pytest.mark.parametrize(
    ("stop_signal", "worker_id"),
    [(signal.SIGTERM, None), (signal.SIGKILL, None), (signal.SIGKILL, "worker-1")],
    ids=["term", "kill-9", "kill-9-static-member"],
)
async def test_state_survives_a_restart(
    kafka_bootstrap: str, tmp_path: Path, stop_signal: signal.Signals, worker_id: str | None
) -> None:
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"restart-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config="receivers: []\n",
        extra_env={"OPVANG_WORKER_ID": worker_id} if worker_id else None,
    )
    topic = worker.prefix
    worker.start()
    try:
        await worker.publish_locations()
        first = [report(1, 1900), report(2, 2100)]
        await produce(kafka_bootstrap, [(f"{topic}{t}", k, v) for t, k, v in first])
        alerts = await read_topic(kafka_bootstrap, f"{topic}alerts", expect=2, timeout=30)
        assert ("cap_exceeded", "firing") in [(a["rule"], a["status"]) for a in alerts]
        # Let Faust commit its offsets and flush the changelog before the stop.
        time.sleep(4)
    finally:
        worker.stop(stop_signal)
    if stop_signal == signal.SIGTERM:
        # A clean stop: whatever batch it cut off is read again at the next start, exit code 0.
        assert worker.proc is not None and worker.proc.returncode == 0, worker.log_tail()

    worker.start()
    try:
        if worker_id is not None:
            # A static member: Kafka knows the worker by its id, so the restarted one takes the
            # killed one's place at once instead of after its session timed out.
            app_id = "opvangwacht-" + worker.prefix.rstrip(".")
            members = await group_member_ids(kafka_bootstrap, app_id)
            assert len(members) == 1 and members[0].startswith(f"{worker_id}-"), members
        # The same reports again (a producer retrying after the crash) and the next day.
        again = [report(1, 1900), report(2, 2100), report(3, 1950)]
        await produce(kafka_bootstrap, [(f"{topic}{t}", k, v) for t, k, v in again])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = worker.metrics()
            if metric_value(text, "opvang_location_occupancy", {"location_id": "ter-apel"}) == 1950:
                break
            time.sleep(0.5)
        text = worker.metrics()
        assert metric_value(text, "opvang_location_occupancy", {"location_id": "ter-apel"}) == 1950
        # Reports 1 and 2 were known from before the restart: duplicates, not applied again.
        assert metric_value(text, "opvang_events_total", {"outcome": "duplicate"}) == 2
        alerts = await read_topic(kafka_bootstrap, f"{topic}alerts", expect=100, timeout=5)
        cap = [
            (a["status"], a["event_date"], a["revision"])
            for a in alerts
            if a["rule"] == "cap_exceeded"
        ]
        assert cap == [("firing", "2024-03-02", 1), ("resolved", "2024-03-03", 2)]
    finally:
        worker.stop()


async def test_changelogs_compact_soon_and_forget_deleted_rows(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """What a restart reads is what Kafka's cleaner has left: changelog segments roll every 10 s
    so the cleaner can compact them during a run, and the row tables of the split stores drop
    their tombstones after a minute. Tables whose deletes matter keep Kafka's day."""
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"changelogs-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config="receivers: []\n",
    )
    worker.start()
    try:
        app_id = "opvangwacht-" + worker.prefix.rstrip(".")
        changelogs = {
            t[len(app_id) + 1 : -len("-changelog")]
            for t in await list_topics(kafka_bootstrap)
            if t.startswith(app_id + "-") and t.endswith("-changelog")
        }
        rows = {"location-weeks", "province-members", "national-members"}
        assert rows | {"location-heads", "escalations", "delivery-ledger"} <= changelogs
        for table in sorted(changelogs):
            found = await topic_configs(kafka_bootstrap, f"{app_id}-{table}-changelog")
            assert found["cleanup.policy"] == "compact", table
            assert found["segment.ms"] == "10000", table
            expected = "60000" if table in rows else "86400000"  # Kafka's default: a day
            assert found["delete.retention.ms"] == expected, table
    finally:
        worker.stop()
