"""The webhook channel's wire format (CloudEvents 1.0, Standard Webhooks signatures checked with
the ``standardwebhooks`` reference package), and the retry schedules.

The contract every notifier keeps (status codes, timeouts, no secrets) is in
``test_notify_contract.py``, run over every channel including this one.
"""

from __future__ import annotations

import base64
import random
import time

import httpx
import pytest
from fakes.channels import (
    EVENT,
    HOOK_SECRET,
    HOOK_SECRET_OLD,
    SECRETS,
    secret_url,
)
from fakes.servers import WebhookReceiver
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from alerts.delivery.retry import (
    PAGING_SCHEDULE,
    SMS_SCHEDULE,
    WEBHOOK_SCHEDULE,
    RetrySchedule,
    schedule_for,
)
from alerts.errors import ConfigError
from alerts.model import AlertEvent
from alerts.notify.base import DeliveryError, DeliveryResult
from alerts.notify.factory import build_notifier
from alerts.notify.webhook import WebhookNotifier, parse_retry_after, sign
from alerts.receivers.specs import ReceiverSpec, WebhookSpec

RESOLVED = AlertEvent.from_dict(
    {
        **EVENT.to_dict(),
        "status": "resolved",
        "ends_at": "2024-07-05T09:00:00+02:00",
        "revision": 4,
    }
)


def cloud_notifier(
    client: httpx.AsyncClient, url: str, secrets: tuple[str, ...] = (HOOK_SECRET,), **kw: object
) -> WebhookNotifier:
    spec = ReceiverSpec("ops", "webhook", WebhookSpec(url=url, secrets=secrets))
    notifier = build_notifier(spec, client, {}, **kw)  # type: ignore[arg-type]
    assert isinstance(notifier, WebhookNotifier)
    return notifier


# --------------------------------------------------------------------------- CloudEvents + signing


async def test_cloudevent_envelope_and_headers() -> None:
    with WebhookReceiver() as hook:
        async with httpx.AsyncClient(trust_env=False) as client:
            notifier = cloud_notifier(client, f"{hook.url}/hook/coa?token=abc")
            result = await notifier.send(EVENT)
            await notifier.send(RESOLVED)
    assert result == DeliveryResult("ops", 204, result.latency_s)
    firing, resolved = hook.requests
    assert firing.method == "POST" and firing.path == "/hook/coa"
    assert firing.query == {"token": "abc"}
    assert firing.headers["content-type"] == "application/json"
    envelope = firing.json()
    assert envelope == {
        "specversion": "1.0",
        "type": "nl.opvangwacht.alert.firing",
        "source": "urn:opvangwacht",
        "id": "cap_exceeded-ter-apel-bcac4a9220.3.ops",
        "time": "2024-07-02T09:00:00+02:00",
        "subject": "cap_exceeded-ter-apel-bcac4a9220",
        "datacontenttype": "application/json",
        "data": EVENT.to_dict(),
    }
    assert envelope["id"] == firing.headers["webhook-id"]
    assert envelope["data"]["summary"] == EVENT.summary  # UTF-8 as is
    later = resolved.json()
    assert later["type"] == "nl.opvangwacht.alert.resolved"
    assert later["time"] == "2024-07-05T09:00:00+02:00"  # the end, for a resolve
    assert later["id"] == "cap_exceeded-ter-apel-bcac4a9220.4.ops"
    assert firing.headers["opvang-delivery-id"] == "cap_exceeded-ter-apel-bcac4a9220:3"


async def test_signature_verifies_with_the_reference_library() -> None:
    with WebhookReceiver() as hook:
        async with httpx.AsyncClient(trust_env=False) as client:
            await cloud_notifier(client, hook.url).send(EVENT)
    got = hook.last
    assert got.headers["webhook-signature"].startswith("v1,")
    assert " " not in got.headers["webhook-signature"]  # one secret, one signature
    payload = Webhook(HOOK_SECRET).verify(got.body, got.headers)
    assert payload["data"] == EVENT.to_dict()
    # a different key, or a body changed in transit, does not verify
    with pytest.raises(WebhookVerificationError):
        Webhook(HOOK_SECRET_OLD).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(HOOK_SECRET).verify(got.body.replace(b"2380", b"2381"), got.headers)


async def test_rotation_signs_with_both_secrets_and_each_verifies_alone() -> None:
    with WebhookReceiver() as hook:
        async with httpx.AsyncClient(trust_env=False) as client:
            await cloud_notifier(client, hook.url, (HOOK_SECRET, HOOK_SECRET_OLD)).send(EVENT)
    got = hook.last
    signatures = got.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret in (HOOK_SECRET, HOOK_SECRET_OLD):
        assert Webhook(secret).verify(got.body, got.headers)["id"] == got.headers["webhook-id"]
        # and each signature on its own belongs to exactly one of the secrets
    only_new = {**got.headers, "webhook-signature": signatures[0]}
    only_old = {**got.headers, "webhook-signature": signatures[1]}
    Webhook(HOOK_SECRET).verify(got.body, only_new)
    Webhook(HOOK_SECRET_OLD).verify(got.body, only_old)
    with pytest.raises(WebhookVerificationError):
        Webhook(HOOK_SECRET_OLD).verify(got.body, only_new)


async def test_retries_keep_the_webhook_id_and_take_a_fresh_timestamp() -> None:
    now = [time.time()]
    with WebhookReceiver() as hook:
        hook.fail(503)
        async with httpx.AsyncClient(trust_env=False) as client:
            notifier = cloud_notifier(client, hook.url, clock=lambda: now[0])
            with pytest.raises(DeliveryError):
                await notifier.send(EVENT)
            now[0] += 65
            await notifier.send(EVENT)
    first, second = hook.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body  # receivers deduplicate on the id; the body is identical
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 65
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    Webhook(HOOK_SECRET).verify(second.body, second.headers)


async def test_timestamp_comes_from_the_injected_clock() -> None:
    with WebhookReceiver() as hook:
        async with httpx.AsyncClient(trust_env=False) as client:
            await cloud_notifier(client, hook.url, clock=lambda: 1_719_903_600.9).send(EVENT)
    got = hook.last
    assert got.headers["webhook-timestamp"] == "1719903600"
    # an old timestamp is what a receiver rejects as a replay
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(HOOK_SECRET).verify(got.body, got.headers)
    # the signature itself is over id.timestamp.body, as the spec says
    assert got.headers["webhook-signature"] == sign(
        got.headers["webhook-id"], 1_719_903_600, got.body, [HOOK_SECRET]
    )


def test_sign_matches_a_hand_computed_hmac() -> None:
    import hashlib
    import hmac

    key = base64.b64decode(HOOK_SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(
        hmac.new(key, b"msg_1.1700000000.{}", hashlib.sha256).digest()
    ).decode()
    assert sign("msg_1", 1700000000, b"{}", [HOOK_SECRET]) == f"v1,{expected}"


async def test_410_asks_to_disable_the_endpoint() -> None:
    with WebhookReceiver() as hook:
        hook.fail(410)
        async with httpx.AsyncClient(trust_env=False) as client:
            notifier = cloud_notifier(client, secret_url(hook.url))
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(EVENT)
    error = caught.value
    assert (error.recoverable, error.status_code, error.disable) == (False, 410, True)
    assert "410" in str(error) and "disable" in str(error)
    assert all(secret not in str(error) + repr(error) for secret in SECRETS)


async def test_unsigned_without_secrets() -> None:
    with WebhookReceiver() as hook:
        async with httpx.AsyncClient(trust_env=False) as client:
            await cloud_notifier(client, hook.url, ()).send(EVENT)
    assert "webhook-signature" not in hook.last.headers
    assert hook.last.headers["webhook-id"]


def test_a_malformed_secret_is_refused_without_echoing_it() -> None:
    client = httpx.AsyncClient()
    for bad in ("not-a-whsec", "whsec_!!!!notbase64!!!!", "whsec_c2hvcnQ="):
        with pytest.raises(ValueError) as caught:
            WebhookNotifier("ops", "https://x.example", client, secrets=[bad])
        assert bad not in str(caught.value)


# --------------------------------------------------------------------------- the old format


async def test_plain_envelope_is_the_old_body_for_the_old_constructor() -> None:
    """``WebhookNotifier(name, url, client, timeout=, headers=)`` as streams.worker.app calls it
    today still posts the bare AlertEvent with ``opvang-delivery-id``."""
    with WebhookReceiver() as hook:
        async with httpx.AsyncClient(trust_env=False) as client:
            notifier = WebhookNotifier(
                "ops",
                f"{hook.url}/hook/coa?token=abc",
                client,
                timeout=5.0,
                headers={"authorization": "Bearer xyz"},
            )
            await notifier.send(EVENT)
    got = hook.last
    assert got.json() == EVENT.to_dict()
    assert got.headers["opvang-delivery-id"] == "cap_exceeded-ter-apel-bcac4a9220:3"
    assert got.headers["authorization"] == "Bearer xyz"
    assert got.headers["webhook-id"] == "cap_exceeded-ter-apel-bcac4a9220.3.ops"


def test_repr_names_the_target_without_path_query_or_userinfo() -> None:
    notifier = WebhookNotifier(
        "ops", secret_url("https://hooks.example.nl:8443"), httpx.AsyncClient()
    )
    assert repr(notifier) == "WebhookNotifier('ops', 'https://hooks.example.nl:8443')"


def test_factory_needs_its_env_credentials() -> None:
    from alerts.receivers.specs import PagerDutySpec

    spec = ReceiverSpec("pd", "pagerduty", PagerDutySpec("PD_NOT_SET"))
    with pytest.raises(ConfigError, match="PD_NOT_SET is not set"):
        build_notifier(spec, httpx.AsyncClient(), {})


# --------------------------------------------------------------------------- retry schedules


def test_webhook_schedule_runs_about_three_days() -> None:
    assert 2.5 * 86400 <= WEBHOOK_SCHEDULE.total_s <= 3.5 * 86400
    assert WEBHOOK_SCHEDULE.delays[:4] == (5.0, 300.0, 1800.0, 7200.0)
    assert SMS_SCHEDULE.total_s < 3600 and PAGING_SCHEDULE.total_s < 3600
    assert WEBHOOK_SCHEDULE.max_attempts == len(WEBHOOK_SCHEDULE.delays) + 1


def test_schedule_jitter_and_retry_after_floor() -> None:
    schedule = RetrySchedule((10.0, 100.0), jitter=0.2, max_retry_after=50.0)
    rng = random.Random(4)
    draws = [schedule.delay(1, rng) for _ in range(300)]
    assert all(8 <= d <= 12 for d in draws) and max(draws) - min(draws) > 2
    assert all(80 <= schedule.delay(9, rng) <= 120 for _ in range(50))  # past the end: the last
    assert schedule.delay(1, rng, retry_after=40) >= 40
    assert schedule.delay(1, rng, retry_after=10_000) <= 50  # capped
    assert [schedule.gives_up_after(n) for n in (1, 2, 3)] == [False, False, True]


def test_schedule_for_a_receiver() -> None:
    hook = ReceiverSpec("h", "webhook", WebhookSpec("https://x.example"))
    assert schedule_for(hook) is WEBHOOK_SCHEDULE
    custom = ReceiverSpec("h", "sms", hook.spec, retry_delays=(1.0, 2.0))
    assert schedule_for(custom).delays == (1.0, 2.0)
    assert schedule_for(custom).max_retry_after == SMS_SCHEDULE.max_retry_after


# --------------------------------------------------------------------------- Retry-After parsing


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        ("7", None, 7.0),
        (" 120 ", None, 120.0),
        ("0", None, 0.0),
        (None, None, None),
        ("", None, None),
        ("soon", None, None),
        ("-5", None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 30, 30.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 60, 0.0),
    ],
)
def test_parse_retry_after(value: str | None, now: float | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=now) == expected
