"""Acknowledgement, escalation, silences and the alert history through the real worker."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from builders import TWO_CAPPED_CENTRES
from e2e_support import HookServer, WorkerProcess, produce

pytestmark = pytest.mark.integration

TOKEN = "test-token-" + uuid.uuid4().hex


def call(
    worker: WorkerProcess, method: str, path: str, body: Any = None, token: str = TOKEN
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def rules_heard(hook: HookServer) -> list[tuple[str, str, str]]:
    return [
        (r.body["data"]["rule"], r.body["data"]["subject"]["id"], r.body["data"]["status"])
        for r in hook.received
    ]


async def test_ack_stops_escalation_and_silences_hold_messages(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    ops, ministry = HookServer(), HookServer()
    config = (
        "receivers:\n"
        "  - name: ops\n"
        f"    webhook: {{url: '{ops.url}'}}\n"
        "  - name: ministerie\n"
        f"    webhook: {{url: '{ministry.url}'}}\n"
        "route:\n"
        "  receiver: ops\n"
        "escalation:\n"
        "  after_minutes: 0.05\n"  # three seconds
        "  receivers: [ministerie]\n"
    )
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"esc-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=config,
        extra_env={"OPVANG_API_TOKEN": TOKEN},
    )
    worker.start()
    try:
        prefix = worker.prefix
        await worker.publish_locations(*TWO_CAPPED_CENTRES)

        # Changes need the token; a silence on cap_near for Budel is made through the API.
        status, _ = call(
            worker, "POST", "/api/silences", {"matchers": {"rule": "cap_near"}}, token="wrong"
        )
        assert status == 401
        silence = {
            "matchers": {"rule": "cap_near", "location_id": "budel"},
            "starts_at": "2000-01-01T00:00:00+00:00",
            "ends_at": "2100-01-01T00:00:00+00:00",
            "author": "operator",
            "comment": "Budel is bezig met uitbreiding",
        }
        status, made = call(worker, "POST", "/api/silences", silence)
        assert status == 201, made
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if call(worker, "GET", "/api/silences")[1]["silences"]:
                break
            time.sleep(0.3)

        def occupancy(loc: str, n: int, count: int) -> tuple[str, str, bytes]:
            body = {
                "event_id": f"{loc}-{n}",
                "location_id": loc,
                "date": f"2024-06-{n:02d}",
                "occupancy": count,
            }
            return (f"{prefix}occupancy", loc, json.dumps(body).encode())

        await produce(
            kafka_bootstrap, [occupancy("ter-apel", 1, 2300), occupancy("budel", 1, 1950)]
        )
        # Ter Apel's cap_exceeded is critical: nobody acknowledges, so the ministry hears of it.
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not ministry.received:
            time.sleep(0.3)
        assert ("cap_exceeded", "ter-apel", "firing") in rules_heard(ministry)
        assert ("cap_exceeded", "ter-apel", "firing") in rules_heard(ops)
        # Budel's cap_near was silenced: nobody heard of it.
        assert not any(
            rule == "cap_near" and subject == "budel" for rule, subject, _ in rules_heard(ops)
        )

        # Budel goes over its cap too; this time someone acknowledges at once.
        await produce(kafka_bootstrap, [occupancy("budel", 2, 2100)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            "cap_exceeded",
            "budel",
            "firing",
        ) not in rules_heard(ops):
            time.sleep(0.2)
        budel = next(
            r.body["data"]["alert_id"]
            for r in ops.received
            if r.body["data"]["subject"]["id"] == "budel"
            and r.body["data"]["rule"] == "cap_exceeded"
        )
        status, body = call(worker, "POST", f"/api/alerts/{budel}/ack", {"by": "dienstdoende COA"})
        assert status == 202, body
        time.sleep(8)  # well past the 3-second escalation time
        assert ("cap_exceeded", "budel", "firing") not in rules_heard(ministry)

        status, history = call(worker, "GET", f"/api/alerts/{budel}/history")
        kinds = [entry["type"] for entry in history["history"]]
        assert "routed" in kinds and "attempt" in kinds and "ack" in kinds
        ack = next(e for e in history["history"] if e["type"] == "ack")
        assert ack["by"] == "dienstdoende COA"
    finally:
        worker.stop()
        ops.close()
        ministry.close()
    assert TOKEN not in worker.log_path.read_text(errors="replace")
