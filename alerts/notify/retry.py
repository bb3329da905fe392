"""When to try a failed delivery again: exponential backoff with full jitter, capped.

A pure schedule: the caller passes the attempt number and a random source, and sleeps itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Full jitter between half and all of the exponential step; a receiver's Retry-After is a
        floor (we never come back sooner than asked), still capped by ``max_delay`` times four so a
        silly header cannot park a notification for days here.
        """
        # The exponent is bounded first: a huge attempt number must not overflow the float.
        exponent = min(attempt - 1, 64)
        step = min(self.max_delay, self.initial_delay * self.multiplier**exponent)
        wait = rng.uniform(step / 2, step)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay * 4))
        return wait

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
