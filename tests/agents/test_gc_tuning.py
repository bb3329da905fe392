"""The worker process's garbage collector (``streams.worker.app.tune_garbage_collector``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.worker.app import GC_THRESHOLDS, tune_garbage_collector


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


@pytest.mark.usefixtures("collector")
def test_the_worker_collects_less_often_and_leaves_its_start_alone() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    tune_garbage_collector()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700  # Python's own: a young collection every 700 objects kept
    assert gc.get_freeze_count() > 0  # what was built before the start is out of its sight


@pytest.mark.usefixtures("collector")
def test_cycles_are_still_collected() -> None:
    tune_garbage_collector()

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    found: list[int] = []
    gc.callbacks.append(
        lambda phase, info: found.append(info["collected"]) if phase == "stop" else None
    )
    try:
        for _ in range(2 * GC_THRESHOLDS[0]):  # cycles only the collector can free
            a, b = Node(), Node()
            a.other, b.other = b, a
    finally:
        gc.callbacks.pop()
    assert sum(found) > 0
