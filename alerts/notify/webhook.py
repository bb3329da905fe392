"""Webhook channel: one JSON POST per alert event.

The body is the AlertEvent as on the alerts topic. ``opvang-delivery-id`` (alert_id:revision) is
the same on every retry, so a receiver can drop a delivery it already has.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from alerts.model import AlertEvent
from alerts.notify.base import DeliveryError, DeliveryResult

__all__ = ["WebhookNotifier", "parse_retry_after"]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _safe_target(url: str) -> str:
    """scheme://host[:port] only: credentials, path and query may all carry a secret (Slack-style
    webhook URLs keep theirs in the path)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class WebhookNotifier:
    channel = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._client = client
        self._timeout = timeout
        self._headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.name!r}, {_safe_target(self._url)!r})"

    async def send(self, event: AlertEvent) -> DeliveryResult:
        body = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            **self._headers,
            "content-type": "application/json",
            "opvang-delivery-id": event.dedup_key,
        }
        started = time.perf_counter()
        target = _safe_target(self._url)
        try:
            response = await self._client.post(
                self._url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException:
            raise DeliveryError(
                self.name, f"timed out posting to {target}", recoverable=True
            ) from None
        except httpx.TransportError as exc:
            raise DeliveryError(
                self.name, f"could not reach {target} ({type(exc).__name__})", recoverable=True
            ) from None
        latency = time.perf_counter() - started
        code = response.status_code
        if 200 <= code < 300:
            return DeliveryResult(self.name, code, latency)
        recoverable = code >= 500 or code in (408, 429)
        raise DeliveryError(
            self.name,
            f"{target} answered HTTP {code}",
            recoverable=recoverable,
            status_code=code,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
