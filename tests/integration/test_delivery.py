"""Delivery end to end: a receiver that is down for a while gets every alert change once it is
back, exactly once per webhook-id, signed so that the Standard Webhooks reference library accepts
it; and no secret shows up in the worker's logs."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import HookServer, WorkerProcess, produce
from standardwebhooks.webhooks import Webhook

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"opvangwacht-test-secret-0123456").decode()


def report(n: int, count: int) -> bytes:
    body = {"event_id": f"d{n}", "location_id": "ter-apel", "date": f"2024-05-{n:02d}"}
    return json.dumps({**body, "occupancy": count}).encode()


async def test_a_receiver_that_was_down_gets_everything_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    hook = HookServer(status=503)
    config = (
        "receivers:\n"
        "  - name: westerwolde\n"
        "    municipality_code: GM1950\n"
        "    retry: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
        "    webhook:\n"
        f"      url: {hook.url}\n"
        "      secret_env: WESTERWOLDE_WEBHOOK_SECRET\n"
    )
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"deliver-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=config,
        extra_env={"WESTERWOLDE_WEBHOOK_SECRET": SECRET},
    )
    worker.start()
    try:
        prefix = worker.prefix
        await worker.publish_locations()
        reports = [report(1, 1900), report(2, 2300), report(3, 1700)]
        await produce(kafka_bootstrap, [(f"{prefix}occupancy", "ter-apel", r) for r in reports])

        deadline = time.monotonic() + 30
        while hook.refused < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert hook.refused >= 3, "the worker should keep trying while the receiver is down"
        assert hook.received == []

        hook.status = 200  # the receiver is back
        deadline = time.monotonic() + 60
        expected = {("cap_exceeded", "firing"), ("cap_exceeded", "resolved")}
        while time.monotonic() < deadline:
            seen = {(r.body["data"]["rule"], r.body["data"]["status"]) for r in hook.received}
            if expected <= seen:
                break
            time.sleep(0.3)
        time.sleep(6)  # a duplicate would arrive within a tick or two (ticks every 5 s)
        ids = Counter(r.headers["webhook-id"] for r in hook.received)
        assert ids, "nothing was delivered after the receiver came back"
        assert max(ids.values()) == 1, f"delivered more than once: {ids}"
        seen = {(r.body["data"]["rule"], r.body["data"]["status"]) for r in hook.received}
        assert expected <= seen
        # Every delivery verifies with the reference implementation and the shared secret.
        verifier = Webhook(SECRET)
        for received, raw in zip(hook.received, hook.raw, strict=True):
            payload = verifier.verify(raw, received.headers)
            assert payload["data"]["alert_id"] == received.body["data"]["alert_id"]
    finally:
        worker.stop()
        hook.close()
    log = worker.log_path.read_text(errors="replace")
    assert SECRET not in log
    assert SECRET.removeprefix("whsec_") not in log
