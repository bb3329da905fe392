"""On-call channels against real fakes on 127.0.0.1: PagerDuty Events API v2 (trigger, resolve,
acknowledge, one incident per alert_id) and Alertmanager API v2 (POST /api/v2/alerts)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fakes.channels import AM_TOKEN, ENV, EVENT, PD_KEY
from fakes.servers import AlertmanagerFake, PagerDutyFake

from alerts.model import AlertEvent, Severity
from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import DeliveryError
from alerts.notify.factory import build_notifier
from alerts.notify.pagerduty import PagerDutyNotifier
from alerts.receivers.specs import AlertmanagerSpec, PagerDutySpec, ReceiverSpec

RESOLVED = AlertEvent.from_dict(
    {**EVENT.to_dict(), "status": "resolved", "ends_at": "2024-07-05T09:00:00+02:00", "revision": 4}
)
NOW = dt.datetime(2024, 7, 2, 8, 0, tzinfo=dt.UTC).timestamp()


def pagerduty(base: str, http: httpx.AsyncClient) -> PagerDutyNotifier:
    spec = PagerDutySpec(
        "PAGERDUTY_ROUTING_KEY",
        url=f"{base}/v2/enqueue",
        client_url="https://opvangwacht.example.nl",
    )
    notifier = build_notifier(ReceiverSpec("ministerie", "pagerduty", spec), http, ENV)
    assert isinstance(notifier, PagerDutyNotifier)
    return notifier


async def test_pagerduty_trigger_resolve_acknowledge() -> None:
    with PagerDutyFake(PD_KEY) as pd:
        async with httpx.AsyncClient(trust_env=False) as http:
            notifier = pagerduty(pd.url, http)
            triggered = await notifier.send(EVENT)
            acked = await notifier.acknowledge(EVENT.alert_id)
            resolved = await notifier.send(RESOLVED)
    trigger, ack, resolve = (r.json() for r in pd.requests)
    assert all(r.path == "/v2/enqueue" and r.method == "POST" for r in pd.requests)
    assert trigger == {
        "routing_key": PD_KEY,
        "event_action": "trigger",
        "dedup_key": EVENT.alert_id,
        "payload": {
            "summary": EVENT.summary,
            "source": "opvangwacht",
            "severity": "critical",
            "timestamp": "2024-07-02T09:00:00+02:00",
            "component": "location/ter-apel",
            "group": "GR",
            "class": "cap_exceeded",
            "custom_details": EVENT.to_dict(),
        },
        "client": "opvangwacht",
        "client_url": "https://opvangwacht.example.nl",
    }
    assert ack == {
        "routing_key": PD_KEY,
        "event_action": "acknowledge",
        "dedup_key": EVENT.alert_id,
    }
    assert resolve == {
        "routing_key": PD_KEY,
        "event_action": "resolve",
        "dedup_key": EVENT.alert_id,
    }
    assert [r.status_code for r in (triggered, acked, resolved)] == [202, 202, 202]
    assert triggered.provider_id == EVENT.alert_id  # PagerDuty's dedup key is ours


@pytest.mark.parametrize(
    ("severity", "expected"),
    [(Severity.CRITICAL, "critical"), (Severity.WARNING, "warning"), (Severity.INFO, "info")],
)
def test_pagerduty_severity_mapping(severity: Severity, expected: str) -> None:
    event = AlertEvent.from_dict({**EVENT.to_dict(), "severity": severity.value})
    notifier = pagerduty("https://events.example", httpx.AsyncClient())
    assert notifier.body(event)["payload"]["severity"] == expected


async def test_pagerduty_invalid_event_is_not_recoverable() -> None:
    with PagerDutyFake(PD_KEY) as pd:
        async with httpx.AsyncClient(trust_env=False) as http:
            notifier = PagerDutyNotifier("x", http, routing_key=PD_KEY, url=f"{pd.url}/v2/enqueue")
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(AlertEvent.from_dict({**EVENT.to_dict(), "summary": ""}))
    assert caught.value.status_code == 400 and not caught.value.recoverable
    assert PD_KEY not in str(caught.value) + repr(caught.value) + repr(notifier)


def alertmanager(base: str, http: httpx.AsyncClient) -> AlertmanagerNotifier:
    spec = AlertmanagerSpec(
        url=base, generator_url="https://opvangwacht.example.nl/", token_env="AM_TOKEN"
    )
    notifier = build_notifier(ReceiverSpec("am", "alertmanager", spec), http, ENV, lambda: NOW)
    assert isinstance(notifier, AlertmanagerNotifier)
    return notifier


async def test_alertmanager_post_alerts() -> None:
    with AlertmanagerFake() as am:
        async with httpx.AsyncClient(trust_env=False) as http:
            notifier = alertmanager(am.url, http)
            firing = await notifier.send(EVENT)
            await notifier.send(RESOLVED)
    assert firing.status_code == 200
    first, second = am.requests
    assert (first.method, first.path) == ("POST", "/api/v2/alerts")
    assert first.headers["authorization"] == f"Bearer {AM_TOKEN}"
    assert first.json() == [
        {
            "labels": {
                "team": "coa-noord",
                "alertname": "cap_exceeded",
                "severity": "critical",
                "subject": "ter-apel",
                "subject_kind": "location",
                "alert_id": EVENT.alert_id,
                "province": "GR",
                "municipality_code": "GM1950",
            },
            "annotations": {"summary": EVENT.summary, "value": "2380", "threshold": "2000"},
            "startsAt": "2024-07-02T09:00:00+02:00",
            "endsAt": "2024-07-09T08:00:00Z",  # the injected now plus seven days
            "generatorURL": f"https://opvangwacht.example.nl/api/alerts/{EVENT.alert_id}",
        }
    ]
    resolved = second.json()[0]
    assert resolved["endsAt"] == "2024-07-05T09:00:00+02:00"
    assert resolved["labels"] == first.json()[0]["labels"]  # same labels: the same alert


def test_alertmanager_leaves_out_empty_labels_and_fixes_names() -> None:
    event = AlertEvent.from_dict(
        {
            **EVENT.to_dict(),
            "province": None,
            "municipality_code": None,
            "labels": {"team-name": "noord", "9x": "y", "empty": ""},
        }
    )
    labels = alertmanager("http://am.example:9093", httpx.AsyncClient()).body(event)[0]["labels"]
    assert "province" not in labels and "municipality_code" not in labels and "empty" not in labels
    assert labels["team_name"] == "noord" and labels["_9x"] == "y"
