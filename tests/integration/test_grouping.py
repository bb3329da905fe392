"""Grouping and reminders through the real worker (issue 4): changes of one group that arrive
together go out together after group_wait; a critical alert is not held; a still-firing alert is
repeated after repeat_interval with a webhook-id of its own and the same AlertEvent."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from e2e_support import WorkerProcess, produce
from fakes import Recorded, Reply, WebhookReceiver

pytestmark = pytest.mark.integration


class TimedReceiver(WebhookReceiver):
    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str, dict[str, Any]]] = []
        self._arrivals_lock = threading.Lock()

    def answer(self, request: Recorded) -> Reply:
        with self._arrivals_lock:
            self.arrivals.append(
                (time.monotonic(), request.headers.get("webhook-id", ""), request.json())
            )
        return super().answer(request)

    def seen(self) -> list[tuple[float, str, dict[str, Any]]]:
        with self._arrivals_lock:
            return list(self.arrivals)


def location(location_id: str, capacity: int, cap: int | None = None) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "name": location_id.title(),
        "kind": "regular",
        "municipality_code": "GM0014",
        "province": "GR",
        "capacity": capacity,
        "cap": cap,
    }


def report(location_id: str, occupancy: int) -> bytes:
    body = {"event_id": f"{location_id}-1", "location_id": location_id, "date": "2024-05-01"}
    return json.dumps({**body, "occupancy": occupancy}).encode()


def first(arrivals: list[tuple[float, str, dict[str, Any]]], rule: str, subject: str) -> float:
    return min(
        t
        for t, mid, body in arrivals
        if body["data"]["rule"] == rule
        and body["data"]["subject"]["id"] == subject
        and ".r" not in mid.rsplit(".", 1)[-1][:2]
    )


async def test_a_group_waits_together_and_reminders_repeat(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    hook = TimedReceiver().start()
    config = (
        "route:\n"
        "  receiver: ops\n"
        "  group_by: [province]\n"
        "  group_wait: 8s\n"
        "  group_interval: 1m\n"
        "  repeat_interval: 1m\n"
        "receivers:\n"
        "  - name: ops\n"
        "    webhook:\n"
        f"      url: {hook.url}/hook\n"
    )
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"group-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=config,
    )
    worker.start()
    try:
        prefix = worker.prefix
        places = [location("aa", 1000), location("bb", 1000), location("cc", 500, cap=500)]
        await worker.publish_locations(*places)
        sent_at = time.monotonic()
        await produce(
            kafka_bootstrap,
            [
                (f"{prefix}occupancy", "cc", report("cc", 600)),  # cap_exceeded: critical
                (f"{prefix}occupancy", "aa", report("aa", 960)),  # cap_near: warning
                (f"{prefix}occupancy", "bb", report("bb", 965)),  # cap_near: warning
            ],
        )
        deadline = time.monotonic() + 120
        reminded: set[str] = set()
        while time.monotonic() < deadline:
            reminded = {
                body["data"]["subject"]["id"]
                for _, mid, body in hook.seen()
                if mid.endswith(".ops.r1")
            }
            if {"aa", "bb", "cc"} <= reminded:
                break
            time.sleep(0.5)
    finally:
        worker.stop()
        hook.stop()

    arrivals = hook.seen()
    critical = first(arrivals, "cap_exceeded", "cc")
    near_a, near_b = first(arrivals, "cap_near", "aa"), first(arrivals, "cap_near", "bb")
    assert critical - sent_at < 6, "a critical alert is not held by group_wait"
    assert min(near_a, near_b) - sent_at >= 7.5, "the group's first message waits group_wait"
    assert abs(near_a - near_b) < 1.5, "changes of one group go out together"
    assert {"aa", "bb", "cc"} <= reminded, f"no reminder after repeat_interval: {arrivals}"
    for _, mid, body in arrivals:
        if mid.endswith(".r1"):
            change = next(
                b for _, m, b in arrivals if m == mid.removesuffix(".r1")
            )  # the change it repeats
            assert body["data"] == change["data"], "a reminder repeats the same AlertEvent"
            assert body["id"] == mid  # the CloudEvents id is the reminder's own id
    ids = [mid for _, mid, _ in arrivals]
    assert len(ids) == len(set(ids)), "every message has its own webhook-id"
