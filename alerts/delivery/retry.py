"""When to try a failed delivery again. Pure schedules: the caller passes the attempt number and a
random source, and sleeps (or schedules) itself.

- :class:`RetrySchedule`: a fixed list of waits with +-20 % jitter, as the Standard Webhooks
  guidance describes (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, ...):
  :data:`WEBHOOK_SCHEDULE` runs about three days, :data:`SMS_SCHEDULE` and
  :data:`PAGING_SCHEDULE` under an hour, since a late page or SMS is worth little.
  :func:`schedule_for` picks one for a receiver, honouring its ``retry`` setting.

The worker's delivery ledger takes a schedule's ``delays`` and applies the jitter itself, without a
random source: ``alerts.delivery.ledger.failed`` moves each wait by an amount drawn from a
hash of the notification id and attempt number (``alerts.delivery.ledger.jittered``), so that
a replay gives the same waits and notifications that failed together do not return together.
``delay(attempt, rng)`` below is for a caller that retries in its own loop.

It treats a receiver's Retry-After as a floor, capped so a silly header cannot park a
notification forever.

Must not import httpx, faust, aiokafka or ``streams``, nor ``alerts.dispatch`` or ``alerts.notify``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from alerts.receivers.specs import ReceiverSpec

__all__ = [
    "PAGING_SCHEDULE",
    "SMS_SCHEDULE",
    "WEBHOOK_SCHEDULE",
    "RetrySchedule",
    "schedule_for",
]


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Waits after attempt 1, 2, ...; after the last one the notification is dead-lettered.
    ``max_attempts`` is ``len(delays) + 1`` (the first try plus one per wait)."""

    delays: tuple[float, ...]
    jitter: float = 0.2
    max_retry_after: float = 24 * 3600.0

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    @property
    def total_s(self) -> float:
        return sum(self.delays)

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        step = self.delays[min(max(attempt, 1), len(self.delays)) - 1] if self.delays else 0.0
        wait = rng.uniform(step * (1 - self.jitter), step * (1 + self.jitter))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


#: About three days: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 20 h, 24 h.
WEBHOOK_SCHEDULE: Final = RetrySchedule(
    (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0, 72000.0, 86400.0)
)
#: About 45 minutes: 5 s, 30 s, 2 min, 10 min, 30 min.
SMS_SCHEDULE: Final = RetrySchedule((5.0, 30.0, 120.0, 600.0, 1800.0), max_retry_after=1800.0)
#: About 20 minutes: 5 s, 15 s, 1 min, 5 min, 15 min.
PAGING_SCHEDULE: Final = RetrySchedule((5.0, 15.0, 60.0, 300.0, 900.0), max_retry_after=900.0)

_BY_KIND: Final = {
    "webhook": WEBHOOK_SCHEDULE,
    "sms": SMS_SCHEDULE,
    "pagerduty": PAGING_SCHEDULE,
    "alertmanager": PAGING_SCHEDULE,
}


def schedule_for(receiver: ReceiverSpec) -> RetrySchedule:
    """The receiver's own ``retry`` list when it has one, else its channel's default."""
    default = _BY_KIND.get(receiver.kind, WEBHOOK_SCHEDULE)
    if receiver.retry_delays is not None:
        return RetrySchedule(receiver.retry_delays, default.jitter, default.max_retry_after)
    return default
