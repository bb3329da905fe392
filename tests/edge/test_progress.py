"""Input watermarks kept as state: how far each input partition has been read, and the marks an
aggregating partition has read, exactly as they stood at any offset it may read again."""

from __future__ import annotations

import datetime as dt

from aiokafka.partitioner import murmur2

from streams.state.progress import MarkLog, PartitionProgress, observe, partition_of

D = dt.date(2025, 3, 1)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def test_a_report_read_again_is_not_observed_twice() -> None:
    state, mark = observe(PartitionProgress(), "occupancy", day(0), 10, expect_intake=False)
    assert mark == day(0)
    assert state.seen("occupancy", 10) and state.seen("occupancy", 3)
    assert not state.seen("occupancy", 11) and not state.seen("intake", 0)
    again, mark = observe(state, "occupancy", day(0), 10, expect_intake=False)
    assert mark is None and again == state


def test_the_mark_waits_for_the_intake_once_intake_flows() -> None:
    state, mark = observe(PartitionProgress(), "occupancy", day(5), 1, expect_intake=False)
    assert mark == day(5)
    state, mark = observe(state, "intake", day(1), 2, expect_intake=False)
    assert mark is None  # min(day 5, day 1 + 1) is behind the mark already sent
    state, mark = observe(state, "occupancy", day(6), 3, expect_intake=False)
    assert mark is None
    state, mark = observe(state, "intake", day(6), 4, expect_intake=False)
    assert mark == day(6)


def test_progress_survives_the_changelog() -> None:
    state, _ = observe(PartitionProgress(), "occupancy", day(2), 7, expect_intake=True)
    state, _ = observe(state, "intake", day(1), 8, expect_intake=True)
    assert PartitionProgress.from_dict(state.to_dict()) == state


def test_marks_as_of_an_offset_ignore_later_marks() -> None:
    log = MarkLog().add(0, 10, day(1)).add(1, 11, day(2)).add(0, 20, day(3))
    assert log.as_of(9) == {}
    assert log.as_of(10) == {0: day(1)}
    assert log.as_of(15) == {0: day(1), 1: day(2)}
    assert log.as_of(25) == {0: day(3), 1: day(2)}
    assert log.add(0, 20, day(3)) is log  # the same message read again


def test_folding_keeps_every_answer_at_or_above_the_committed_offset() -> None:
    log = MarkLog()
    for offset in range(0, 100, 5):
        log = log.add(offset % 2, offset, day(offset // 5))
    folded = log.fold(50)
    assert sum(len(v) for v in folded.marks.values()) < sum(len(v) for v in log.marks.values())
    for offset in range(50, 110):
        assert folded.as_of(offset) == log.as_of(offset)
    assert MarkLog.from_dict(folded.to_dict()) == folded


def test_a_key_goes_to_the_partition_kafkas_partitioner_gives_it_for_each_partition_count() -> None:
    # Asked twice: the second answer comes from what partition_of keeps per key and count.
    for _ in range(2):
        for key in ("ter-apel", "GR", "bench-lb-0191", "é"):
            for partitions in (1, 3, 8, 12):
                expected = (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions
                assert partition_of(key, partitions) == expected, (key, partitions)
