"""The pipeline metrics keep their labelled children: a stage's ``labels(...)`` per report is a
dict lookup, and counts land where prometheus_client's own children would put them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.metrics import PipelineMetrics


def test_labels_gives_the_same_child_and_counts_where_the_registry_reads() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics.create(registry)
    first = metrics.events.labels("opvang.occupancy", "applied")
    assert metrics.events.labels("opvang.occupancy", "applied") is first
    for _ in range(3):
        metrics.events.labels("opvang.occupancy", "applied").inc()
    metrics.events.labels(topic="opvang.occupancy", outcome="applied").inc()
    metrics.batch_steps.labels("ingest", "handle").observe(0.002)
    labels = {"topic": "opvang.occupancy", "outcome": "applied"}
    assert registry.get_sample_value("opvang_events_total", labels) == 4
    steps = {"agent": "ingest", "step": "handle"}
    assert registry.get_sample_value("opvang_batch_step_seconds_count", steps) == 1

    # After a remove or a clear, a kept child is not reused: counts start again at zero.
    metrics.events.remove("opvang.occupancy", "applied")
    metrics.events.labels("opvang.occupancy", "applied").inc()
    assert registry.get_sample_value("opvang_events_total", labels) == 1
    metrics.events.clear()
    assert registry.get_sample_value("opvang_events_total", labels) is None
    metrics.events.labels("opvang.occupancy", "applied").inc(2)
    assert registry.get_sample_value("opvang_events_total", labels) == 2
