"""What every channel does the same way: one HTTP call, timed, with its failures turned into a
:class:`~alerts.notify.base.DeliveryError` that names the host only (never path, query, userinfo,
header or body, where the secrets are).

Part of the notifier edge: may import httpx and the pure core; must not import faust, aiokafka or
``streams``.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from alerts.notify.base import DeliveryError
from alerts.receivers.redact import safe_target

__all__ = ["is_recoverable_status", "parse_retry_after", "request", "status_error"]


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


def is_recoverable_status(code: int) -> bool:
    return code >= 500 or code in (408, 425, 429)


async def request(
    receiver: str,
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout: float,
    **kwargs: Any,
) -> tuple[httpx.Response, float]:
    """Send one request; the response (any status) and its latency in seconds. Timeouts and
    transport errors become recoverable DeliveryErrors without the httpx error chained (its text
    holds the full URL)."""
    target = safe_target(url)
    started = time.perf_counter()
    try:
        response = await client.request(method, url, timeout=timeout, **kwargs)
    except httpx.TimeoutException:
        raise DeliveryError(receiver, f"timed out calling {target}", recoverable=True) from None
    except httpx.TransportError as exc:
        raise DeliveryError(
            receiver, f"could not reach {target} ({type(exc).__name__})", recoverable=True
        ) from None
    except httpx.InvalidURL:
        raise DeliveryError(receiver, f"invalid URL for {target}", recoverable=False) from None
    return response, time.perf_counter() - started


def status_error(
    receiver: str, response: httpx.Response, url: str, detail: str = "", **extra: Any
) -> DeliveryError:
    """The DeliveryError for a non-2xx answer: 5xx, 408, 425 and 429 recoverable, other 4xx not;
    Retry-After passed on. ``detail`` must already be free of secrets and numbers."""
    code = response.status_code
    suffix = f" ({detail})" if detail else ""
    return DeliveryError(
        receiver,
        f"{safe_target(url)} answered HTTP {code}{suffix}",
        recoverable=is_recoverable_status(code),
        status_code=code,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        **extra,
    )
