"""When the stall watch reads a partition itself (``streams.worker.runner.stalled``): only a
partition Faust stopped handing over, not one that waits its turn behind a busy agent's batches."""

from __future__ import annotations

from faust.types import TP

from streams.worker.runner import STALL_BUSY_CHECKS, StallMarks, stalled

OCC = TP("opvang.occupancy", 0)
INTAKE = TP("opvang.intake", 0)


def checks(
    behind: list[dict[TP, tuple[int, int]]], batches: list[int]
) -> list[dict[TP, tuple[int, int]]]:
    """Run the watch over successive checks; what it reads at each."""
    marks = StallMarks()
    found: list[dict[TP, tuple[int, int]]] = []
    for lagging, handed_over in zip(behind, batches, strict=True):
        read, marks = stalled(marks, lagging, handed_over)
        found.append(read)
    return found


def test_an_idle_agent_reads_a_partition_that_stands_still_at_the_second_check() -> None:
    lagging = {OCC: (100, 250)}
    assert checks([lagging, lagging], [7, 7]) == [{}, {OCC: (100, 250)}]


def test_a_partition_that_moves_is_never_read() -> None:
    spans = [{OCC: (100 + 50 * i, 900)} for i in range(10)]
    assert checks(spans, [3] * 10) == [{}] * 10


def test_a_busy_agent_leaves_a_queued_partition_to_faust() -> None:
    # The agent hands over a batch between every check (the occupancy partition moves), while
    # the intake partition waits its turn: not stalled, for fewer than STALL_BUSY_CHECKS checks.
    spans = [{OCC: (1000 * i, 50_000), INTAKE: (400, 9_000)} for i in range(STALL_BUSY_CHECKS)]
    assert checks(spans, list(range(STALL_BUSY_CHECKS))) == [{}] * STALL_BUSY_CHECKS


def test_a_busy_agent_still_reads_a_partition_left_behind_for_good() -> None:
    n = STALL_BUSY_CHECKS + 1
    spans = [{OCC: (1000 * i, 50_000), INTAKE: (400, 9_000)} for i in range(n)]
    found = checks(spans, list(range(n)))
    assert found[:-1] == [{}] * (n - 1)
    assert found[-1] == {INTAKE: (400, 9_000)}


def test_an_idle_agent_whose_partition_still_stands_still_reads_it_at_every_check() -> None:
    # The read found nothing new (the records were not on the broker yet): try again.
    lagging = {OCC: (100, 250)}
    assert checks([lagging] * 4, [7] * 4) == [{}, lagging, lagging, lagging]


def test_the_first_check_after_a_start_or_rebalance_reads_nothing() -> None:
    read, marks = stalled(StallMarks(), {OCC: (5, 10)}, 0)
    assert read == {}
    assert marks.positions == {OCC: (5, 0)}
