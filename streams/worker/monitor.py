"""Faust's sensors as ``opvang_faust_*`` metrics, counted cheaply on the per-event path (issue 12).

Faust's ``PrometheusMonitor`` updates labelled ``prometheus_client`` metrics on every message,
stream event, table read and write, and send: each a ``labels()`` lookup under a lock, a stream's
label rebuilt with a regular expression per event, two histograms observed per send. Profiles of
the year replay put that at 3-5 % of the worker. :class:`LeanMonitor` keeps what operators use and
counts the rest in plain integers, turned into metrics only when /metrics is scraped:

- **Kept as Faust exports them** (rare events, or what the dashboards and alert rules read):
  end offsets (set when they change, not per record) and committed offsets per partition
  (consumer lag), rebalances and their latencies, commit latency, assignments, send errors, web
  requests, ``count()``.
- **Counted in plain Python, exported under the same names and labels at scrape time**
  (:class:`CountsCollector`): messages received (total, per topic, last offset read per
  partition), messages and events in progress, events per stream, table operations, messages
  sent (total, per topic). These counters no longer export ``_created`` samples.
- **Dropped**: ``opvang_faust_producer_send_latency`` (a histogram observed per send; nothing reads
  it; ``opvang_batch_step_seconds{step="outputs"}`` times waiting for the sends) and, as before,
  ``opvang_faust_events_runtime_ms`` (``opvang_event_to_alert_seconds`` covers it).

docs/operations.md, "Metrics", lists the names; docs/performance.md has the measurements.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CountsCollector", "LeanMonitor", "install"]

#: Faust's per-event metrics that :class:`CountsCollector` exports instead, and the ones dropped.
COUNTED = (
    "messages_received",
    "active_messages",
    "messages_received_per_topics",
    "messages_received_per_topics_partition",
    "total_events",
    "total_active_events",
    "total_events_per_stream",
    "table_operations",
    "topic_messages_sent",
    "total_sent_messages",
)
DROPPED = ("events_runtime_latency", "producer_send_latency")


class LeanMonitor(PrometheusMonitor):
    """Faust's ``PrometheusMonitor`` with the per-event hooks reduced to integer counts (Faust's
    own ``Monitor`` bookkeeping, or less); every other hook is Faust's."""

    def __init__(self, metrics: FaustMetrics, **kwargs: Any) -> None:
        super().__init__(metrics=metrics, **kwargs)
        # A stream's label, made once per stream instead of once per event.
        self._stream_labels: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        #: Sends the broker acknowledged (Faust's total_sent_messages; messages_sent counts sends
        #: begun).
        self.sends_completed = 0

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        self.messages_received_total += 1
        self.messages_active += 1
        self.messages_received_by_topic[tp.topic] += 1
        self.tp_read_offsets[tp] = offset

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        self.messages_active -= 1

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        self.events_total += 1
        self.events_active += 1
        label = self._stream_labels.get(stream)
        if label is None:
            label = self._stream_labels[stream] = f"stream.{self._stream_label(stream)}.events"
        self.events_by_stream[label] += 1

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        self.events_active -= 1

    def on_table_get(self, table: Any, key: Any) -> None:
        Monitor.on_table_get(self, table, key)

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)

    def on_table_del(self, table: Any, key: Any) -> None:
        Monitor.on_table_del(self, table, key)

    def track_tp_end_offset(self, tp: Any, offset: int) -> None:
        """Faust calls this for every record it hands over, with the partition's end offset as
        the last fetch saw it: the same value for a whole poll. The gauge (a ``labels()`` lookup
        under a lock, 1 % of the year replay's samples) is set only when the value changes, or
        after a rebalance cleared it (Faust empties ``tp_end_offsets`` with the gauges)."""
        if self.tp_end_offsets.get(tp) != offset:
            super().track_tp_end_offset(tp, offset)

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        self.messages_sent += 1
        self.messages_sent_by_topic[topic] += 1
        return self.time()  # for a send error's latency

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        self.sends_completed += 1


class CountsCollector(Collector):
    """The monitor's integer counts as Faust's metrics of the same names and labels."""

    def __init__(self, monitor: LeanMonitor, prefix: str) -> None:
        self._monitor = monitor
        self._prefix = prefix

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        m, p = self._monitor, self._prefix
        yield CounterMetricFamily(
            f"{p}_messages_received", "Total messages received", m.messages_received_total
        )
        yield GaugeMetricFamily(f"{p}_active_messages", "Total active messages", m.messages_active)
        yield _per_label(
            f"{p}_messages_received_per_topic",
            "Messages received per topic",
            "topic",
            m.messages_received_by_topic,
        )
        read = GaugeMetricFamily(
            f"{p}_messages_received_per_topics_partition",
            "Messages received per topic/partition",
            labels=["topic", "partition"],
        )
        for tp, offset in sorted(m.tp_read_offsets.items()):
            read.add_metric([tp.topic, str(tp.partition)], offset)
        yield read
        yield CounterMetricFamily(f"{p}_total_events", "Total events received", m.events_total)
        yield GaugeMetricFamily(f"{p}_total_active_events", "Total active events", m.events_active)
        yield _per_label(
            f"{p}_total_events_per_stream",
            "Events received per Stream",
            "stream",
            m.events_by_stream,
        )
        tables = CounterMetricFamily(
            f"{p}_table_operations", "Total table operations", labels=["table", "operation"]
        )
        for name, state in sorted(m.tables.items()):
            for operation in (m.KEYS_RETRIEVED, m.KEYS_UPDATED, m.KEYS_DELETED):
                count = getattr(state, operation)
                if count:
                    tables.add_metric([f"table.{name}", operation], count)
        yield tables
        yield _per_label(
            f"{p}_topic_messages_sent",
            "Total messages sent per topic",
            "topic",
            m.messages_sent_by_topic,
            value_prefix="topic.",
        )
        yield CounterMetricFamily(
            f"{p}_total_sent_messages", "Total messages sent", m.sends_completed
        )


def _per_label(
    name: str, doc: str, label: str, counts: Mapping[str, int], value_prefix: str = ""
) -> CounterMetricFamily:
    """A counter family with one sample per label value, in label order."""
    family = CounterMetricFamily(name, doc, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([f"{value_prefix}{value}"], count)
    return family


def install(app: Any, registry: CollectorRegistry, prefix: str) -> LeanMonitor:
    """Faust's metrics under ``prefix`` in ``registry``, the per-event ones from the counts."""
    metrics = FaustMetrics.create(registry, prefix)
    for name in (*COUNTED, *DROPPED):
        registry.unregister(getattr(metrics, name))
    monitor = LeanMonitor(metrics=metrics)
    registry.register(CountsCollector(monitor, prefix))
    app.monitor = monitor
    return monitor
