"""A receiver that does not answer costs the others about one timeout, not one per notification
(issue 4): after its first timeout it rests until its retry, and what arrives for it meanwhile
queues behind the failed notification; the receiver that answers gets every change at once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from e2e_support import WorkerProcess, produce
from fakes import Recorded, Reply, WebhookReceiver

pytestmark = pytest.mark.integration

DAYS = 10
TIMEOUT_S = 2


class TimedReceiver(WebhookReceiver):
    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []
        self._times = threading.Lock()

    def answer(self, request: Recorded) -> Reply:
        with self._times:
            self.arrivals.append((time.monotonic(), request.headers.get("webhook-id", "")))
        return super().answer(request)

    def seen(self) -> list[tuple[float, str]]:
        with self._times:
            return list(self.arrivals)


def report(day: int) -> bytes:
    body = {"event_id": f"d{day}", "location_id": "ter-apel", "date": f"2024-05-{day:02d}"}
    return json.dumps({**body, "occupancy": 2300 if day % 2 else 1700}).encode()


async def test_a_hanging_receiver_does_not_hold_up_the_others(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    hanging = TimedReceiver().start()
    hanging.delay(30.0, times=1000)  # answers long after the client gave up
    fast = TimedReceiver().start()
    config = "receivers:\n" + "".join(
        f"  - name: {name}\n    webhook:\n      url: {hook.url}/hook\n      timeout: {TIMEOUT_S}\n"
        for name, hook in (("hanging", hanging), ("fast", fast))
    )
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"slow-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=config,
    )
    worker.start()
    try:
        prefix = worker.prefix
        await worker.publish_locations()
        for day in range(1, DAYS + 1):  # one change a day, routed to both, over about 5 s
            await produce(kafka_bootstrap, [(f"{prefix}occupancy", "ter-apel", report(day))])
            await asyncio.sleep(0.5)
        last_sent = time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            changes = {mid for _, mid in fast.seen() if mid.startswith("cap_exceeded-")}
            if len(changes) >= DAYS:
                break
            time.sleep(0.2)
        done = max(t for t, mid in fast.seen() if mid.startswith("cap_exceeded-"))
        tried = len(hanging.requests)
    finally:
        worker.stop()
        hanging.stop()
        fast.stop()

    late = done - last_sent
    print(
        f"last change at the answering receiver {late:.1f} s after the last report; "
        f"the hanging one was tried {tried} times"
    )
    assert len(changes) >= DAYS, f"the answering receiver got {len(changes)} of {DAYS} changes"
    # Without the rest, every notification for the hanging receiver costs a 2 s timeout, one
    # after the other, and each batch waits for them: the answering receiver falls further behind
    # with every change. With it: a timeout now and then (at a retry), the rest queue.
    assert late < 2 * TIMEOUT_S + 1.5, f"held up: {late:.1f} s after the last report"
    assert tried <= 4, f"the hanging receiver was tried {tried} times, a timeout each"
