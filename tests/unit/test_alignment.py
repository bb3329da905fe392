"""Event-time alignment of input streams (topic partitions): who is paused, and that nothing is
paused for ever. Streams are plain numbers here; the worker uses Faust's topic partitions."""

from __future__ import annotations

import datetime as dt

from streams.progress import Alignment

D = dt.date(2025, 3, 1)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def test_a_partition_far_ahead_is_paused_and_resumed_when_the_others_catch_up() -> None:
    align = Alignment(max_skew_days=3, idle_seconds=2.0)
    align.observe(0, day(0), now=0.0)
    align.observe(1, day(10), now=0.0)
    assert align.decide({0, 1}, now=0.5) == {1}
    # Partition 0 reads on; within three days of partition 1 it is let go.
    align.observe(0, day(6), now=1.0)
    assert align.decide({0, 1}, now=1.0) == {1}
    align.observe(0, day(7), now=1.2)
    assert align.decide({0, 1}, now=1.2) == frozenset()


def test_within_the_skew_nobody_is_paused() -> None:
    align = Alignment(max_skew_days=3)
    for partition, offset in ((0, 0), (1, 3), (2, 1)):
        align.observe(partition, day(offset), now=0.0)
    assert align.decide({0, 1, 2}, now=0.0) == frozenset()


def test_the_slowest_partition_is_never_paused() -> None:
    align = Alignment(max_skew_days=0)
    for partition, offset in ((0, 5), (1, 2), (2, 9), (3, 2)):
        align.observe(partition, day(offset), now=0.0)
    paused = align.decide({0, 1, 2, 3}, now=0.0)
    assert paused == {0, 2}
    assert 1 not in paused and 3 not in paused


def test_an_idle_partition_holds_nothing_back() -> None:
    align = Alignment(max_skew_days=3, idle_seconds=2.0)
    align.observe(0, day(0), now=0.0)  # read to its end: nothing more comes
    align.observe(1, day(30), now=0.0)
    assert align.decide({0, 1}, now=1.0) == {1}
    assert align.decide({0, 1}, now=2.5) == frozenset()  # partition 0 went idle


def test_a_paused_partition_is_not_mistaken_for_an_idle_one() -> None:
    align = Alignment(max_skew_days=3, idle_seconds=2.0)
    align.observe(0, day(0), now=0.0)
    align.observe(1, day(30), now=0.0)
    align.observe(2, day(40), now=0.0)
    assert align.decide({0, 1, 2}, now=0.0) == {1, 2}
    # Partition 0 went idle; 1 and 2 have read nothing since, because they are paused. The
    # slower of them is released first, not both at once.
    assert align.decide({0, 1, 2}, now=10.0) == {2}


def test_streams_never_read_or_not_assigned_count_for_nothing() -> None:
    align = Alignment(max_skew_days=1)
    align.observe(1, day(0), now=0.0)
    align.observe(2, day(20), now=0.0)
    assert align.decide({0, 1, 2}, now=0.0) == {2}  # 0 has delivered nothing: no say
    assert align.decide({0, 2}, now=0.0) == frozenset()  # 1 went to another worker


def test_intake_read_ahead_of_the_morning_counts_waits_for_them() -> None:
    align = Alignment(max_skew_days=3)
    occupancy, intake = ("occupancy", 0), ("intake", 0)
    align.observe(occupancy, day(2), now=0.0)
    align.observe(intake, day(25), now=0.0)
    assert align.decide({occupancy, intake}, now=0.0) == {intake}
