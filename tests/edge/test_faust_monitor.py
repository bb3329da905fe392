"""The worker's Faust sensor (``streams.worker.monitor``) exports what Faust's own
``PrometheusMonitor`` exports for the same calls, but for the two per-event histograms it drops
and the ``_created`` samples of the counters it counts itself."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.worker.monitor import DROPPED, LeanMonitor, install

PREFIX = "opvang_faust"


class Task:
    """A stream's owner (Faust keeps a weak reference to it)."""


class Stream:
    """What a sensor reads of a Faust stream."""

    def __init__(self, label: str) -> None:
        self.shortlabel = label
        self.task_owner = Task()

    def __hash__(self) -> int:
        return id(self)


class Message:
    time_in: float | None = None
    time_out: float | None = None
    time_total: float | None = None


def drive(monitor: Any) -> None:
    """A rebalance, then reports read, handled and written, tables read and written, sends, a
    failed send, commits and end offsets."""
    app = SimpleNamespace(rebalancing_count=1)
    monitor.track_tp_end_offset(TP("opvang.occupancy", 1), 12)  # the rebalance clears it
    state = monitor.on_rebalance_start(app)
    monitor.on_rebalance_return(app, state)
    monitor.on_rebalance_end(app, state)
    ingest, aggregate = Stream("Stream: <ingest>"), Stream("Stream: <aggregate>")
    heads, rows = SimpleNamespace(name="locations-heads"), SimpleNamespace(name="locations-rows")
    for offset in range(7):
        for tp, stream in ((TP("opvang.occupancy", offset % 2), ingest), (TP("x.p", 0), aggregate)):
            message = Message()
            monitor.on_message_in(tp, offset, message)
            event = monitor.on_stream_event_in(tp, offset, stream, None)
            monitor.on_table_get(heads, "k")
            monitor.on_table_set(heads, "k", 1)
            if offset % 3 == 0:
                monitor.on_table_del(rows, "k")
            sent = monitor.on_send_initiated(None, "opvang.alerts", None, 1, 2)
            monitor.on_send_completed(None, sent, None)
            monitor.on_stream_event_out(tp, offset, stream, None, event)
            if offset < 6:  # the last message still in progress
                monitor.on_message_out(tp, offset, message)
    failed = monitor.on_send_initiated(None, "opvang.audit", None, 1, 2)
    monitor.on_send_error(None, RuntimeError("x"), failed)
    monitor.on_commit_completed(None, monitor.on_commit_initiated(None))
    monitor.on_tp_commit({TP("opvang.occupancy", 0): 6, TP("opvang.occupancy", 1): 5})
    # Per record handed over, the end offset of the partition as the poll saw it (the same
    # value for a whole poll); the one set before the rebalance above is exported again.
    for end in (9, 9, 9, 12, 12):
        monitor.track_tp_end_offset(TP("opvang.occupancy", 0), end)
    monitor.track_tp_end_offset(TP("opvang.occupancy", 1), 12)
    monitor.count("custom", 3)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            if sample.name.endswith(("_sum", "_bucket")):
                continue  # latencies measured in wall time: their counts compare, not values
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_the_lean_monitor_exports_what_faust_does_for_the_same_calls() -> None:
    faust_registry = CollectorRegistry()
    metrics = FaustMetrics.create(faust_registry, PREFIX)
    for name in DROPPED:
        faust_registry.unregister(getattr(metrics, name))
    drive(PrometheusMonitor(metrics=metrics))

    registry = CollectorRegistry()
    app = SimpleNamespace()
    install(app, registry, PREFIX)
    assert isinstance(app.monitor, LeanMonitor)
    drive(app.monitor)

    expected = samples(faust_registry)
    assert samples(registry) == expected
    # The calls reached every kind of metric: the comparison is not between two empty sets.
    assert expected[(f"{PREFIX}_messages_received_total", ())] == 14
    assert expected[(f"{PREFIX}_active_messages", ())] == 2
    assert expected[(f"{PREFIX}_total_active_events", ())] == 0
    stream = (("stream", "stream.ingest.events"),)
    assert expected[(f"{PREFIX}_total_events_per_stream_total", stream)] == 7
    deletes = (("operation", "keys_deleted"), ("table", "table.locations-rows"))
    assert expected[(f"{PREFIX}_table_operations_total", deletes)] == 6
    partition = (("partition", "1"), ("topic", "opvang.occupancy"))
    assert expected[(f"{PREFIX}_messages_received_per_topics_partition", partition)] == 5
    assert expected[(f"{PREFIX}_topic_partition_offset_commited", partition)] == 5
    assert expected[(f"{PREFIX}_topic_partition_end_offset", partition)] == 12
    assert expected[(f"{PREFIX}_topic_messages_sent_total", (("topic", "topic.opvang.alerts"),))]
    assert expected[(f"{PREFIX}_total_error_messages_sent_total", ())] == 1
    assert expected[(f"{PREFIX}_rebalance_done_latency_count", ())] == 1
    assert expected[(f"{PREFIX}_consumer_commit_latency_count", ())] == 1
    names = {name for name, _ in expected}
    assert f"{PREFIX}_producer_send_latency_count" not in names
    assert f"{PREFIX}_events_runtime_ms_count" not in names
