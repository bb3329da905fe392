"""One table of every channel for the contract test: how to start its fake provider and how to
configure a receiver against it, with the secrets that must never show up in an error or a repr.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from builders import an_alert

from alerts.model import AlertStatus, Severity
from alerts.notify.base import Notifier
from alerts.notify.factory import build_notifier
from alerts.receivers.specs import (
    AlertmanagerSpec,
    PagerDutySpec,
    ReceiverSpec,
    SmsSpec,
    WebhookSpec,
)
from fakes.servers import (
    AlertmanagerFake,
    CmFake,
    FakeServer,
    MessageBirdFake,
    PagerDutyFake,
    TwilioFake,
    WebhookReceiver,
)

QUERY_SECRET = "qs-s3cr3t-7f1e"
HEADER_SECRET = "hdr-s3cr3t-9a2b"
USER_SECRET = "pw-s3cr3t-41c0"
PATH_SECRET = "T0PATHs3cr3t"
# base64 of 32 bytes each; the "old" one is still active during a rotation
HOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOOK_SECRET_OLD = "whsec_C2FsdHlzZWNyZXRvbGRrZXkxMjM0NTY3ODkwYWI="
CM_TOKEN = "00000000-1111-2222-3333-cmtoken44444"
MB_KEY = "live_mbAccessKey5d3a8f0c2b"
MB_SIGNING_KEY = "mbSigningKey0f1e2d3c4b5a69788"
TW_SID = "AC0123456789abcdef0123456789abcdef"
TW_TOKEN = "twAuthToken9f8e7d6c5b4a39281"
PD_KEY = "R0UTINGKEY0123456789abcdefABCDEF"
AM_TOKEN = "am-bearer-5ecret-77"
PHONES = ("+31612345678", "+31687654321")

ENV = {
    "HOOK_SECRET": HOOK_SECRET,
    "HOOK_SECRET_OLD": HOOK_SECRET_OLD,
    "CM_PRODUCT_TOKEN": CM_TOKEN,
    "MESSAGEBIRD_ACCESS_KEY": MB_KEY,
    "MESSAGEBIRD_SIGNING_KEY": MB_SIGNING_KEY,
    "TWILIO_ACCOUNT_SID": TW_SID,
    "TWILIO_AUTH_TOKEN": TW_TOKEN,
    "PAGERDUTY_ROUTING_KEY": PD_KEY,
    "AM_TOKEN": AM_TOKEN,
}

SECRETS = (
    QUERY_SECRET,
    HEADER_SECRET,
    USER_SECRET,
    PATH_SECRET,
    HOOK_SECRET,
    HOOK_SECRET[len("whsec_") :],
    HOOK_SECRET_OLD[len("whsec_") :],
    CM_TOKEN,
    MB_KEY,
    MB_SIGNING_KEY,
    TW_SID,
    TW_TOKEN,
    PD_KEY,
    AM_TOKEN,
    # phone numbers in full, in every spelling a provider or we might use
    *PHONES,
    *(p.lstrip("+") for p in PHONES),
    *("0" + p[3:] for p in PHONES),
)

EVENT = an_alert(
    alert_id="cap_exceeded-ter-apel-bcac4a9220",
    rule="cap_exceeded",
    status=AlertStatus.FIRING,
    severity=Severity.CRITICAL,
    value=2380,
    threshold=2000,
    summary="Ter Apel: 2.380 personen, 380 boven de afgesproken grens van 2.000",
    starts_at="2024-07-02T09:00:00+02:00",
    event_date=dt.date(2024, 7, 2),
    revision=3,
    headroom=-380,
    cap_source="Afspraak COA-Westerwolde",
    labels={"team": "coa-noord"},
)

SECRET_HEADERS = {"authorization": f"Bearer {HEADER_SECRET}"}


def secret_url(base: str) -> str:
    """``base`` with a password in the userinfo, a token in the path and one in the query."""
    scheme, rest = base.split("://", 1)
    return f"{scheme}://alerts:{USER_SECRET}@{rest}/hook/{PATH_SECRET}?token={QUERY_SECRET}&x=1"


@dataclass(frozen=True)
class Channel:
    """``spec(base_url, timeout)`` configures a receiver named ``ops`` against ``base_url``."""

    id: str
    fake: Callable[[], FakeServer]
    spec: Callable[[str, float], ReceiverSpec]
    success: int  # what the real provider answers when all is well

    def notifier(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> Notifier:
        return build_notifier(self.spec(base_url, timeout), client, ENV, clock)


def _webhook(base: str, timeout: float) -> ReceiverSpec:
    spec = WebhookSpec(
        url=secret_url(base),
        secrets=(HOOK_SECRET, HOOK_SECRET_OLD),
        timeout=timeout,
        headers=SECRET_HEADERS,
    )
    return ReceiverSpec("ops", "webhook", spec)


def _sms(provider: str) -> Callable[[str, float], ReceiverSpec]:
    def make(base: str, timeout: float) -> ReceiverSpec:
        spec = SmsSpec(
            provider=provider,  # type: ignore[arg-type]
            to=PHONES,
            sender="Opvangwacht",
            token_env={
                "cm": "CM_PRODUCT_TOKEN",
                "messagebird": "MESSAGEBIRD_ACCESS_KEY",
                "twilio": "TWILIO_AUTH_TOKEN",
            }[provider],
            account_sid_env="TWILIO_ACCOUNT_SID" if provider == "twilio" else None,
            base_url=base,
            timeout=timeout,
        )
        return ReceiverSpec("ops", "sms", spec, municipality_code="GM1950")

    return make


def _pagerduty(base: str, timeout: float) -> ReceiverSpec:
    spec = PagerDutySpec("PAGERDUTY_ROUTING_KEY", url=f"{base}/v2/enqueue", timeout=timeout)
    return ReceiverSpec("ops", "pagerduty", spec)


def _alertmanager(base: str, timeout: float) -> ReceiverSpec:
    spec = AlertmanagerSpec(
        url=base,
        timeout=timeout,
        generator_url="https://opvangwacht.example.nl",
        token_env="AM_TOKEN",
    )
    return ReceiverSpec("ops", "alertmanager", spec)


CHANNELS = (
    Channel("webhook", WebhookReceiver, _webhook, 204),
    Channel("sms-cm", lambda: CmFake(CM_TOKEN), _sms("cm"), 200),
    Channel("sms-messagebird", lambda: MessageBirdFake(MB_KEY), _sms("messagebird"), 201),
    Channel("sms-twilio", lambda: TwilioFake(TW_SID, TW_TOKEN), _sms("twilio"), 201),
    Channel("pagerduty", lambda: PagerDutyFake(PD_KEY), _pagerduty, 202),
    Channel("alertmanager", AlertmanagerFake, _alertmanager, 200),
)
