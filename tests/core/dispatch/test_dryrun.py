"""``alerts.simulate``: who would be told what, decided without sending, and the texts exactly as
the notifiers would put them on the wire (checked against the notifiers themselves)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from builders import PLACES, an_alert
from fakes.channels import CM_TOKEN, ENV, EVENT, PD_KEY, PHONES, SECRETS

from alerts.config import AlertingConfig
from alerts.model import AlertEvent, AlertStatus, Severity
from alerts.notify.factory import build_notifier
from alerts.receivers.sms_text import gsm7_units, sms_text
from alerts.replay import replay
from alerts.simulate import BUNDLED, DUPLICATE, DryRun, dry_run, message

AMS = dt.timezone(dt.timedelta(hours=2))  # summer time, as the events below
NIGHT = dt.datetime(2024, 7, 2, 23, 30, tzinfo=AMS)
MORNING = dt.datetime(2024, 7, 3, 7, 0, tzinfo=AMS)

SMS = {
    "provider": "cm",
    "to": list(PHONES),
    "sender": "Opvangwacht",
    "token_env": "CM_PRODUCT_TOKEN",
}
BASE: dict[str, Any] = {
    "route": {"receiver": "coa-ops"},
    "receivers": [
        {
            "name": "coa-ops",
            "webhook": {
                "url": "https://ops.example.nl/hook/PATHSECRET?t=1",
                "secret_env": "HOOK_SECRET",
            },
        },
        {
            "name": "piket",
            "pagerduty": {"routing_key_env": "PAGERDUTY_ROUTING_KEY"},
        },
        {
            "name": "burgemeester-westerwolde",
            "municipality_code": "GM1950",
            "quiet_hours": {"start": "22:00", "end": "07:00"},
            "sms_budget": {"per_hour": 3, "per_day": 10},
            "sms": SMS,
        },
        {"name": "burgemeester-cranendonck", "municipality_code": "GM1706", "sms": SMS},
    ],
}


def config(**extra: Any) -> AlertingConfig:
    return AlertingConfig.from_mapping({**BASE, **extra}, ENV)


def alert(
    rule: str = "cap_near",
    where: str = "ter-apel",
    severity: Severity = Severity.WARNING,
    status: AlertStatus = AlertStatus.FIRING,
    revision: int = 1,
    date: dt.date = dt.date(2024, 7, 2),
) -> AlertEvent:
    subject, province, municipality = PLACES[where]
    return an_alert(
        alert_id=f"{rule}-{subject.id}",
        rule=rule,
        status=status,
        severity=severity,
        subject=subject,
        province=province,
        municipality_code=municipality,
        value=1990,
        threshold=2000,
        summary=f"{subject.id}: {rule} ({severity.value})",
        starts_at=f"{date.isoformat()}T09:00:00+02:00",
        ends_at=None if status is AlertStatus.FIRING else f"{date.isoformat()}T09:00:00+02:00",
        event_date=date,
        revision=revision,
    )


def actions(result: DryRun, index: int = -1) -> dict[str, str]:
    return {t.receiver: t.action for t in result.routed[index].targets}


SILENCE = {
    "matchers": {"rule": "cap_near", "location_id": "ter-apel"},
    "starts_at": "2024-07-01T00:00:00+02:00",
    "ends_at": "2024-07-08T00:00:00+02:00",
    "author": "operations centre",
    "comment": "Ter Apel is being extended",
}
INHIBIT = [{"source_matchers": {"rule": "cap_exceeded"}, "target_matchers": {"rule": "cap_near"}}]
CRITICAL_CAP = alert("cap_exceeded", severity=Severity.CRITICAL)
#: Four report days judged at one moment: separate evaluations within one hour of texting.
DAYS = [dt.date(2024, 7, d) for d in (1, 2, 3, 4)]
NOON = dt.datetime(2024, 7, 4, 12, 0, tzinfo=AMS)

CASES: list[tuple[str, dict[str, Any], list[AlertEvent], dt.datetime | None, dict[str, str]]] = [
    (
        "a warning at Ter Apel: operations and the mayor of Westerwolde, not Cranendonck's",
        {},
        [alert()],
        None,
        {"coa-ops": "send", "burgemeester-westerwolde": "send"},
    ),
    (
        "Budel is Cranendonck's: Westerwolde's mayor hears nothing of it",
        {},
        [alert(where="budel")],
        None,
        {"coa-ops": "send", "burgemeester-cranendonck": "send"},
    ),
    (
        "a province alert reaches no mayor without province in the receiver",
        {},
        [alert("region_capacity_low", "GR")],
        None,
        {"coa-ops": "send"},
    ),
    (
        "silenced for every receiver while the silence runs (judged at event time)",
        {"silences": [SILENCE]},
        [alert()],
        None,
        {"coa-ops": "silenced", "burgemeester-westerwolde": "silenced"},
    ),
    (
        "the silence is over at --at time",
        {"silences": [SILENCE]},
        [alert()],
        dt.datetime(2024, 7, 9, 12, 0, tzinfo=AMS),
        {"coa-ops": "send", "burgemeester-westerwolde": "send"},
    ),
    (
        "inhibited while cap_exceeded of this run fires",
        {"inhibit_rules": INHIBIT},
        [CRITICAL_CAP, alert()],
        None,
        {"coa-ops": "inhibited", "burgemeester-westerwolde": "inhibited"},
    ),
    (
        "not inhibited once cap_exceeded resolved (the mayor's SMS bundles both changes)",
        {"inhibit_rules": INHIBIT},
        [CRITICAL_CAP, alert("cap_exceeded", status=AlertStatus.RESOLVED, revision=2), alert()],
        None,
        {"coa-ops": "send", "burgemeester-westerwolde": BUNDLED},
    ),
    (
        "quiet hours: a warning is held for the mayor, operations hear it now",
        {},
        [alert()],
        NIGHT,
        {"coa-ops": "send", "burgemeester-westerwolde": "hold"},
    ),
    (
        "quiet hours: cap_exceeded always goes through",
        {},
        [alert("cap_exceeded", severity=Severity.WARNING)],
        NIGHT,
        {"coa-ops": "send", "burgemeester-westerwolde": "send"},
    ),
    (
        "budget of 3 an hour: the fourth warning waits",
        {},
        [
            alert("cap_near", date=DAYS[0]),
            alert("without_bed", date=DAYS[1]),
            alert("breach_forecast", date=DAYS[2]),
            alert("report_missing", date=DAYS[3]),
        ],
        NOON,
        {"coa-ops": "send", "burgemeester-westerwolde": "over_budget"},
    ),
    (
        "budget spent, but a critical alert still goes through",
        {},
        [
            alert("cap_near", date=DAYS[0]),
            alert("without_bed", date=DAYS[1]),
            alert("report_missing", date=DAYS[2]),
            alert("breach_forecast", severity=Severity.CRITICAL, date=DAYS[3]),
        ],
        NOON,
        {"coa-ops": "send", "burgemeester-westerwolde": "send"},
    ),
    (
        "the same change twice is sent once",
        {},
        [alert(), alert()],
        None,
        {"coa-ops": DUPLICATE, "burgemeester-westerwolde": DUPLICATE},
    ),
    (
        "critical: the route sends it to the on-call pager as well",
        {
            "route": {
                "receiver": "coa-ops",
                "routes": [
                    {"match": {"severity": "critical"}, "receiver": "piket", "continue": True}
                ],
            }
        },
        [CRITICAL_CAP],
        None,
        {"piket": "send", "burgemeester-westerwolde": "send"},
    ),
]


@pytest.mark.parametrize(
    ("config_extra", "events", "at", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_who_hears_what(
    config_extra: dict[str, Any],
    events: list[AlertEvent],
    at: dt.datetime | None,
    expected: dict[str, str],
) -> None:
    result = dry_run(events, config(**config_extra), at=at)
    assert actions(result) == expected


def test_quiet_hours_say_when_the_digest_goes_out() -> None:
    result = dry_run([alert()], config(), at=NIGHT)
    held = next(t for t in result.routed[0].targets if t.action == "hold")
    assert held.release_at == MORNING
    assert "quiet hours" in held.reason and MORNING.isoformat() in held.reason
    assert held.message is not None and held.message.text == sms_text(alert())


def test_over_budget_waits_an_hour() -> None:
    result = dry_run(
        [
            alert("cap_near", date=DAYS[0]),
            alert("without_bed", date=DAYS[1]),
            alert("breach_forecast", date=DAYS[2]),
            alert("report_missing", date=DAYS[3]),
        ],
        config(),
        at=NOON,
    )
    waiting = next(t for t in result.routed[3].targets if t.action == "over_budget")
    assert waiting.release_at == result.routed[3].at + dt.timedelta(hours=1)


def test_each_change_is_judged_at_its_event_time() -> None:
    result = dry_run([alert(date=dt.date(2024, 1, 15))], config())
    assert result.routed[0].at == dt.datetime(
        2024, 1, 15, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )


def test_an_alert_nobody_hears_of_is_listed_with_no_target() -> None:
    result = dry_run([alert()], AlertingConfig())
    assert result.routed[0].targets == ()
    assert result.summary()["unrouted"] == 1


def test_summary_counts_per_receiver() -> None:
    events = [
        alert("cap_near", date=DAYS[0]),
        alert("without_bed", date=DAYS[1]),
        alert("breach_forecast", date=DAYS[2]),
        alert("report_missing", date=DAYS[3]),
        alert(where="budel"),
    ]
    summary = dry_run(events, config(), at=NOON).summary()
    assert summary["alerts"] == 5
    assert summary["receivers"] == {
        "coa-ops": {"send": 5},
        "burgemeester-westerwolde": {"send": 3, "over_budget": 1},
        "burgemeester-cranendonck": {"send": 1},
    }
    assert (summary["notifications"], summary["over_budget"]) == (9, 1)


# --------------------------------------------------------------------------- the exact texts


def _capture(spec_name: str, event: AlertEvent) -> httpx.Request:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(202 if "pagerduty" in str(request.url) else 200, json={})

    async def go() -> None:
        spec = next(s for s in config().receivers if s.name == spec_name)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            await build_notifier(spec, client, ENV).send(event)

    import asyncio

    asyncio.run(go())
    return sent[0]


def test_the_sms_text_is_what_the_sms_notifier_sends() -> None:
    spec = next(s for s in config().receivers if s.name == "burgemeester-westerwolde")
    shown = message(EVENT, spec)
    body = json.loads(_capture("burgemeester-westerwolde", EVENT).content)
    assert shown.text == body["messages"]["msg"][0]["body"]["content"]
    assert shown.fields["septets"] == gsm7_units(shown.text) <= 160
    assert shown.fields["to"] == ["+3161234****", "+3168765****"]


def test_the_webhook_fields_are_those_of_the_cloudevent_sent() -> None:
    spec = next(s for s in config().receivers if s.name == "coa-ops")
    shown = message(EVENT, spec)
    sent = json.loads(_capture("coa-ops", EVENT).content)
    assert (shown.fields["type"], shown.fields["subject"], shown.fields["id"]) == (
        sent["type"],
        sent["subject"],
        sent["id"],
    )
    assert shown.fields["url"] == "https://ops.example.nl"  # never the path or query
    assert shown.text == sent["data"]["summary"]


@pytest.mark.parametrize("status", [AlertStatus.FIRING, AlertStatus.RESOLVED])
def test_the_pagerduty_fields_are_those_of_the_event_sent(status: AlertStatus) -> None:
    event = dataclasses.replace(EVENT, status=status, ends_at="2024-07-05T09:00:00+02:00")
    spec = next(s for s in config().receivers if s.name == "piket")
    shown = message(event, spec)
    sent = json.loads(_capture("piket", event).content)
    assert shown.fields["event_action"] == sent["event_action"]
    assert shown.fields["dedup_key"] == sent["dedup_key"]
    if status is AlertStatus.FIRING:
        assert shown.text == sent["payload"]["summary"]


def test_no_secret_and_no_whole_number_in_a_result() -> None:
    warning = dataclasses.replace(EVENT, alert_id="cap_near-ter-apel", severity=Severity.WARNING)
    events = [EVENT, warning, dataclasses.replace(EVENT, status=AlertStatus.RESOLVED, revision=4)]
    route = {
        "receiver": "coa-ops",
        "routes": [{"match": {"severity": "critical"}, "receiver": "piket", "continue": True}],
    }
    result = dry_run(events, config(route=route))
    text = json.dumps([r.to_dict() for r in result.routed]) + json.dumps(result.summary())
    assert "sms" in text and "pagerduty" in text and "webhook" in text
    for secret in (*SECRETS, CM_TOKEN, PD_KEY, "PATHSECRET", ENV["HOOK_SECRET"]):
        assert secret not in text


# --------------------------------------------------------------------------- the pure replay


def test_replay_skips_a_report_for_an_unknown_location() -> None:
    from alerts.model import OccupancyReport

    report = OccupancyReport("e1", "nowhere", dt.date(2024, 7, 2), 10)
    result = replay({}, [report], AlertingConfig())
    assert result.events == ()
    assert result.skipped == (("e1", "unknown location 'nowhere'"),)
