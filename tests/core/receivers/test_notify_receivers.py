"""Receiver specs from config (``alerts.receivers.specs.parse_receivers``): every channel, E.164
numbers, credentials by environment variable, and errors that name the key but never echo a secret
or a whole phone number."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.channels import ENV, HOOK_SECRET, HOOK_SECRET_OLD, SECRETS

from alerts.errors import ConfigError
from alerts.receivers.redact import mask_numbers, mask_phone
from alerts.receivers.specs import (
    AlertmanagerSpec,
    PagerDutySpec,
    SmsSpec,
    WebhookSpec,
    normalise_phone,
    parse_receivers,
)

RAW: list[dict[str, Any]] = [
    {
        "name": "coa-ops",
        "webhook": {
            "url": "https://hooks.example.nl/coa?token=abc",
            "secret_env": "HOOK_SECRET",
            "secret_envs": ["HOOK_SECRET_OLD"],
            "timeout": 3,
            "headers": {"x-team": "noord"},
        },
    },
    {
        "name": "burgemeester-westerwolde",
        "municipality_code": "GM1950",
        "province": "GR",
        "retry": [5, 60, 600],
        "sms": {
            "provider": "cm",
            "to": ["06 12345678", "+31 6 87654321"],
            "sender": "Opvangwacht",
            "token_env": "CM_PRODUCT_TOKEN",
        },
    },
    {
        "name": "twilio",
        "sms": {
            "provider": "twilio",
            "to": "0031612345678",
            "sender": "+3197010203",
            "token_env": "TWILIO_AUTH_TOKEN",
            "account_sid_env": "TWILIO_ACCOUNT_SID",
            "base_url": "http://127.0.0.1:9999",
        },
    },
    {"name": "ministerie", "pagerduty": {"routing_key_env": "PAGERDUTY_ROUTING_KEY"}},
    {"name": "am", "alertmanager": {"url": "http://alertmanager:9093", "firing_ttl": 86400}},
]


def test_every_channel_parses() -> None:
    hook, cm, twilio, pd, am = parse_receivers(RAW, ENV)
    assert (hook.name, hook.kind) == ("coa-ops", "webhook")
    assert hook.spec == WebhookSpec(
        url="https://hooks.example.nl/coa?token=abc",
        secrets=(HOOK_SECRET, HOOK_SECRET_OLD),
        timeout=3.0,
        headers={"x-team": "noord"},
    )
    assert cm.spec == SmsSpec(
        provider="cm",
        to=("+31612345678", "+31687654321"),
        sender="Opvangwacht",
        token_env="CM_PRODUCT_TOKEN",
        timeout=10.0,
    )
    assert (cm.municipality_code, cm.province, cm.retry_delays) == ("GM1950", "GR", (5, 60, 600))
    assert isinstance(twilio.spec, SmsSpec) and twilio.spec.to == ("+31612345678",)
    assert twilio.spec.api_base == "http://127.0.0.1:9999"
    assert pd.spec == PagerDutySpec("PAGERDUTY_ROUTING_KEY")
    assert pd.spec.url == "https://events.pagerduty.com/v2/enqueue"
    assert am.spec == AlertmanagerSpec("http://alertmanager:9093", firing_ttl_s=86400.0)
    assert parse_receivers(None, {}) == ()


def test_reprs_hide_secrets_and_numbers() -> None:
    text = repr(parse_receivers(RAW, ENV))
    assert all(secret not in text for secret in SECRETS), text
    assert "+3161234****" in text and "token=abc" not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06 12345678", "+31612345678"),
        ("06-12345678", "+31612345678"),
        ("+31 (0)6 12345678", "+31612345678"),
        ("0031612345678", "+31612345678"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalise_phone(raw, where="x") == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("06 1234567", "not a valid phone number"),
        ("12345", "not a valid phone number"),
        ("bel me", "not a phone number"),
        ("020 1234567", "not a mobile number"),
        ("", "must be a phone number"),
    ],
)
def test_bad_numbers_are_named_not_echoed(raw: str, why: str) -> None:
    item = {"name": "b", "sms": {**RAW[1]["sms"], "to": ["06 12345678", raw]}}
    with pytest.raises(ConfigError) as caught:
        parse_receivers([item], ENV)
    message = str(caught.value)
    assert "receivers[0] (b).sms.to[1]" in message and why in message
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) >= 7:
        assert digits not in message.replace(" ", "").replace("-", "")


def test_mask_phone() -> None:
    assert mask_phone("+31612345678") == "+3161234****"
    assert mask_phone("0612345678") == "061****"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Gsm '0031612345678' unreachable", "Gsm '003****' unreachable"),
        ("to +31612345678.", "to +3161234****."),
        ("to 31612345678", "to 316****"),
        ("call 0612345678", "call 061****"),
        ("call 06 12345678", "call 061****"),
        ("call 06-12345678", "call 061****"),
        ("call 06-1234-5678 now", "call 061**** now"),
        ("call 06 1234 5678", "call 061****"),
        ("call +31 6 1234 5678", "call +3161234****"),
        ("call +31 (0)6 12345678", "call +3106123****"),
        ("call (06) 12345678", "call 061****"),
        ("call 06.12.34.56.78", "call 061****"),
        # short codes and small numbers stay readable
        ("error 30003", "error 30003"),
        ("2.380 personen, code 21211", "2.380 personen, code 21211"),
        ("version 1.2.3", "version 1.2.3"),
    ],
)
def test_mask_numbers_however_the_digits_are_grouped(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked
    digits = "".join(c for c in mask_numbers(text) if c.isdigit())
    assert "612345678" not in digits  # the subscriber number never survives, in any grouping


def errors_for(item: dict[str, Any], env: dict[str, str] = ENV) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_receivers([item], env)
    text = str(caught.value)
    assert all(secret not in text for secret in SECRETS), text
    return text


def test_missing_environment_variable_is_named() -> None:
    text = errors_for(RAW[3], {})
    assert text == (
        "receivers[0] (ministerie).pagerduty.routing_key_env: "
        "environment variable PAGERDUTY_ROUTING_KEY is not set"
    )


def test_secret_values_in_config_are_refused() -> None:
    text = errors_for({"name": "h", "webhook": {"url": "https://x.nl", "secret": HOOK_SECRET}})
    assert "unknown key(s) secret" in text and "_env" in text


def test_unusable_webhook_secret_names_the_variable_only() -> None:
    env = {**ENV, "BAD": "whsec_c2hvcnQ="}
    text = errors_for({"name": "h", "webhook": {"url": "https://x.nl", "secret_env": "BAD"}}, env)
    assert "the secret in BAD is unusable" in text and "c2hvcnQ" not in text


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"webhook": {"url": "https://x.nl"}}, "needs a name"),
        ({"name": "a"}, "needs exactly one of webhook, sms, pagerduty, alertmanager"),
        (
            {"name": "a", "webhook": {"url": "https://x.nl"}, "pagerduty": {}},
            "(found webhook, pagerduty)",
        ),
        ({"name": "a", "webhook": {"url": "ftp://x.nl"}}, "webhook.url must be a URL"),
        ({"name": "a", "webhook": {"url": "https://x.nl"}, "colour": 1}, "unknown key(s) colour"),
        (
            {"name": "a", "webhook": {"url": "https://x.nl"}, "municipality_code": "1950"},
            "municipality_code must be a CBS code",
        ),
        (
            {"name": "a", "webhook": {"url": "https://x.nl"}, "province": "XX"},
            "province must be one of",
        ),
        ({"name": "a", "webhook": {"url": "https://x.nl"}, "retry": [5, -1]}, "retry[1]"),
        (
            {
                "name": "a",
                "webhook": {
                    "url": "https://x.nl",
                    "secret_env": "HOOK_SECRET",
                    "secret_envs": ["HOOK_SECRET_OLD", "CM_PRODUCT_TOKEN"],
                },
            },
            "at most two secrets",
        ),
        ({"name": "a", "sms": {**RAW[1]["sms"], "provider": "kpn"}}, "provider must be one of"),
        ({"name": "a", "sms": {**RAW[1]["sms"], "sender": "Opvangwacht NL"}}, "sender must be"),
        ({"name": "a", "sms": {**RAW[2]["sms"], "account_sid_env": None}}, "account_sid_env"),
        ({"name": "a", "sms": {**RAW[1]["sms"], "token_env": "not a name"}}, "token_env must"),
        ({"name": "a", "webhook": {"url": "https://x.nl", "timeout": 0}}, "timeout must be"),
        (
            {"name": "a", "sms": {**RAW[2]["sms"], "signing_key_env": "CM_PRODUCT_TOKEN"}},
            "signing_key_env is for messagebird only",
        ),
        (
            {
                "name": "a",
                "sms": {**RAW[1]["sms"], "provider": "messagebird", "signing_key_env": "UNSET"},
            },
            "signing_key_env: environment variable UNSET is not set",
        ),
    ],
)
def test_config_errors_name_the_key(item: dict[str, Any], message: str) -> None:
    assert message in errors_for(item)


def test_duplicate_names() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        parse_receivers([RAW[3], RAW[3]], ENV)


def test_the_key_of_each_providers_signed_delivery_reports() -> None:
    """Twilio signs delivery reports with the auth token, MessageBird with its signing key (a
    separate setting), CM not at all."""
    messagebird = {
        "name": "mb",
        "sms": {**RAW[1]["sms"], "provider": "messagebird", "signing_key_env": "MB_SIGNING_KEY"},
    }
    env = {**ENV, "MB_SIGNING_KEY": "mb-signing-key"}
    cm, twilio, mb = parse_receivers([RAW[1], RAW[2], messagebird], env)
    assert isinstance(cm.spec, SmsSpec) and cm.spec.report_key_env is None
    assert isinstance(twilio.spec, SmsSpec) and twilio.spec.report_key_env == "TWILIO_AUTH_TOKEN"
    assert isinstance(mb.spec, SmsSpec) and mb.spec.report_key_env == "MB_SIGNING_KEY"
    unsigned = {"name": "mb", "sms": {**RAW[1]["sms"], "provider": "messagebird"}}
    (mb,) = parse_receivers([unsigned], env)
    assert isinstance(mb.spec, SmsSpec) and mb.spec.report_key_env is None
