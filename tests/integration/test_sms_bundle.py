"""A mayor's SMS through the real worker and a loopback CM.com gateway: the critical changes one
report causes go out as one message, at once, within one segment; a report read again sends
nothing new; a correction of the same morning that brings nothing critical is folded."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from e2e_support import WorkerProcess, produce
from fakes.channels import CM_TOKEN, PHONES
from fakes.servers import CmFake, Recorded, Reply, WebhookReceiver

from alerts.receivers.sms_text import gsm7_units

pytestmark = pytest.mark.integration


def location(location_id: str, capacity: int, cap: int | None) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "name": location_id.title(),
        "kind": "regular",
        "municipality_code": "GM0014",
        "province": "GR",
        "capacity": capacity,
        "cap": cap,
    }


def report(location_id: str, day: str, occupancy: int, **extra: int) -> bytes:
    body = {"event_id": f"{location_id}-{day}", "location_id": location_id, "date": day}
    return json.dumps({**body, "occupancy": occupancy, **extra}).encode()


class TimedCm(CmFake):
    """CM.com's gateway that notes when each message arrived."""

    def __init__(self) -> None:
        super().__init__(token=CM_TOKEN)
        self.arrived: list[tuple[float, str, str]] = []

    def answer(self, request: Recorded) -> Reply:
        reply = super().answer(request)
        if reply.status == 200:
            for msg in request.json()["messages"]["msg"]:
                self.arrived.append((time.monotonic(), msg["reference"], msg["body"]["content"]))
        return reply


def sms_sent(cm: TimedCm) -> list[tuple[float, str, str]]:
    """(arrival, reference, text) of every message the gateway took."""
    return list(cm.arrived)


def changes(hook: WebhookReceiver) -> list[dict[str, Any]]:
    return [r.json()["data"] for r in list(hook.requests)]


def settle(cm: TimedCm, hook: WebhookReceiver, seconds: float, deadline: float) -> None:
    """Wait until neither server has taken a request for ``seconds``."""
    last = (len(cm.requests), len(hook.requests))
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = (len(cm.requests), len(hook.requests))
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif last[1] and time.monotonic() - quiet_since >= seconds:
            return


async def test_one_sms_for_the_critical_changes_of_one_report(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    cm, hook = TimedCm(), WebhookReceiver().start()
    cm.start()
    config = (
        "route:\n"
        "  receiver: ops\n"
        "receivers:\n"
        "  - name: ops\n"
        "    webhook:\n"
        f"      url: {hook.url}/hook\n"
        "  - name: burgemeester-groningen\n"
        "    municipality_code: GM0014\n"
        "    province: GR\n"
        "    sms:\n"
        "      provider: cm\n"
        f'      to: "{PHONES[0]}"\n'
        "      sender: Opvangwacht\n"
        "      token_env: CM_PRODUCT_TOKEN\n"
        f"      base_url: {cm.url}\n"
    )
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"smsb-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=config,
        extra_env={"CM_PRODUCT_TOKEN": CM_TOKEN},
    )
    worker.start()
    try:
        prefix = worker.prefix
        await worker.publish_locations(location("aa", 1000, 1000))
        crowded = report("aa", "2024-05-01", 1100, without_bed=60, slept_outside=25)
        sent_at = time.monotonic()
        await produce(kafka_bootstrap, [(f"{prefix}occupancy", "aa", crowded)])
        settle(cm, hook, 6.0, time.monotonic() + 90)
        first_round = sms_sent(cm)
        # the same report again (a redelivery upstream): nothing new for anyone
        await produce(kafka_bootstrap, [(f"{prefix}occupancy", "aa", crowded)])
        settle(cm, hook, 4.0, time.monotonic() + 30)
        # a corrected report for the same morning: everyone has a bed now
        corrected = json.loads(report("aa", "2024-05-01", 1100, without_bed=0, slept_outside=25))
        corrected["event_id"] = "aa-2024-05-01-corrected"
        before = len(hook.requests)
        await produce(
            kafka_bootstrap, [(f"{prefix}occupancy", "aa", json.dumps(corrected).encode())]
        )
        settle(cm, hook, 4.0, time.monotonic() + 30)
        corrections = [r.json()["data"] for r in list(hook.requests)[before:]]
        metrics = worker.metrics()
    finally:
        worker.stop()
        cm.stop()
        hook.stop()

    told = changes(hook)
    location_changes = [c for c in told if c["subject"]["kind"] == "location"]
    critical = [c for c in location_changes if c["severity"] == "critical"]
    assert len(critical) >= 2, f"the report should make several critical alerts: {told}"
    texts = sms_sent(cm)
    assert texts == first_round, "neither a report read again nor a correction sends an SMS"
    assert texts, "the mayor got no SMS"
    at, _, first = texts[0]
    assert at - sent_at < 10, "a critical SMS is not held back"
    assert first.startswith("KRITIEK: ") and gsm7_units(first) <= 160
    for change in critical:  # every critical change is in the message, or counted in it
        assert change["summary"] in first or "meer, zie statuspagina" in first
    # one message per evaluation: the location's report, the province's closed day
    evaluations = {(c["event_date"], c["subject"]["kind"], c["subject"]["id"]) for c in told}
    mayor = {k for k in evaluations if k[1] == "location" or k[2] == "GR"}
    assert len(texts) <= len(mayor) < len([c for c in told if c["subject"]["kind"] != "national"])
    assert len({ref for _, ref, _ in texts}) == len(texts), "each SMS has its own reference"
    # the correction resolves a warning: not texted again that morning, but counted as folded
    assert [(c["rule"], c["status"]) for c in corrections] == [("without_bed", "resolved")]
    assert sms_sent(cm) == first_round
    folded = (
        'opvang_notifications_total{channel="sms",outcome="folded",'
        'receiver="burgemeester-groningen"}'
    )
    assert f"{folded} 1.0" in metrics
