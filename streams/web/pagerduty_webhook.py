"""PagerDuty's v3 webhooks: the signature check and what an event means for opvangwacht.

PagerDuty signs each delivery with the secret of its webhook subscription: the header
``X-PagerDuty-Signature`` holds one or more ``v1=<hex HMAC-SHA256 of the raw body>`` separated by
commas (more than one while PagerDuty rotates the secret). A delivery is genuine when one of them
matches the HMAC under one of our secrets.

The body is ``{"event": {"id", "event_type", "resource_type", "occurred_at", "agent", "data"}}``;
for incident events ``data.incident_key`` is the ``dedup_key`` the worker sent with the Events API
v2 (the alert id, :mod:`alerts.notify.pagerduty`). ``incident.acknowledged`` and
``incident.resolved`` mean a person in PagerDuty took the alert: the worker acknowledges it, which
stops its own escalation. Every other event type is answered and ignored.

No I/O: the view passes the raw body, the header and the secrets. Must not import
``streams.worker``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["TAKING_EVENTS", "IncidentEvent", "WebhookError", "parse_event", "refusal"]

#: The event types that mean someone took the incident: each acknowledges the alert.
TAKING_EVENTS: Final = {"incident.acknowledged": "erkend", "incident.resolved": "opgelost"}
#: The header is at most this long (a handful of signatures).
_MAX_HEADER: Final = 2000


class WebhookError(ValueError):
    """A body that is not a PagerDuty v3 webhook event (a 400)."""


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    event_id: str
    event_type: str
    #: ``data.incident_key``: the dedup key the worker sent, i.e. the alert id ("" when absent).
    incident_key: str
    #: Who did it (``agent.summary``, a PagerDuty user's name), "" when PagerDuty names nobody.
    agent: str
    #: ``data.html_url``: the incident in PagerDuty.
    url: str


def refusal(body: bytes, header: str | None, secrets: Sequence[str]) -> tuple[int, str] | None:
    """None when one ``v1`` signature in ``header`` is the HMAC-SHA256 of ``body`` under one of
    ``secrets``; otherwise the status (401 without a signature, 403 with a wrong one) and why."""
    if not header:
        return 401, "no X-PagerDuty-Signature header: only PagerDuty's signed webhooks are taken"
    if len(header) > _MAX_HEADER:
        return 403, "X-PagerDuty-Signature is too long"
    given = [
        part.strip()[3:].lower().encode()
        for part in header.split(",")
        if part.strip().startswith("v1=")
    ]
    if not given:
        return 403, "X-PagerDuty-Signature has no v1= signature"
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        # compare_digest on every candidate: the time taken does not tell which one was close.
        if any(hmac.compare_digest(expected, candidate) for candidate in given):
            return None
    return 403, "X-PagerDuty-Signature does not match: check the subscription's secret"


def _text(obj: Any, key: str, limit: int = 500) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        return ""
    # A lone surrogate ("\ud800" in the JSON) becomes "?": the text goes on to Kafka as UTF-8.
    return value[:limit].encode("utf-8", "replace").decode("utf-8")


def parse_event(body: bytes) -> IncidentEvent:
    """The event of a v3 webhook body; WebhookError (one line) when it is not one."""
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WebhookError("the body is not JSON") from None
    event = raw.get("event") if isinstance(raw, dict) else None
    if not isinstance(event, dict):
        raise WebhookError('not a PagerDuty v3 webhook: expected {"event": {...}}')
    event_type = _text(event, "event_type", 100)
    if not event_type:
        raise WebhookError("event.event_type is missing")
    data = event.get("data")
    return IncidentEvent(
        event_id=_text(event, "id", 200),
        event_type=event_type,
        incident_key=_text(data, "incident_key", 500),
        agent=_text(event.get("agent"), "summary", 200),
        url=_text(data, "html_url", 500),
    )
