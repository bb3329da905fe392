"""No secret and no whole phone number anywhere, end to end.

The real worker on the real broker, with a receiver of every channel kind against the loopback
fakes (a signed webhook whose URL carries secrets in userinfo, path and query and a bearer header,
CM, MessageBird and Twilio with their keys and real-looking numbers, PagerDuty with its routing
key, Alertmanager with a token), attempts that fail on the way (so error texts are written) and
receivers that fail for good (so notifications go dead), delivery reports that quote the numbers,
an acknowledgement with the API token and a request with a wrong one. Then every surface is
scanned: the worker's whole log, every record (key and value) on every topic of this run (audit,
notifications, notifications.dead, alerts, deadletter, the internal and changelog topics), and
the API answers (alert history, dead notifications, receivers), for each secret, its base64
forms, and each phone number in E.164, international and national spellings.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest
from e2e_support import (
    WorkerProcess,
    call_api,
    list_topics,
    produce,
    read_topic,
)
from fakes.channels import (
    AM_TOKEN,
    CM_TOKEN,
    ENV,
    HEADER_SECRET,
    HOOK_SECRET,
    HOOK_SECRET_OLD,
    MB_KEY,
    MB_SIGNING_KEY,
    PATH_SECRET,
    PD_KEY,
    PHONES,
    QUERY_SECRET,
    TW_SID,
    TW_TOKEN,
    USER_SECRET,
    secret_url,
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
from fakes.signing import messagebird_jwt, twilio_signature

from streams.dev.topic_reader import drain_topic

pytestmark = pytest.mark.integration

API_TOKEN = "api-T0ken-s3cret-8d41c"
DLR_TOKEN = "dlr-T0ken-s3cret-52be9"


def phone_spellings(e164: str) -> list[str]:
    """+31612345678 as people and providers write it: E.164, without '+', with 00, national."""
    national = "0" + e164[3:]
    return [
        e164,
        e164[1:],
        "00" + e164[1:],
        national,
        national[:2] + " " + national[2:],
        national[:2] + "-" + national[2:],
        f"+31 {e164[3]} {e164[4:]}",
        e164[3:],  # the national significant number: 612345678
        # grouped, as people write them in free text
        f"{national[:2]} {national[2:6]} {national[6:]}",
        f"{national[:2]}-{national[2:6]}-{national[6:]}",
        f"+31 {e164[3]} {e164[4:8]} {e164[8:]}",
        f"+31 (0){e164[3]} {e164[4:]}",
        f"({national[:2]}) {national[2:]}",
    ]


def base64_forms(secret: str) -> list[str]:
    raw = secret.encode()
    forms = [
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    ]
    return forms + [f.rstrip("=") for f in forms]


SECRET_VALUES = [
    API_TOKEN,
    DLR_TOKEN,
    HOOK_SECRET,
    HOOK_SECRET.removeprefix("whsec_"),
    HOOK_SECRET_OLD,
    HOOK_SECRET_OLD.removeprefix("whsec_"),
    CM_TOKEN,
    MB_KEY,
    MB_SIGNING_KEY,
    TW_SID,
    TW_TOKEN,
    PD_KEY,
    AM_TOKEN,
    HEADER_SECRET,
    USER_SECRET,
    PATH_SECRET,
    QUERY_SECRET,
]
NEEDLES: list[str] = sorted(
    {
        *SECRET_VALUES,
        *(form for secret in SECRET_VALUES for form in base64_forms(secret)),
        *base64_forms(f"{TW_SID}:{TW_TOKEN}"),  # Twilio's basic auth
        *base64_forms(f"alerts:{USER_SECRET}"),  # the webhook URL's userinfo
        *(spelling for phone in PHONES for spelling in phone_spellings(phone)),
    }
)


def leaks(surfaces: dict[str, str]) -> list[str]:
    found = []
    for needle in NEEDLES:
        for name, text in surfaces.items():
            at = text.find(needle)
            if at >= 0:
                found.append(f"{needle!r} in {name}: ...{text[max(0, at - 80) : at + 80]}...")
    return found


def config(fakes: dict[str, FakeServer]) -> str:
    def sms(provider: str, token_env: str, base: str, extra: str = "") -> str:
        return (
            "    municipality_code: GM1950\n"
            "    retry: [1, 1, 1]\n"
            "    sms:\n"
            f"      provider: {provider}\n"
            # one number in the national spelling, one in E.164 with spaces
            f'      to: ["0{PHONES[0][3:]}", "+31 {PHONES[1][3]} {PHONES[1][4:]}"]\n'
            "      sender: Opvangwacht\n"
            f"      token_env: {token_env}\n"
            f"      base_url: {base}\n" + extra
        )

    return (
        "receivers:\n"
        "  - name: ops-hook\n"
        "    retry: [1, 1, 1]\n"
        "    webhook:\n"
        f"      url: {secret_url(fakes['hook'].url)}\n"
        "      secret_env: HOOK_SECRET\n"
        "      secret_envs: [HOOK_SECRET_OLD]\n"
        f"      headers: {{authorization: 'Bearer {HEADER_SECRET}'}}\n"
        "  - name: gone-hook\n"
        "    retry: [1]\n"
        "    webhook:\n"
        f"      url: {secret_url(fakes['gone'].url)}\n"
        "      secret_env: HOOK_SECRET\n"
        "  - name: cm-sms\n" + sms("cm", "CM_PRODUCT_TOKEN", fakes["cm"].url) + ""
        "  - name: cm-rejecting\n" + sms("cm", "CM_PRODUCT_TOKEN", fakes["cm_reject"].url) + ""
        "  - name: mb-sms\n"
        + sms(
            "messagebird",
            "MESSAGEBIRD_ACCESS_KEY",
            fakes["mb"].url,
            "      signing_key_env: MESSAGEBIRD_SIGNING_KEY\n",
        )
        + "  - name: tw-sms\n"
        + sms(
            "twilio",
            "TWILIO_AUTH_TOKEN",
            fakes["tw"].url,
            "      account_sid_env: TWILIO_ACCOUNT_SID\n",
        )
        + "  - name: piket\n"
        "    retry: [1, 1, 1]\n"
        "    pagerduty:\n"
        "      routing_key_env: PAGERDUTY_ROUTING_KEY\n"
        f"      url: {fakes['pd'].url}/v2/enqueue\n"
        "  - name: alertmanager\n"
        "    retry: [1, 1, 1]\n"
        "    alertmanager:\n"
        f"      url: {fakes['am'].url}\n"
        "      token_env: AM_TOKEN\n"
    )


def report(n: int, count: int) -> bytes:
    body = {"event_id": f"d{n}", "location_id": "ter-apel", "date": f"2024-05-{n:02d}"}
    return json.dumps({**body, "occupancy": count}).encode()


def outcomes(audit: Iterable[dict[str, object]]) -> set[tuple[str, str]]:
    return {
        (str(e.get("receiver")), str(e.get("outcome"))) for e in audit if e.get("type") == "attempt"
    }


async def test_no_secret_and_no_whole_number_anywhere(kafka_bootstrap: str, tmp_path: Path) -> None:
    number_sent = "00" + PHONES[1][1:]  # as CM gets it
    spelled = phone_spellings(PHONES[0])
    fakes: dict[str, FakeServer] = {
        "hook": WebhookReceiver(),
        "gone": WebhookReceiver(),
        "cm": CmFake(CM_TOKEN),
        "cm_reject": CmFake(CM_TOKEN, reject=frozenset({number_sent})),
        "mb": MessageBirdFake(MB_KEY),
        "tw": TwilioFake(TW_SID, TW_TOKEN),
        "pd": PagerDutyFake(PD_KEY),
        "am": AlertmanagerFake(),
    }
    for fake in fakes.values():
        fake.start()
    # each fails on the way, in its own way; two fail for good
    fakes["hook"].fail(503, times=1)
    fakes["gone"].fail(401, times=1000)
    fakes["cm"].fail(500, times=1)
    fakes["mb"].fail(429, retry_after="1", times=1)
    fakes["tw"].fail(500, times=1)
    fakes["pd"].fail(502, times=1)
    fakes["am"].fail(503, times=1)
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"nosecret-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=config(fakes),
        extra_env={**ENV, "OPVANG_API_TOKEN": API_TOKEN, "OPVANG_DLR_TOKEN": DLR_TOKEN},
    )
    prefix = worker.prefix
    api: dict[str, bytes] = {}
    try:
        worker.start()
        await worker.publish_locations()
        records = [
            (f"{prefix}occupancy", "ter-apel", report(n, c))
            for n, c in ((1, 1900), (2, 2300), (3, 1700))
        ]
        records.append((f"{prefix}occupancy", "ter-apel", b"{not json"))  # a dead letter
        await produce(kafka_bootstrap, records)

        good = ["ops-hook", "cm-sms", "mb-sms", "tw-sms", "piket", "alertmanager"]
        wanted = {(r, "delivered") for r in good} | {(r, "retry") for r in good}
        wanted |= {("gone-hook", "dead"), ("cm-rejecting", "dead")}
        deadline = time.monotonic() + 120
        audit: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            audit = await read_topic(kafka_bootstrap, f"{prefix}audit", expect=10**6, timeout=2)
            if wanted <= outcomes(audit):
                break
        assert wanted <= outcomes(audit), (wanted - outcomes(audit), worker.log_tail())

        alerts = await read_topic(kafka_bootstrap, f"{prefix}alerts", expect=3, timeout=10)
        cap = next(a for a in alerts if a["rule"] == "cap_exceeded")
        # an acknowledgement with the API token (forwarded to PagerDuty), and one with a wrong one
        ack = json.dumps({"by": "operations centre"}).encode()
        bearer = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
        status, _ = call_api(
            worker.port,
            f"/api/alerts/{cap['alert_id']}/ack",
            method="POST",
            body=ack,
            headers=bearer,
        )
        assert status == 202
        wrong = {"Authorization": f"Bearer {API_TOKEN}x", "Content-Type": "application/json"}
        status, api["ack with a wrong token"] = call_api(
            worker.port,
            f"/api/alerts/{cap['alert_id']}/ack",
            method="POST",
            body=ack,
            headers=wrong,
        )
        assert status == 401

        # delivery reports that quote the numbers in full, one per provider
        reference = next(
            str(e["provider_id"])
            for e in audit
            if e.get("receiver") == "cm-sms" and e.get("outcome") == "delivered"
        )
        cm_report = {
            "messages": {
                "msg": {
                    "received": "2024-05-02T09:00:05",
                    "to": "00" + PHONES[0][1:],
                    "reference": reference,
                    "status": {
                        "code": "3",
                        "errorCode": "8",
                        "errorDescription": f"Gsm '{'00' + PHONES[0][1:]}' unreachable, "
                        f"try {spelled[9]} or {spelled[11]}",
                    },
                }
            }
        }
        dlr = f"/api/sms/reports/cm/{DLR_TOKEN}"
        status, api["cm delivery report"] = call_api(
            worker.port,
            dlr,
            method="POST",
            body=json.dumps(cm_report).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status == 200, api["cm delivery report"]
        query = urllib.parse.urlencode(
            {
                "id": "mb-123",
                "status": "delivery_failed",
                "recipient": PHONES[0][1:],
                "statusReason": f"unknown subscriber {PHONES[0]}, {spelled[12]}",
                "statusErrorCode": "1",
            }
        )
        mb_path = f"/api/sms/reports/messagebird/{DLR_TOKEN}?{query}"
        signed = messagebird_jwt(f"http://127.0.0.1:{worker.port}{mb_path}", b"", MB_SIGNING_KEY)
        status, api["messagebird delivery report"] = call_api(
            worker.port, mb_path, headers={"MessageBird-Signature-JWT": signed}
        )
        assert status == 200, api["messagebird delivery report"]
        fields = {
            "MessageSid": "SM123",
            "MessageStatus": "undelivered",
            "ErrorCode": "30003",
            "To": PHONES[0],
        }
        tw_path = f"/api/sms/reports/twilio/{DLR_TOKEN}"
        status, api["twilio delivery report"] = call_api(
            worker.port,
            tw_path,
            method="POST",
            body=urllib.parse.urlencode(fields).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(
                    f"http://127.0.0.1:{worker.port}{tw_path}", fields, TW_TOKEN
                ),
            },
        )
        assert status == 200, api["twilio delivery report"]
        status, api["delivery report with a wrong token"] = call_api(
            worker.port, f"/api/sms/reports/cm/{DLR_TOKEN}x", method="POST", body=b"{}"
        )
        assert status == 404

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            audit = await read_topic(kafka_bootstrap, f"{prefix}audit", expect=10**6, timeout=2)
            kinds = [e.get("type") for e in audit]
            if kinds.count("delivery-report") >= 3 and "ack-forwarded" in kinds:
                break
        assert [e.get("type") for e in audit].count("delivery-report") >= 3
        reports = [e for e in audit if e.get("type") == "delivery-report"]
        assert any("to +3161234****" in str(e.get("detail")) for e in reports), reports

        for alert in alerts:
            path = f"/api/alerts/{alert['alert_id']}/history"
            _, api[path] = call_api(worker.port, path)
        for path in ("/api/notifications/dead", "/api/receivers", "/api/alerts"):
            status, api[path] = call_api(worker.port, path)
            assert status == 200
        assert json.loads(api["/api/notifications/dead"])["dead"], "nothing went dead"
    finally:
        worker.stop()
        for fake in fakes.values():
            fake.stop()

    # The fakes did get the credentials: they are in play, and what is scanned could hold them.
    assert fakes["cm"].requests[-1].headers["x-cm-producttoken"] == CM_TOKEN
    assert fakes["pd"].requests[-1].json()["routing_key"] == PD_KEY

    surfaces: dict[str, str] = {"worker log": worker.log_path.read_text(errors="replace")}
    app_id = "opvangwacht-" + (re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-"))
    topics = sorted(t for t in await list_topics(kafka_bootstrap) if t.startswith((prefix, app_id)))
    for name in ("audit", "notifications", "notifications.dead", "alerts", "deadletter"):
        assert f"{prefix}{name}" in topics
    for topic in topics:
        records = await drain_topic(kafka_bootstrap, topic)
        surfaces[f"topic {topic}"] = "\n".join(
            f"{(k or b'').decode(errors='replace')} {(v or b'').decode(errors='replace')}"
            for k, v in records
        )
    for name, body in api.items():
        surfaces[f"API {name}"] = body.decode(errors="replace")

    # what is scanned is the real thing: errors, dead notifications and reports are in it
    assert "answered HTTP 401" in surfaces[f"topic {prefix}notifications.dead"]
    assert "rejected 1 number(s): +3168765****" in surfaces[f"topic {prefix}audit"]
    assert "answered HTTP 503" in surfaces["worker log"]
    assert surfaces[f"topic {prefix}deadletter"]
    assert leaks(surfaces) == []
