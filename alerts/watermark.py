"""The input watermark: how far the reports read so far let provinces and the nation close days.

Read in order, the input is as far as its newest morning count (occupancy report), held back to
the day after the newest intake report once intake reports flow (or while they are expected and
none came yet): a province must not close a day whose flows are still on their way. The replay
keeps one watermark for its whole input; the worker one per input partition
(``streams.state.progress``), and closes days against the lowest.

Pure: dates in, a date out. Imports nothing from ``alerts``; must not import httpx, faust,
aiokafka or ``streams``.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["input_mark", "intake_pending"]


def input_mark(
    occupancy: dt.date | None, intake: dt.date | None, *, expect_intake: bool
) -> dt.date | None:
    """The watermark of an input whose newest morning count is ``occupancy`` and newest intake
    report ``intake`` (None: none read yet). None while there is no morning count, or while
    ``expect_intake`` and no intake report was read."""
    if occupancy is None:
        return None
    if intake is None:
        return None if expect_intake else occupancy
    return min(occupancy, intake + dt.timedelta(days=1))


def intake_pending(intake: dt.date | None, *, intake_waiting: bool) -> bool:
    """Whether morning counts must wait for flows that have not been read yet: no intake report
    has been read (``intake`` is None) while the input holds some (``intake_waiting``: the worker
    asks the broker whether the intake partition has records; the replay looks at its input).

    Without this, an input whose occupancy is read days before its first intake report (a backlog
    published topic by topic, or a consumer that fetches one topic first) closed those days with
    no flows at all, and the late intake was then dropped for the closed days: the alerts depended
    on the order the topics were read in (issue 12)."""
    return intake is None and intake_waiting
