"""Every channel end to end on loopback, no broker needed: config mapping -> receiver specs ->
notifiers -> fake providers that are down for a while, with retries on a (shortened) schedule.

A receiver that is down gets everything once it is back, each alert change accepted once per
webhook-id with a signature the reference library accepts, SMS provider ids recorded, and not one
secret or whole phone number in any error text written along the way.
"""

from __future__ import annotations

import asyncio
import random

import httpx
from fakes.channels import (
    CM_TOKEN,
    ENV,
    EVENT,
    HOOK_SECRET,
    HOOK_SECRET_OLD,
    MB_KEY,
    PD_KEY,
    SECRETS,
    TW_SID,
    TW_TOKEN,
)
from fakes.servers import (
    AlertmanagerFake,
    CmFake,
    MessageBirdFake,
    PagerDutyFake,
    TwilioFake,
    WebhookReceiver,
)
from standardwebhooks.webhooks import Webhook

from alerts.delivery.retry import RetrySchedule
from alerts.model import AlertEvent
from alerts.notify.base import DeliveryError, DeliveryResult, Notifier
from alerts.notify.factory import build_notifiers
from alerts.receivers.specs import parse_receivers

FAST = RetrySchedule((0.01, 0.02, 0.05, 0.05, 0.05, 0.05))


async def deliver(notifier: Notifier, event: AlertEvent, log: list[str]) -> DeliveryResult | None:
    rng = random.Random(1)
    attempt = 0
    while True:
        attempt += 1
        try:
            return await notifier.send(event)
        except DeliveryError as exc:
            log.append(f"{notifier.name} attempt {attempt}: {exc!s} {exc!r}")
            if not exc.recoverable or FAST.gives_up_after(attempt):
                return None
            await asyncio.sleep(FAST.delay(attempt, rng, min(exc.retry_after or 0, 0.05)))


def events() -> list[AlertEvent]:
    base = EVENT.to_dict()
    return [
        EVENT,
        AlertEvent.from_dict({**base, "revision": 4, "severity": "warning"}),
        AlertEvent.from_dict(
            {**base, "revision": 5, "status": "resolved", "ends_at": "2024-07-05T09:00:00+02:00"}
        ),
    ]


async def test_every_channel_gets_everything_once_back() -> None:
    hook = WebhookReceiver()
    cm, mb = CmFake(CM_TOKEN), MessageBirdFake(MB_KEY)
    tw, pd, am = TwilioFake(TW_SID, TW_TOKEN), PagerDutyFake(PD_KEY), AlertmanagerFake()
    fakes = [hook, cm, mb, tw, pd, am]
    for fake in fakes:
        fake.start()
    try:
        # down for a while, each in its own way
        hook.fail(503, times=3)
        cm.fail(500, times=2)
        mb.fail(429, retry_after="1", times=1)
        tw.delay(1.0, times=1)
        pd.fail(502, times=2)
        am.fail(503, times=1)
        sms = {"to": ["06 12345678"], "sender": "Opvangwacht"}
        raw = [
            {
                "name": "hook",
                "webhook": {
                    "url": f"{hook.url}/h",
                    "secret_env": "HOOK_SECRET",
                    "secret_envs": ["HOOK_SECRET_OLD"],
                },
            },
            {
                "name": "cm",
                "sms": {
                    **sms,
                    "provider": "cm",
                    "token_env": "CM_PRODUCT_TOKEN",
                    "base_url": cm.url,
                },
            },
            {
                "name": "mb",
                "sms": {
                    **sms,
                    "provider": "messagebird",
                    "token_env": "MESSAGEBIRD_ACCESS_KEY",
                    "base_url": mb.url,
                },
            },
            {
                "name": "tw",
                "sms": {
                    **sms,
                    "provider": "twilio",
                    "token_env": "TWILIO_AUTH_TOKEN",
                    "account_sid_env": "TWILIO_ACCOUNT_SID",
                    "base_url": tw.url,
                    "timeout": 0.3,
                },
            },
            {
                "name": "pd",
                "pagerduty": {
                    "routing_key_env": "PAGERDUTY_ROUTING_KEY",
                    "url": f"{pd.url}/v2/enqueue",
                },
            },
            {"name": "am", "alertmanager": {"url": am.url}},
        ]
        log: list[str] = []
        async with httpx.AsyncClient(trust_env=False) as client:
            notifiers = build_notifiers(parse_receivers(raw, ENV), client, ENV)
            results = [await deliver(n, e, log) for e in events() for n in notifiers]
    finally:
        for fake in fakes:
            fake.stop()

    assert all(results), log
    assert len(log) == 3 + 2 + 1 + 1 + 2 + 1  # every failure was retried, none was final
    # the webhook: each change accepted once, identified by its webhook-id, signed
    accepted = hook.requests[3:]
    ids = [r.headers["webhook-id"] for r in accepted]
    assert ids == [f"{EVENT.alert_id}.{n}.hook" for n in (3, 4, 5)]
    assert {r.headers["webhook-id"] for r in hook.requests[:3]} == {ids[0]}  # retries: same id
    for request in accepted:
        for secret in (HOOK_SECRET, HOOK_SECRET_OLD):
            Webhook(secret).verify(request.body, request.headers)
    # PagerDuty: trigger, trigger (update), resolve on one dedup key
    actions = [r.json()["event_action"] for r in pd.requests[2:]]
    assert actions == ["trigger", "trigger", "resolve"]
    assert {r.json()["dedup_key"] for r in pd.requests} == {EVENT.alert_id}
    # SMS: provider ids for every delivery
    sms_results = [r for r in results if r is not None and r.receiver in ("cm", "mb", "tw")]
    assert len(sms_results) == 9 and all(r.provider_id for r in sms_results)
    # Alertmanager saw the resolve last
    assert am.requests[-1].json()[0]["endsAt"] == "2024-07-05T09:00:00+02:00"
    # nothing secret in anything we would have logged
    written = "\n".join(log)
    assert all(secret not in written for secret in SECRETS), written
