"""The one interface every channel implements, the result it returns and the error it raises.

Part of the notifier edge: may import httpx and the pure core; must not import faust, aiokafka or
``streams``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alerts.errors import OpvangError
from alerts.model import AlertEvent

__all__ = ["Acknowledger", "Clock", "DeliveryError", "DeliveryResult", "Notifier"]


class Clock(Protocol):
    """Seconds since the epoch, as ``time.time`` gives them; tests pass a fixed one."""

    def __call__(self) -> float: ...


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A delivery the receiver accepted.

    ``provider_id``: the provider's id for what it accepted (SMS message id, PagerDuty dedup key),
    several joined by commas; ``provider_ids`` the same as a tuple. Record it before deciding on any
    retry: SMS providers have no idempotency key.
    """

    receiver: str
    status_code: int
    latency_s: float
    provider_id: str | None = None
    provider_ids: tuple[str, ...] = ()


class DeliveryError(OpvangError):
    """A delivery that did not go through.

    ``recoverable``: worth trying again (5xx, 408, 429, timeouts, refused connections); not for
    other 4xx. ``retry_after``: seconds the receiver asked us to wait, when it said so.
    ``disable``: the receiver said it is gone for good (a webhook's 410): switch the endpoint off
    and tell the operators. ``provider_ids``: what a provider did accept before the failure (an
    SMS to the first of two numbers), so a retry can be judged. The message never contains a
    secret, a token, a full phone number or a URL path or query.
    """

    def __init__(
        self,
        receiver: str,
        message: str,
        *,
        recoverable: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
        disable: bool = False,
        provider_ids: tuple[str, ...] = (),
    ) -> None:
        super().__init__(f"{receiver}: {message}")
        self.receiver = receiver
        self.recoverable = recoverable
        self.status_code = status_code
        self.retry_after = retry_after
        self.disable = disable
        self.provider_ids = provider_ids

    def __repr__(self) -> str:
        return (
            f"DeliveryError({self.args[0]!r}, recoverable={self.recoverable}, "
            f"status_code={self.status_code}, retry_after={self.retry_after}, "
            f"disable={self.disable})"
        )


class Notifier(Protocol):
    """Sends one alert event to one receiver, or raises :class:`DeliveryError`.

    ``message_id`` names this message (the notification id: the same on every retry, another for
    a reminder or an escalation of the same change). A channel that lets the receiver
    deduplicate passes it on (a webhook's ``webhook-id``); the others may ignore it. None: the
    alert change's own id."""

    name: str
    channel: str

    async def send(self, event: AlertEvent, *, message_id: str | None = None) -> DeliveryResult: ...


class Acknowledger(Protocol):
    """On-call tooling that takes a human acknowledgement of an alert (PagerDuty)."""

    name: str

    async def acknowledge(self, alert_id: str) -> DeliveryResult: ...
