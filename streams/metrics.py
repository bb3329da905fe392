"""Prometheus metrics: pipeline counters, and the capacity picture read from the tables.

Pipeline metrics are counted as things happen. The capacity gauges are not kept in step by hand:
:class:`StateCollector` reads the worker's tables on every scrape, so what /metrics shows is always
what the worker decides on, also right after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.capacity import Totals
from alerts.engine import LocationRecord
from alerts.model import Location

__all__ = ["PipelineMetrics", "StateCollector", "StateView"]


@dataclass(frozen=True, slots=True)
class PipelineMetrics:
    events: Counter
    event_to_alert: Histogram
    alert_events: Counter
    notifications: Counter
    notification_attempts: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PipelineMetrics:
        return cls(
            events=Counter(
                "opvang_events",
                "Input events handled, by topic and outcome "
                "(ok, duplicate, correction, dead_letter:<reason>).",
                ["topic", "outcome"],
                registry=registry,
            ),
            event_to_alert=Histogram(
                "opvang_event_to_alert_seconds",
                "Time from an input event's Kafka timestamp to the alert event it caused.",
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
                registry=registry,
            ),
            alert_events=Counter(
                "opvang_alert_events",
                "Alert state changes published, by rule and status.",
                ["rule", "status"],
                registry=registry,
            ),
            notifications=Counter(
                "opvang_notifications",
                "Notifications finished, by channel, receiver and outcome (delivered, failed).",
                ["channel", "receiver", "outcome"],
                registry=registry,
            ),
            notification_attempts=Counter(
                "opvang_notification_attempts",
                "Delivery attempts, by channel, receiver and result (ok, retry, error).",
                ["channel", "receiver", "result"],
                registry=registry,
            ),
        )


@dataclass(frozen=True, slots=True)
class StateView:
    """What the collector reads; the app builds it from its tables on each scrape."""

    locations: list[tuple[Location, LocationRecord]]
    provinces: dict[str, Totals]
    national: Totals | None


class StateCollector(Collector):
    def __init__(self, read: Callable[[], StateView]) -> None:
        self._read = read

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        view = self._read()
        labels = ["location_id", "kind", "province"]
        occupancy = GaugeMetricFamily(
            "opvang_location_occupancy",
            "Persons who stayed the night (newest report).",
            labels=labels,
        )
        capacity = GaugeMetricFamily(
            "opvang_location_capacity", "Usable beds (newest report or registered).", labels=labels
        )
        cap = GaugeMetricFamily(
            "opvang_location_cap", "Agreed or legal maximum occupancy.", labels=labels
        )
        free = GaugeMetricFamily(
            "opvang_location_free_places",
            "Capacity minus occupancy; negative when over.",
            labels=labels,
        )
        report_date = GaugeMetricFamily(
            "opvang_location_report_date_seconds",
            "Event date of the newest occupancy report, as a Unix time (midnight UTC).",
            labels=labels,
        )
        firing = GaugeMetricFamily(
            "opvang_alerts_firing",
            "Alerts firing now, by rule and severity.",
            labels=["rule", "severity"],
        )
        firing_counts: dict[tuple[str, str], int] = {}
        for location, record in view.locations:
            state = record.state
            for alert in record.alerts.values():
                if alert.firing and alert.severity:
                    key = (alert.rule, alert.severity)
                    firing_counts[key] = firing_counts.get(key, 0) + 1
            if state.latest_date is None:
                continue
            values = [location.location_id, location.kind, location.province]
            occupancy.add_metric(values, state.occupancy)
            capacity.add_metric(values, state.capacity(location))
            free.add_metric(values, state.free_places(location))
            if location.cap is not None:
                cap.add_metric(values, location.cap)
            midnight = state.latest_date.toordinal() - 719163  # days since 1970-01-01
            report_date.add_metric(values, midnight * 86400)
        for (rule, severity), count in sorted(firing_counts.items()):
            firing.add_metric([rule, severity], count)
        yield from (occupancy, capacity, cap, free, report_date, firing)

        p_occ = GaugeMetricFamily(
            "opvang_province_occupancy", "Persons in asylum reception.", labels=["province"]
        )
        p_cap = GaugeMetricFamily(
            "opvang_province_capacity", "Asylum reception beds.", labels=["province"]
        )
        p_free = GaugeMetricFamily(
            "opvang_province_free_places",
            "Free asylum places; negative = short.",
            labels=["province"],
        )
        for code, totals in sorted(view.provinces.items()):
            p_occ.add_metric([code], totals.occupancy)
            p_cap.add_metric([code], totals.capacity)
            p_free.add_metric([code], totals.free_places)
        yield from (p_occ, p_cap, p_free)

        n_occ = GaugeMetricFamily("opvang_national_occupancy", "Persons in asylum reception, NL.")
        n_cap = GaugeMetricFamily("opvang_national_capacity", "Asylum reception beds, NL.")
        n_free = GaugeMetricFamily(
            "opvang_national_free_places", "Free asylum places in NL; negative = places short."
        )
        if view.national is not None:
            n_occ.add_metric([], view.national.occupancy)
            n_cap.add_metric([], view.national.capacity)
            n_free.add_metric([], view.national.free_places)
        yield from (n_occ, n_cap, n_free)
