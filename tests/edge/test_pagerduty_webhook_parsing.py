"""PagerDuty v3 webhook signatures (v1=hex HMAC-SHA256 of the raw body, comma separated) and
events, against the algorithm in PagerDuty's "Verifying Signatures"."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from streams.web.pagerduty_webhook import WebhookError, parse_event, refusal

S = "pd-secret-4f1c0a"
BODY = b'{"event": {"event_type": "incident.acknowledged", "data": {"incident_key": "k"}}}'


def sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("header", "secrets", "wanted"),
    [
        (sign(BODY, S), [S], None),
        (sign(BODY, S).upper().replace("V1=", "v1="), [S], None),  # hex in capitals
        (f"{sign(BODY, 'old')},{sign(BODY, S)}", [S], None),  # PagerDuty rotating
        (f"{sign(BODY, 'x')}, {sign(BODY, S)}", ["other-secret-9d2", S], None),  # two of ours
        (None, [S], 401),
        ("", [S], 401),
        (sign(BODY, "wrong"), [S], 403),
        (sign(BODY + b" ", S), [S], 403),
        (sign(BODY, S).replace("v1=", "v2="), [S], 403),
        (sign(BODY, S)[3:], [S], 403),  # no version
        ("v1=" + "a" * 3000, [S], 403),
        (sign(BODY, S), [], 403),
    ],
)
def test_signatures(header: str | None, secrets: list[str], wanted: int | None) -> None:
    found = refusal(BODY, header, secrets)
    assert (found and found[0]) == wanted
    if found:
        assert "\n" not in found[1] and not any(s in found[1] for s in secrets)


def test_an_incident_event() -> None:
    body = {
        "event": {
            "id": "E1",
            "event_type": "incident.resolved",
            "agent": {"summary": "Anna\ud800", "type": "user_reference"},
            "data": {"incident_key": "cap_exceeded-ter-apel-1", "html_url": "https://x/PGR"},
        }
    }
    event = parse_event(json.dumps(body).encode())
    assert (event.event_type, event.incident_key, event.url) == (
        "incident.resolved",
        "cap_exceeded-ter-apel-1",
        "https://x/PGR",
    )
    assert event.agent == "Anna?"  # a lone surrogate cannot go on to Kafka
    ping = parse_event(b'{"event": {"event_type": "pagey.ping", "agent": null, "data": 5}}')
    assert ping.incident_key == "" and ping.agent == ""


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff", b"[1]", b'{"event": 1}', b'{"event": {}}', b"[" * 5000 + b"]" * 5000],
)
def test_not_an_event(body: bytes) -> None:
    with pytest.raises(WebhookError):
        parse_event(body)
