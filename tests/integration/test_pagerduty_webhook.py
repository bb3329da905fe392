"""PagerDuty's v3 webhook, signed as PagerDuty documents it, against a real worker fed through
Kafka: an acknowledgement in PagerDuty stops opvangwacht's own escalation; an unsigned or
wrongly signed delivery is refused and writes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from builders import TWO_CAPPED_CENTRES
from e2e_support import HookServer, WorkerProcess, call_api, produce
from fakes.servers import PagerDutyFake

pytestmark = pytest.mark.integration

SECRET = "pd-subscription-" + uuid.uuid4().hex
OLD_SECRET = "pd-old-" + uuid.uuid4().hex
TOKEN = "api-" + uuid.uuid4().hex
PD_KEY = "R0UTINGKEY" + uuid.uuid4().hex[:22]


def sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook(event_type: str, incident_key: str, agent: str = "Anna de Vries") -> bytes:
    """A v3 webhook body in the shape of PagerDuty's example payload."""
    return json.dumps(
        {
            "event": {
                "id": "01" + uuid.uuid4().hex[:24].upper(),
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": "2024-06-01T09:01:00.000Z",
                "agent": {
                    "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                    "id": "PLH1HKV",
                    "self": "https://api.pagerduty.com/users/PLH1HKV",
                    "summary": agent,
                    "type": "user_reference",
                },
                "client": None,
                "data": {
                    "id": "PGR0VU2",
                    "type": "incident",
                    "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                    "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                    "number": 2,
                    "status": "acknowledged",
                    "incident_key": incident_key,
                    "title": "Budel boven de grens",
                    "urgency": "high",
                    "resolve_reason": None,
                },
            }
        }
    ).encode()


def post(worker: WorkerProcess, body: bytes, signature: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    status, answer = call_api(
        worker.port, "/api/pagerduty/webhook", method="POST", body=body, headers=headers
    )
    return status, json.loads(answer)


def history(worker: WorkerProcess, alert_id: str) -> list[dict[str, Any]]:
    status, answer = call_api(worker.port, f"/api/alerts/{alert_id}/history")
    assert status == 200, answer
    entries: list[dict[str, Any]] = json.loads(answer)["history"]
    return entries


def alert_ids(hook: HookServer) -> dict[str, str]:
    return {
        r.body["data"]["subject"]["id"]: r.body["data"]["alert_id"]
        for r in hook.received
        if r.body["data"]["rule"] == "cap_exceeded"
    }


def heard(hook: HookServer) -> set[tuple[str, str]]:
    return {(r.body["data"]["rule"], r.body["data"]["subject"]["id"]) for r in hook.received}


async def test_a_pagerduty_ack_stops_the_escalation(kafka_bootstrap: str, tmp_path: Path) -> None:
    ops, ministry, pd = HookServer(), HookServer(), PagerDutyFake(PD_KEY)
    pd.start()
    config = (
        "receivers:\n"
        f"  - name: ops\n    webhook: {{url: '{ops.url}'}}\n"
        f"  - name: ministerie\n    webhook: {{url: '{ministry.url}'}}\n"
        "  - name: piket\n"
        f"    pagerduty: {{routing_key_env: PD_KEY, url: '{pd.url}/v2/enqueue'}}\n"
        "route:\n"
        "  routes:\n"
        "    - {receiver: piket, continue: true}\n"
        "    - {receiver: ops}\n"
        "escalation:\n"
        "  after_minutes: 0.1\n"  # six seconds
        "  receivers: [ministerie]\n"
    )
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"pdhook-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=config,
        extra_env={
            "OPVANG_API_TOKEN": TOKEN,
            "PD_KEY": PD_KEY,
            "OPVANG_PAGERDUTY_WEBHOOK_SECRET": f"{OLD_SECRET},{SECRET}",
        },
    )
    worker.start()
    try:
        prefix = worker.prefix
        await worker.publish_locations(*TWO_CAPPED_CENTRES)
        reports = [
            (
                f"{prefix}occupancy",
                loc,
                json.dumps(
                    {
                        "event_id": f"{loc}-1",
                        "location_id": loc,
                        "date": "2024-06-01",
                        "occupancy": 2300,
                    }
                ).encode(),
            )
            for loc in ("ter-apel", "budel")
        ]
        await produce(kafka_bootstrap, reports)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and len(alert_ids(ops)) < 2:
            time.sleep(0.2)
        ids = alert_ids(ops)
        budel, ter_apel = ids["budel"], ids["ter-apel"]
        # The worker opened a PagerDuty incident with the alert id as its dedup key.
        triggers = [r.json() for r in pd.requests if r.json().get("event_action") == "trigger"]
        assert budel in {t["dedup_key"] for t in triggers}

        ack = webhook("incident.acknowledged", budel)
        # Refused, and nothing written: no signature, a wrong one, another secret's, a signature
        # of another body, a signature that is not v1.
        assert post(worker, ack, None)[0] == 401
        assert post(worker, ack, "v1=" + "0" * 64)[0] == 403
        assert post(worker, ack, sign(ack, "not-the-secret"))[0] == 403
        assert post(worker, ack, sign(webhook("incident.acknowledged", ter_apel), SECRET))[0] == 403
        assert post(worker, ack, sign(ack, SECRET).replace("v1=", "v0="))[0] == 403
        # Signed, but not ours to act on: answered 2xx (so PagerDuty does not retry), ignored.
        for body in (
            webhook("incident.triggered", budel),
            webhook("incident.acknowledged", "not-an-alert-of-ours"),
            json.dumps({"event": {"event_type": "pagey.ping", "data": {}}}).encode(),
        ):
            status, answer = post(worker, body, sign(body, SECRET))
            assert status == 200 and "ignored" in answer, answer
        garbage = b'{"event": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        assert post(worker, garbage, sign(garbage, SECRET))[0] == 400
        assert not [e for e in history(worker, budel) if e["type"] == "ack"]

        # PagerDuty rotating its secret: two signatures, the second one is ours.
        status, answer = post(worker, ack, f"{sign(ack, 'rotated-away')},{sign(ack, SECRET)}")
        assert status == 202, answer
        assert answer == {"alert_id": budel, "acknowledged_by": "Anna de Vries (PagerDuty)"}

        # Ter Apel, not acknowledged anywhere, escalates to the ministry; Budel does not.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and ("cap_exceeded", "ter-apel") not in heard(ministry):
            time.sleep(0.3)
        assert ("cap_exceeded", "ter-apel") in heard(ministry)
        time.sleep(4)
        assert ("cap_exceeded", "budel") not in heard(ministry), heard(ministry)

        acks = [e for e in history(worker, budel) if e["type"] == "ack"]
        assert [a["by"] for a in acks] == ["Anna de Vries (PagerDuty)"]
        assert "PGR0VU2" in acks[0]["comment"]
        assert not [e for e in history(worker, ter_apel) if e["type"] == "ack"]
        # The acknowledgement came from PagerDuty: it is not sent back there.
        actions = [(r.json()["event_action"], r.json()["dedup_key"]) for r in pd.requests]
        assert ("acknowledge", budel) not in actions
    finally:
        worker.stop()
        ops.close()
        ministry.close()
        pd.stop()
    log = worker.log_path.read_text(errors="replace")
    assert SECRET not in log and OLD_SECRET not in log


async def test_without_a_secret_the_webhook_is_not_there(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"pdnone-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config="receivers: []\n",
    )
    worker.start()
    try:
        body = webhook("incident.acknowledged", "x")
        assert post(worker, body, sign(body, SECRET))[0] == 404
    finally:
        worker.stop()
