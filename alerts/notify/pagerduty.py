"""On-call channel: PagerDuty Events API v2.

A firing alert is a ``trigger``, a resolved one a ``resolve``, and :meth:`PagerDutyNotifier.
acknowledge` sends an ``acknowledge``; all three with ``dedup_key`` = ``alert_id``, so PagerDuty
keeps one incident per alert and a repeated trigger (a retry, a new revision) updates it instead of
paging twice. ``POST {url}`` (default ``https://events.pagerduty.com/v2/enqueue``) with JSON::

    {"routing_key", "event_action", "dedup_key",
     "payload": {"summary", "source", "severity", "timestamp", "component", "group", "class",
                 "custom_details"}, "client", "client_url"}

(payload, client and client_url on triggers only). PagerDuty answers 202 with the dedup key, which
becomes the provider id. The routing key travels in the body and never in an error or repr.

Part of the notifier edge: may import httpx and the pure core; must not import faust, aiokafka or
``streams``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx

from alerts.formats.pagerduty import PAGERDUTY_SEVERITY, pagerduty_event
from alerts.model import AlertEvent
from alerts.notify.base import DeliveryResult
from alerts.notify.http import request, status_error
from alerts.receivers.redact import safe_target
from alerts.receivers.specs import DEFAULT_PAGERDUTY_URL

__all__ = ["SEVERITY", "PagerDutyNotifier"]

#: Our severities on PagerDuty's (critical, error, warning, info).
SEVERITY: Final = PAGERDUTY_SEVERITY


class PagerDutyNotifier:
    channel = "pagerduty"

    def __init__(
        self,
        name: str,
        client: httpx.AsyncClient,
        *,
        routing_key: str,
        url: str = DEFAULT_PAGERDUTY_URL,
        timeout: float = 10.0,
        source: str = "opvangwacht",
        client_url: str | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._routing_key = routing_key
        self._url = url
        self._timeout = timeout
        self._source = source
        self._client_url = client_url

    def __repr__(self) -> str:
        return f"PagerDutyNotifier({self.name!r}, {safe_target(self._url)!r})"

    def body(self, event: AlertEvent) -> dict[str, Any]:
        """The Events API v2 body for this alert change (trigger or resolve)."""
        return {
            "routing_key": self._routing_key,
            **pagerduty_event(event, source=self._source, client_url=self._client_url),
        }

    def _action(self, action: str, alert_id: str) -> dict[str, Any]:
        return {"routing_key": self._routing_key, "event_action": action, "dedup_key": alert_id}

    async def send(self, event: AlertEvent, *, message_id: str | None = None) -> DeliveryResult:
        """``message_id`` is not used: this channel deduplicates by the alert itself."""
        return await self._post(self.body(event))

    async def acknowledge(self, alert_id: str) -> DeliveryResult:
        """Tell PagerDuty someone took the alert (the built-in ack endpoint calls this)."""
        return await self._post(self._action("acknowledge", alert_id))

    async def _post(self, body: Mapping[str, Any]) -> DeliveryResult:
        response, latency = await request(
            self.name, self._client, "POST", self._url, timeout=self._timeout, json=body
        )
        if not 200 <= response.status_code < 300:
            raise status_error(self.name, response, self._url)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        dedup = answer.get("dedup_key") if isinstance(answer, Mapping) else None
        provider_id = str(dedup) if dedup else str(body["dedup_key"])
        return DeliveryResult(self.name, response.status_code, latency, provider_id, (provider_id,))
