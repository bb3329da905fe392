"""On-call channel: hand alerts to a Prometheus Alertmanager through ``POST /api/v2/alerts``.

One alert per change, as the API documents it::

    [{"labels": {"alertname": <rule>, "severity", "subject", "subject_kind", "province",
                 "municipality_code", "alert_id", ...the event's own labels},
      "annotations": {"summary", "value", "threshold"},
      "startsAt": <starts_at>, "endsAt": <ends_at, or now + firing_ttl while firing>,
      "generatorURL": <generator_url>/api/alerts/<alert_id>}]

Alertmanager resolves an alert it has not heard about for its ``resolve_timeout``; we send each
change once, so a firing alert carries an ``endsAt`` ``firing_ttl`` (default 7 days) ahead of the
injected clock, and the resolve replaces it. Labels without a value are left out (Alertmanager
rejects empty ones); label names outside ``[a-zA-Z_][a-zA-Z0-9_]*`` are rewritten with ``_``.

Part of the notifier edge: may import httpx and the pure core; must not import faust, aiokafka or
``streams``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import httpx

from alerts.model import AlertEvent, AlertStatus
from alerts.notify.base import Clock, DeliveryResult
from alerts.notify.http import request, status_error
from alerts.receivers.redact import safe_target
from alerts.receivers.specs import DEFAULT_ALERTMANAGER_TTL_S

__all__ = ["AlertmanagerNotifier"]

_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _label_name(name: str) -> str:
    clean = _LABEL_NAME.sub("_", name)
    return clean if clean and not clean[0].isdigit() else f"_{clean}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class AlertmanagerNotifier:
    channel = "alertmanager"

    def __init__(
        self,
        name: str,
        client: httpx.AsyncClient,
        *,
        url: str,
        timeout: float = 5.0,
        generator_url: str | None = None,
        token: str | None = None,
        clock: Clock = time.time,
        firing_ttl_s: float = DEFAULT_ALERTMANAGER_TTL_S,
    ) -> None:
        self.name = name
        self._client = client
        self._endpoint = url.rstrip("/") + "/api/v2/alerts"
        self._timeout = timeout
        self._generator_url = generator_url.rstrip("/") if generator_url else None
        self._token = token
        self._clock = clock
        self._ttl = firing_ttl_s

    def __repr__(self) -> str:
        return f"AlertmanagerNotifier({self.name!r}, {safe_target(self._endpoint)!r})"

    def body(self, event: AlertEvent) -> list[dict[str, Any]]:
        labels: dict[str, str] = {_label_name(k): v for k, v in event.labels.items() if v}
        labels.update(
            {
                "alertname": event.rule,
                "severity": event.severity.value,
                "subject": event.subject.id,
                "subject_kind": event.subject.kind.value,
                "alert_id": event.alert_id,
            }
        )
        if event.province:
            labels["province"] = event.province
        if event.municipality_code:
            labels["municipality_code"] = event.municipality_code
        if event.status is AlertStatus.RESOLVED:
            ends_at = event.ends_at or _rfc3339(self._clock())
        else:
            ends_at = _rfc3339(self._clock() + self._ttl)
        alert: dict[str, Any] = {
            "labels": labels,
            "annotations": {
                "summary": event.summary,
                "value": _number(event.value),
                "threshold": _number(event.threshold),
            },
            "startsAt": event.starts_at,
            "endsAt": ends_at,
        }
        if self._generator_url:
            alert["generatorURL"] = f"{self._generator_url}/api/alerts/{event.alert_id}"
        return [alert]

    async def send(self, event: AlertEvent, *, message_id: str | None = None) -> DeliveryResult:
        """``message_id`` is not used: this channel deduplicates by the alert itself."""
        headers = {"authorization": f"Bearer {self._token}"} if self._token else {}
        response, latency = await request(
            self.name,
            self._client,
            "POST",
            self._endpoint,
            timeout=self._timeout,
            json=self.body(event),
            headers=headers,
        )
        if not 200 <= response.status_code < 300:
            raise status_error(self.name, response, self._endpoint)
        return DeliveryResult(self.name, response.status_code, latency)


def _rfc3339(seconds: float) -> str:
    return (
        dt.datetime.fromtimestamp(seconds, dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )
