"""The SMS channel: each provider's request as it documents it (checked on what a real fake server
on 127.0.0.1 received), the provider ids, partial failures, and the text: one GSM-7 segment for the
summary of every rule, measured with the independent GSM 03.38 tables of ``test_texts``.
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from core.rules.test_texts import CASES, gsm_units
from fakes.channels import CM_TOKEN, ENV, EVENT, MB_KEY, PHONES, SECRETS, TW_SID, TW_TOKEN
from fakes.servers import CmFake, MessageBirdFake, Recorded, Reply, TwilioFake

from alerts.model import AlertEvent, AlertStatus, Severity
from alerts.notify.base import DeliveryError
from alerts.notify.factory import build_notifier
from alerts.notify.sms import SmsNotifier, cm_reference
from alerts.receivers.sms_text import gsm7_units, is_gsm7, sms_text, to_gsm7
from alerts.receivers.specs import ReceiverSpec, SmsSpec


def sms(provider: str, base: str, http: httpx.AsyncClient) -> SmsNotifier:
    spec = SmsSpec(
        provider=provider,  # type: ignore[arg-type]
        to=PHONES,
        sender="Opvangwacht",
        token_env={"cm": "CM_PRODUCT_TOKEN", "messagebird": "MESSAGEBIRD_ACCESS_KEY"}.get(
            provider, "TWILIO_AUTH_TOKEN"
        ),
        account_sid_env="TWILIO_ACCOUNT_SID" if provider == "twilio" else None,
        base_url=base,
    )
    notifier = build_notifier(ReceiverSpec("burgemeester", "sms", spec), http, ENV)
    assert isinstance(notifier, SmsNotifier)
    return notifier


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False)


# --------------------------------------------------------------------------- CM.com


async def test_cm_request_as_documented() -> None:
    with CmFake(CM_TOKEN) as cm:
        async with client() as c:
            notifier = sms("cm", cm.url, c)
            result = await notifier.send(EVENT)
    got = cm.last
    assert (got.method, got.path) == ("POST", "/v1.0/message")
    assert got.headers["x-cm-producttoken"] == CM_TOKEN
    assert got.headers["content-type"] == "application/json"
    msg = got.json()["messages"]["msg"]
    assert len(msg) == 1
    assert msg[0]["from"] == "Opvangwacht"
    assert msg[0]["to"] == [{"number": "0031612345678"}, {"number": "0031687654321"}]
    assert msg[0]["body"] == {"type": "auto", "content": sms_text(EVENT)}
    assert msg[0]["allowedChannels"] == ["SMS"]
    assert "authentication" not in got.json()["messages"]  # the token travels in the header only
    # CM returns no id of its own: our reference is what its status reports will carry
    reference = cm_reference(EVENT, "burgemeester")
    assert msg[0]["reference"] == reference and re.fullmatch(r"[0-9a-f]{32}", reference)
    assert (result.status_code, result.provider_id, result.provider_ids) == (
        200,
        reference,
        (reference,),
    )


async def test_cm_rejected_number_is_not_recoverable_and_masked() -> None:
    with CmFake(CM_TOKEN, reject=frozenset({"0031687654321"})) as cm:
        async with client() as c:
            notifier = sms("cm", cm.url, c)
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(EVENT)
    error = caught.value
    assert error.recoverable is False
    assert "+3168765****" in str(error)
    assert error.provider_ids == (cm_reference(EVENT, "burgemeester"),)  # the other one went out
    assert all(secret not in str(error) + repr(error) for secret in SECRETS)


# --------------------------------------------------------------------------- MessageBird


async def test_messagebird_request_as_documented() -> None:
    with MessageBirdFake(MB_KEY) as mb:
        async with client() as c:
            notifier = sms("messagebird", mb.url, c)
            result = await notifier.send(EVENT)
    got = mb.last
    assert (got.method, got.path) == ("POST", "/messages")
    assert got.headers["authorization"] == f"AccessKey {MB_KEY}"
    body = got.json()
    assert body["originator"] == "Opvangwacht"
    assert body["recipients"] == [31612345678, 31687654321]
    assert body["body"] == sms_text(EVENT)
    assert body["datacoding"] == "plain"
    assert body["reference"]  # needed for MessageBird to send status reports at all
    assert result.status_code == 201
    assert result.provider_id and re.fullmatch(r"[0-9a-f]{32}", result.provider_id)


async def test_messagebird_wrong_key_gives_its_error_code_only() -> None:
    with MessageBirdFake("another-key") as mb:
        async with client() as c:
            notifier = sms("messagebird", mb.url, c)
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(EVENT)
    assert caught.value.status_code == 401 and not caught.value.recoverable
    assert "provider code 2" in str(caught.value)
    assert MB_KEY not in str(caught.value)


# --------------------------------------------------------------------------- Twilio


async def test_twilio_request_as_documented() -> None:
    with TwilioFake(TW_SID, TW_TOKEN) as tw:
        async with client() as c:
            notifier = sms("twilio", tw.url, c)
            result = await notifier.send(EVENT)
    assert len(tw.requests) == 2  # one message resource per number
    for request, number in zip(tw.requests, PHONES, strict=True):
        assert request.method == "POST"
        assert request.path == f"/2010-04-01/Accounts/{TW_SID}/Messages.json"
        assert request.basic_auth() == (TW_SID, TW_TOKEN)
        assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert request.form() == {"To": number, "From": "Opvangwacht", "Body": sms_text(EVENT)}
    assert result.status_code == 201
    assert len(result.provider_ids) == 2
    assert all(sid.startswith("SM") for sid in result.provider_ids)
    assert result.provider_id == ",".join(result.provider_ids)


async def test_twilio_retry_skips_the_numbers_already_accepted() -> None:
    with TwilioFake(TW_SID, TW_TOKEN) as tw:
        async with client() as c:
            notifier = sms("twilio", tw.url, c)
            # the first number goes through, the second hits a 503
            original = tw.answer
            calls = []

            def flaky(request: Recorded) -> Reply:
                calls.append(request)
                if len(calls) == 2:
                    return Reply(503, {"code": 20500, "message": "down"}, {"Retry-After": "3"})
                return original(request)

            tw.answer = flaky  # type: ignore[method-assign]
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(EVENT)
            first = caught.value
            result = await notifier.send(EVENT)
    assert first.recoverable and first.retry_after == 3
    assert len(first.provider_ids) == 1 and first.provider_ids[0].startswith("SM")
    assert "+3168765****" in str(first) and PHONES[1] not in str(first)
    # the retry sent only to the second number, and reports both ids
    assert [r.form()["To"] for r in tw.requests] == [PHONES[0], PHONES[1], PHONES[1]]
    assert result.provider_ids[0] == first.provider_ids[0]


async def test_twilio_bad_number_error_masks_it() -> None:
    with TwilioFake(TW_SID, TW_TOKEN) as tw:
        async with client() as c:
            notifier = SmsNotifier(
                "x",
                c,
                provider="twilio",
                to=["+3161234"],
                sender="Opvangwacht",
                token=TW_TOKEN,
                account_sid=TW_SID,
                base_url=tw.url,
            )
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(EVENT)
    assert caught.value.status_code == 400 and not caught.value.recoverable
    assert "provider code 21211" in str(caught.value)
    assert "+3161234" not in str(caught.value).replace("+3161234*", "")


# --------------------------------------------------------------------------- the text


def event(summary: str, status: AlertStatus, severity: Severity) -> AlertEvent:
    return AlertEvent.from_dict(
        {
            **EVENT.to_dict(),
            "summary": summary,
            "status": status.value,
            "severity": severity.value,
            "ends_at": "2024-07-03T09:00:00+02:00" if status is AlertStatus.RESOLVED else None,
        }
    )


@pytest.mark.parametrize("label", sorted(CASES))
@pytest.mark.parametrize("severity", list(Severity))
def test_every_rule_fits_one_segment(label: str, severity: Severity) -> None:
    found = CASES[label]()
    assert found is not None
    status = AlertStatus.RESOLVED if "resolved" in label else AlertStatus.FIRING
    text = sms_text(event(found.summary, status, severity))
    assert gsm_units(text) <= 160, text  # the independent table in test_texts
    assert gsm7_units(text) == gsm_units(text)
    prefix = "Opgelost: " if status is AlertStatus.RESOLVED else None
    if prefix:
        assert text.startswith(prefix)
    # a summary that fits keeps every word; one that does not ends in "..."
    body = text.split(": ", 1)[1]
    assert body == found.summary or (text.endswith("...") and found.summary.startswith(body[:-3]))


def test_prefixes_by_severity_and_status() -> None:
    s = "Ter Apel: 2.380 personen"
    assert sms_text(event(s, AlertStatus.FIRING, Severity.CRITICAL)) == f"KRITIEK: {s}"
    assert sms_text(event(s, AlertStatus.FIRING, Severity.WARNING)) == f"Waarschuwing: {s}"
    assert sms_text(event(s, AlertStatus.FIRING, Severity.INFO)) == f"Info: {s}"
    assert sms_text(event(s, AlertStatus.RESOLVED, Severity.CRITICAL)) == f"Opgelost: {s}"


def test_long_text_is_cut_at_a_word_with_three_dots() -> None:
    words = "Noodopvang Zuidwolde heeft vandaag " + " ".join(["veel"] * 60) + " plaatsen"
    text = sms_text(event(words, AlertStatus.FIRING, Severity.CRITICAL))
    assert text.endswith("veel...")
    assert gsm_units(text) <= 160 and gsm_units(text) >= 150


def test_extension_characters_count_twice() -> None:
    summary = "Ter Apel: dwangsom " + "€" * 80
    text = sms_text(event(summary, AlertStatus.FIRING, Severity.INFO))
    assert gsm_units(text) <= 160
    assert text.count("€") == (160 - len("Info: Ter Apel: dwangsom ") - 3) // 2


def test_non_gsm_characters_are_replaced() -> None:
    text = sms_text(event("Fryslân – ‘Één’ locatie… ëïô\tçŵ 😀", AlertStatus.FIRING, Severity.INFO))
    assert is_gsm7(text)
    assert text == "Info: Fryslan - 'Één' locatie... eio cw ?"
    assert to_gsm7("ë") == "e" and not is_gsm7("…") and is_gsm7("Één")


def test_dates_in_the_model_are_untouched() -> None:
    assert EVENT.event_date == dt.date(2024, 7, 2)
