"""The capacity collector as it was before issue 12's cache (``streams.gauges``), kept unchanged
as the reference its output must equal (tests/edge/test_metrics_cache.py). Not used by the worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.capacity.location import days_until_full
from alerts.capacity.totals import Totals, contribution
from alerts.rules.lifecycle import AlertState
from streams.metrics import GLOBAL, StateView

_EPOCH = dt.date(1970, 1, 1)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc + GLOBAL, labels=labels or [])


class ReferenceCollector(Collector):
    """The capacity picture and the delivery ledgers as gauges, read from a :class:`StateView` on
    every scrape. Global: the view is the whole group's, so every worker reports the same."""

    def __init__(self, read: Callable[[], StateView]) -> None:
        self._read = read

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        view = self._read()
        yield from self._locations(view)
        yield from self._aggregates(view)
        yield from self._alerts(view)
        yield from self._delivery(view)

    def _delivery(self, view: StateView) -> Iterator[Metric]:
        pending = _gauge(
            "opvang_notifications_pending",
            "Notifications waiting for a retry or held for a digest, per receiver.",
            ["receiver", "state"],
        )
        oldest = _gauge(
            "opvang_notification_oldest_pending_seconds",
            "Age of the oldest notification not yet delivered, per receiver.",
            ["receiver"],
        )
        disabled = _gauge(
            "opvang_receiver_disabled",
            "1 when a receiver was switched off (it answered 410 Gone).",
            ["receiver"],
        )
        for ledger in view.ledgers:
            pending.add_metric([ledger.receiver, "retry"], len(ledger.pending))
            pending.add_metric([ledger.receiver, "held"], len(ledger.held))
            first = ledger.oldest_pending()
            age = (view.now - first).total_seconds() if first and view.now else 0.0
            oldest.add_metric([ledger.receiver], max(0.0, age))
            disabled.add_metric([ledger.receiver], 1.0 if ledger.disabled else 0.0)
        yield from (pending, oldest, disabled)

    def _locations(self, view: StateView) -> Iterator[Metric]:
        labels = ["location_id", "kind", "province"]
        g = {
            "occupancy": _gauge(
                "opvang_location_occupancy", "Persons who stayed the night (newest report).", labels
            ),
            "capacity": _gauge(
                "opvang_location_capacity", "Usable beds (newest report or registered).", labels
            ),
            "cap": _gauge("opvang_location_cap", "Agreed or legal maximum occupancy.", labels),
            "free": _gauge(
                "opvang_location_free_places",
                "Capacity minus occupancy; negative when over.",
                labels,
            ),
            "utilisation": _gauge(
                "opvang_location_utilisation_ratio", "Occupancy divided by capacity.", labels
            ),
            "without_bed": _gauge(
                "opvang_location_without_bed", "Persons inside without a regular bed.", labels
            ),
            "outside": _gauge(
                "opvang_location_slept_outside", "Persons who slept outdoors last night.", labels
            ),
            "arrivals": _gauge(
                "opvang_location_arrivals_7d", "Arrivals over the 7 days before the report.", labels
            ),
            "outflow": _gauge(
                "opvang_location_outflow_7d",
                "Transfers out plus departures over the 7 days before the report.",
                labels,
            ),
            "days": _gauge(
                "opvang_location_time_until_full_seconds",
                "Free places / net inflow (as time); absent when not filling up.",
                labels,
            ),
            "date": _gauge(
                "opvang_location_report_date_seconds",
                "Event date of the newest occupancy report, as a Unix time (midnight UTC).",
                labels,
            ),
        }
        penalty_labels = ["location_id", "scheme"]
        accrued = _gauge(
            "opvang_penalty_accrued_euros",
            "Court fine accrued for nights above the cap.",
            penalty_labels,
        )
        nights = _gauge(
            "opvang_penalty_nights",
            "Nights above the cap counted by a fine scheme.",
            penalty_labels,
        )
        maximum = _gauge(
            "opvang_penalty_maximum_euros", "The maximum total of a fine scheme.", penalty_labels
        )
        schemes = {s.name: s for s in view.config.penalties}
        for location, record in view.locations:
            for tally in record.penalties.values():
                scheme = schemes.get(tally.scheme)
                accrued.add_metric([location.location_id, tally.scheme], tally.accrued)
                nights.add_metric([location.location_id, tally.scheme], tally.nights)
                if scheme is not None:
                    maximum.add_metric([location.location_id, tally.scheme], scheme.maximum)
            share = contribution(location, record.state)
            if share is None:
                continue
            values = [location.location_id, location.kind, location.province]
            g["occupancy"].add_metric(values, share.occupancy)
            g["capacity"].add_metric(values, share.capacity)
            g["free"].add_metric(values, share.capacity - share.occupancy)
            if share.capacity:
                g["utilisation"].add_metric(values, share.occupancy / share.capacity)
            if location.cap is not None:
                g["cap"].add_metric(values, location.cap)
            g["without_bed"].add_metric(values, share.without_bed)
            g["outside"].add_metric(values, share.slept_outside)
            flows = share.flows
            if flows.days:
                g["arrivals"].add_metric(values, flows.arrivals)
                g["outflow"].add_metric(values, flows.transfers_out + flows.departures)
            remaining = days_until_full(share.capacity - share.occupancy, flows.net_inflow_per_day)
            if remaining is not None:
                g["days"].add_metric(values, remaining * 86400)
            g["date"].add_metric(values, (share.date - _EPOCH).days * 86400)
        yield from g.values()
        yield from (accrued, nights, maximum)

    def _aggregates(self, view: StateView) -> Iterator[Metric]:
        p = {
            "occupancy": _gauge(
                "opvang_province_occupancy", "Persons in asylum reception.", ["province"]
            ),
            "capacity": _gauge("opvang_province_capacity", "Asylum reception beds.", ["province"]),
            "free": _gauge(
                "opvang_province_free_places", "Free asylum places; negative = short.", ["province"]
            ),
            "utilisation": _gauge(
                "opvang_province_utilisation_ratio", "Occupancy / capacity.", ["province"]
            ),
            "without_bed": _gauge(
                "opvang_province_without_bed", "Persons without a regular bed.", ["province"]
            ),
            "outside": _gauge(
                "opvang_province_slept_outside", "Persons who slept outdoors.", ["province"]
            ),
            "arrivals": _gauge(
                "opvang_province_arrivals_7d", "Arrivals over 7 days.", ["province"]
            ),
            "outflow": _gauge(
                "opvang_province_outflow_7d",
                "Transfers out and departures over 7 days.",
                ["province"],
            ),
            "days": _gauge(
                "opvang_province_time_until_full_seconds",
                "Free places / net inflow (as time); absent when not filling up.",
                ["province"],
            ),
            "target": _gauge(
                "opvang_province_spreiding_target_places",
                "Spreidingswet target in force (realised = opvang_province_capacity).",
                ["province", "cycle"],
            ),
            "ukr_occupancy": _gauge(
                "opvang_province_ukrainian_occupancy",
                "Persons in Ukrainian reception.",
                ["province"],
            ),
            "ukr_capacity": _gauge(
                "opvang_province_ukrainian_capacity", "Ukrainian reception beds.", ["province"]
            ),
            "closed": _gauge(
                "opvang_province_closed_date_seconds",
                "Newest day whose province rules have run (Unix time, midnight UTC).",
                ["province"],
            ),
        }
        for code, record in sorted(view.provinces.items()):
            totals = record.totals()
            self._fill(p, [code], totals)
            ukrainian = record.totals(asylum=False)
            if ukrainian.locations:
                p["ukr_occupancy"].add_metric([code], ukrainian.occupancy)
                p["ukr_capacity"].add_metric([code], ukrainian.capacity)
            if totals.date is not None:
                cycle = view.config.targets.for_date(totals.date, view.config.spreiding_cycle)
                if cycle is not None and code in cycle.targets:
                    p["target"].add_metric([code, cycle.name], cycle.targets[code])
            if record.closed is not None:
                p["closed"].add_metric([code], (record.closed - _EPOCH).days * 86400)
        yield from p.values()

        n = {
            "occupancy": _gauge("opvang_national_occupancy", "Persons in asylum reception, NL."),
            "capacity": _gauge("opvang_national_capacity", "Asylum reception beds, NL."),
            "free": _gauge(
                "opvang_national_free_places", "Free asylum places in NL; negative = places short."
            ),
            "utilisation": _gauge("opvang_national_utilisation_ratio", "Occupancy / capacity, NL."),
            "without_bed": _gauge("opvang_national_without_bed", "Persons without a regular bed."),
            "outside": _gauge("opvang_national_slept_outside", "Persons who slept outdoors."),
            "arrivals": _gauge("opvang_national_arrivals_7d", "Arrivals over 7 days, NL."),
            "outflow": _gauge("opvang_national_outflow_7d", "Outflow over 7 days, NL."),
            "days": _gauge(
                "opvang_national_time_until_full_seconds",
                "Free places / net inflow (as time); absent when not filling up.",
            ),
            "short": _gauge("opvang_national_shortage_places", "Places short nationally (>= 0)."),
            "ukr_occupancy": _gauge(
                "opvang_national_ukrainian_occupancy", "Persons in Ukrainian reception, NL."
            ),
            "ukr_capacity": _gauge("opvang_national_ukrainian_capacity", "Ukrainian beds, NL."),
        }
        totals = view.national_totals()
        if totals.date is not None:
            self._fill(n, [], totals)
            n["short"].add_metric([], max(0, -totals.free_places))
            ukrainian = view.national_totals(asylum=False)
            n["ukr_occupancy"].add_metric([], ukrainian.occupancy)
            n["ukr_capacity"].add_metric([], ukrainian.capacity)
        yield from n.values()

    @staticmethod
    def _fill(g: dict[str, GaugeMetricFamily], labels: list[str], totals: Totals) -> None:
        if totals.date is None:
            return
        g["occupancy"].add_metric(labels, totals.occupancy)
        g["capacity"].add_metric(labels, totals.capacity)
        g["free"].add_metric(labels, totals.free_places)
        if totals.utilisation is not None:
            g["utilisation"].add_metric(labels, totals.utilisation)
        g["without_bed"].add_metric(labels, totals.without_bed)
        g["outside"].add_metric(labels, totals.slept_outside)
        if totals.flows.days:
            g["arrivals"].add_metric(labels, totals.flows.arrivals)
            g["outflow"].add_metric(labels, totals.flows.transfers_out + totals.flows.departures)
        if totals.days_until_full is not None:
            g["days"].add_metric(labels, totals.days_until_full * 86400)

    def _alerts(self, view: StateView) -> Iterator[Metric]:
        firing = _gauge(
            "opvang_alerts_firing", "Alerts firing now, by rule and severity.", ["rule", "severity"]
        )
        counts: dict[tuple[str, str], int] = {}
        records: list[Iterable[AlertState]] = [r.alerts.values() for _, r in view.locations]
        records += [r.alerts.values() for r in view.provinces.values()]
        if view.national is not None:
            records.append(view.national.alerts.values())
        for alerts in records:
            for alert in alerts:
                if alert.firing and alert.severity:
                    key = (alert.rule, alert.severity)
                    counts[key] = counts.get(key, 0) + 1
        for (rule, severity), count in sorted(counts.items()):
            firing.add_metric([rule, severity], count)
        yield firing
