"""Webhook channel: a CloudEvents 1.0 JSON envelope, signed per the Standard Webhooks spec.

Each delivery is one POST with ``content-type: application/json`` and the body::

    {"specversion": "1.0", "type": "nl.opvangwacht.alert.firing", "source": "urn:opvangwacht",
     "id": "<webhook-id>", "time": "<starts_at or ends_at>", "subject": "<alert_id>",
     "datacontenttype": "application/json", "data": {<AlertEvent.to_dict()>}}

and the Standard Webhooks headers ``webhook-id`` (``{alert_id}.{revision}.{receiver}``: the same on
every retry, so receivers drop what they already have), ``webhook-timestamp`` (Unix seconds from the
injected clock, fresh per attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of
id.timestamp.body>``, one per active ``whsec_`` secret, space separated (two during a rotation).
``opvang-delivery-id`` (``alert_id:revision``) is kept for receivers written before the envelope.

A 410 Gone means the receiver wants nothing more: the error carries ``disable=True``.

Part of the notifier edge: may import httpx and the pure core; must not import faust, aiokafka or
``streams``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Literal

import httpx

from alerts.formats.cloudevents import CLOUDEVENTS_SOURCE, EVENT_TYPES, cloudevent, webhook_id
from alerts.model import AlertEvent
from alerts.notify.base import Clock, DeliveryError, DeliveryResult
from alerts.notify.http import parse_retry_after, request, status_error
from alerts.receivers.redact import safe_target
from alerts.receivers.specs import webhook_secret_key

__all__ = [
    "CLOUDEVENTS_SOURCE",
    "EVENT_TYPES",
    "WebhookNotifier",
    "cloudevent",
    "parse_retry_after",
    "sign",
    "webhook_id",
]


def sign(message_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """The ``webhook-signature`` header value: ``v1,<sig>`` per secret, space separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(
            hmac.new(webhook_secret_key(secret), signed, hashlib.sha256).digest()
        ).decode()
        for secret in secrets
    )


class WebhookNotifier:
    """Posts each alert event to one URL.

    ``secrets``: ``whsec_`` keys; without any the delivery is sent unsigned. ``envelope``:
    ``cloudevents`` wraps the event (the contract; what :func:`alerts.notify.factory.build_notifier`
    uses), ``plain`` sends the bare AlertEvent (the old format, and the default of this constructor
    until every caller goes through the factory). ``clock`` gives ``webhook-timestamp``.
    """

    channel = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        envelope: Literal["cloudevents", "plain"] = "plain",
        clock: Clock = time.time,
        source: str = CLOUDEVENTS_SOURCE,
    ) -> None:
        for secret in secrets:
            webhook_secret_key(secret)  # fail early, and without the secret in the message
        self.name = name
        self._url = url
        self._client = client
        self._timeout = timeout
        self._headers = dict(headers or {})
        self._secrets = tuple(secrets)
        self._envelope = envelope
        self._clock = clock
        self._source = source

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.name!r}, {safe_target(self._url)!r})"

    def render(
        self, event: AlertEvent, timestamp: int, message_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers of one attempt. ``message_id``: the ``webhook-id`` when the
        notification is not the alert change itself (a reminder, an escalation); by default
        :func:`webhook_id`."""
        message_id = message_id or webhook_id(event, self.name)
        payload = (
            cloudevent(event, message_id, self._source)
            if self._envelope == "cloudevents"
            else event.to_dict()
        )
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            **self._headers,
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "opvang-delivery-id": event.dedup_key,
        }
        if self._secrets:
            headers["webhook-signature"] = sign(message_id, timestamp, body, self._secrets)
        return body, headers

    async def send(self, event: AlertEvent, *, message_id: str | None = None) -> DeliveryResult:
        body, headers = self.render(event, int(self._clock()), message_id)
        response, latency = await request(
            self.name,
            self._client,
            "POST",
            self._url,
            timeout=self._timeout,
            content=body,
            headers=headers,
        )
        code = response.status_code
        if 200 <= code < 300:
            return DeliveryResult(self.name, code, latency)
        if code == 410:
            raise DeliveryError(
                self.name,
                f"{safe_target(self._url)} answered HTTP 410: the endpoint is gone, disable it",
                recoverable=False,
                status_code=410,
                disable=True,
            )
        raise status_error(self.name, response, self._url)
