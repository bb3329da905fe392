"""Which delivery reports the worker believes (streams.web.reports): the keys per provider, the
URL a provider called, and the refusals, without a worker."""

from __future__ import annotations

import time

from aiohttp.test_utils import make_mocked_request
from fakes.signing import messagebird_jwt, twilio_signature

from alerts.receivers.specs import parse_receivers
from streams.web.reports import ReportKeys, called_urls

ENV = {"TW": "tw-token", "TW2": "tw-token-2", "MB": "mb-key", "MBS": "mb-signing", "CM": "cm"}


def sms(name: str, provider: str, **extra: str) -> dict[str, object]:
    token = {"twilio": "TW", "messagebird": "MB", "cm": "CM"}[provider]
    body: dict[str, object] = {
        "provider": provider,
        "to": "+31612345678",
        "sender": "Opvangwacht",
        "token_env": token,
        **extra,
    }
    if provider == "twilio":
        body["account_sid_env"] = "TW"
    return {"name": name, "sms": body}


RECEIVERS = parse_receivers(
    [
        sms("tw-a", "twilio"),
        sms("tw-b", "twilio", token_env="TW2"),
        sms("mb", "messagebird", signing_key_env="MBS"),
        sms("cm", "cm"),
        {"name": "hook", "webhook": {"url": "https://x.nl"}},
    ],
    ENV,
)
KEYS = ReportKeys.from_receivers(RECEIVERS, ENV)
URL = "https://opvang.example.nl/api/sms/reports/twilio/t0ken"
FORM = [("MessageSid", "SM1"), ("MessageStatus", "delivered")]


def refusal(provider: str, headers: dict[str, str], *, body: bytes = b"", url: str = URL) -> object:
    return KEYS.refusal(
        provider, urls=[url], headers=headers, body=body, form=FORM, now=time.time()
    )


def test_keys_per_provider_from_the_receivers() -> None:
    assert KEYS.keys == {"twilio": ("tw-token", "tw-token-2"), "messagebird": ("mb-signing",)}


def test_twilio_reports_need_a_signature_with_any_twilio_receivers_token() -> None:
    assert refusal("twilio", {}) == "unsigned: X-Twilio-Signature is missing"
    for token in ("tw-token", "tw-token-2"):
        signature = twilio_signature(URL, dict(FORM), token)
        assert refusal("twilio", {"X-Twilio-Signature": signature}) is None
    forged = twilio_signature(URL, dict(FORM), "guess")
    assert refusal("twilio", {"X-Twilio-Signature": forged}) == (
        "the signature does not match this request"
    )


def test_messagebird_reports_need_a_jwt_with_the_signing_key() -> None:
    url = "https://opvang.example.nl/api/sms/reports/messagebird/t0ken?id=1&status=delivered"
    good = messagebird_jwt(url, b"", "mb-signing")
    assert refusal("messagebird", {"MessageBird-Signature-JWT": good}, url=url) is None
    other = messagebird_jwt(url, b"", "mb-key")  # the access key is not the signing key
    assert refusal("messagebird", {"MessageBird-Signature-JWT": other}, url=url) is not None
    assert refusal("messagebird", {}, url=url) == ("unsigned: MessageBird-Signature-JWT is missing")


def test_cm_does_not_sign_and_a_provider_without_a_key_is_refused() -> None:
    assert refusal("cm", {}) is None
    unsigned = ReportKeys.from_receivers(RECEIVERS[:2], ENV)  # no messagebird receiver
    assert unsigned.refusal("messagebird", urls=[URL], headers={}, body=b"", form=[], now=0.0) == (
        "no messagebird receiver names the key its delivery reports are signed with "
        "(signing_key_env)"
    )


def test_called_urls_as_received_and_as_the_proxy_says() -> None:
    path = "/api/sms/reports/twilio/t0ken?a=%5B1%5D&b=x+y"
    direct = make_mocked_request("POST", path, headers={"Host": "127.0.0.1:6066"})
    assert called_urls(direct) == [f"http://127.0.0.1:6066{path}"]
    proxied = make_mocked_request(
        "POST",
        path,
        headers={
            "Host": "worker:6066",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "opvang.example.nl, inner",
        },
    )
    assert called_urls(proxied) == [
        f"http://worker:6066{path}",
        f"https://opvang.example.nl{path}",
    ]
