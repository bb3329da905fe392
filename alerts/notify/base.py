"""The one interface every channel implements, and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alerts.errors import OpvangError
from alerts.model import AlertEvent

__all__ = ["DeliveryError", "DeliveryResult", "Notifier"]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A delivery the receiver accepted."""

    receiver: str
    status_code: int
    latency_s: float
    provider_id: str | None = None


class DeliveryError(OpvangError):
    """A delivery that did not go through.

    ``recoverable``: worth trying again (5xx, 429, timeouts, refused connections); not for 4xx.
    ``retry_after``: seconds the receiver asked us to wait, when it said so. The message never
    contains a secret or a full URL query string.
    """

    def __init__(
        self,
        receiver: str,
        message: str,
        *,
        recoverable: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{receiver}: {message}")
        self.receiver = receiver
        self.recoverable = recoverable
        self.status_code = status_code
        self.retry_after = retry_after


class Notifier(Protocol):
    """Sends one alert event to one receiver, or raises :class:`DeliveryError`."""

    name: str
    channel: str

    async def send(self, event: AlertEvent) -> DeliveryResult: ...
