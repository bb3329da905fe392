"""Which input partitions hold reports on the broker: what the worker needs to know to judge
"the whole input has moved past a day" the way a replay in date order would.

Two decisions rest on it (both taken in pure functions, with this as their input):

* A province closes a late day once every input partition has marked past it
  (``streams.state.progress.progress``). Every partition that holds records counts, also one
  not read yet: before, only partitions that had marked counted, so when Faust's consumer read
  some partitions seconds or minutes before the others (a backlog after an outage, a backtest
  published at once), provinces closed days without the unread locations and fired
  ``report_missing`` for them.
* A morning count waits for its flows while intake reports are on the broker and none has been
  read yet (``alerts.watermark.intake_pending``): an occupancy topic read before the intake topic
  otherwise closed days without flows.

What ``kill -9`` does here: nothing; this holds no state. A restarted worker asks the broker
again and gets at least what it had (records only leave by retention).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from faust.types import TP

__all__ = ["REFRESH_SECONDS", "InputRoster"]

log = structlog.get_logger("opvangwacht.worker")

#: How long an answer "this partition is empty" is kept before the broker is asked again.
REFRESH_SECONDS = 10.0


class InputRoster:
    """The input partitions (occupancy and intake, ``partitions`` each) that hold records."""

    def __init__(
        self,
        reader: Any,
        occupancy: str,
        intake: str,
        partitions: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._intake = tuple(TP(intake, p) for p in range(partitions))
        self._every = frozenset(TP(t, p) for t in (occupancy, intake) for p in range(partitions))
        self._clock = clock
        #: Topic partitions found holding records: once found, always (see the module docstring).
        self._filled: set[TP] = set()
        #: Their partition numbers, kept beside them: asked for once per province message.
        self._numbers: frozenset[int] = frozenset()
        self._asked_at: float | None = None

    async def _refresh(self) -> None:
        # Asked on every report and province message: the cheap questions first.
        if self._asked_at is not None and self._clock() - self._asked_at < REFRESH_SECONDS:
            return
        if len(self._filled) == len(self._every):
            return
        self._asked_at = self._clock()
        unknown = sorted(self._every - self._filled)
        try:
            ends = await self._reader.ends(unknown)
            starts = await self._reader.beginnings(unknown)
        except Exception as exc:  # the broker did not answer: the partitions known so far
            log.warning("input partitions not readable", error=str(exc)[:300])
            return
        found = {tp for tp in unknown if ends.get(tp, 0) > starts.get(tp, 0)}
        if found:
            self._filled |= found
            self._numbers = frozenset(tp.partition for tp in self._filled)

    async def filled(self) -> frozenset[int]:
        """Input partition numbers whose occupancy or intake partition holds records."""
        await self._refresh()
        return self._numbers

    async def intake_waiting(self, partition: int) -> bool:
        """Whether the intake partition ``partition`` holds records."""
        tp = self._intake[partition]
        if tp not in self._filled:
            await self._refresh()
        return tp in self._filled
