"""Prometheus metrics: pipeline counters, and the capacity picture read from the tables.

Pipeline metrics are counted as things happen. The capacity gauges are not kept in step by hand:
:class:`StateCollector` reads the worker's tables on every scrape, so what /metrics shows is always
what the worker decides on, also right after a restart. It renders again only the records that
changed since the last scrape (``streams.gauges``); /metrics appends its text to the registry's
(``Worker.scrape``).

In a group of workers the two kinds add up differently (docs/operations.md, "One worker or
several"). :class:`PipelineMetrics` are *per worker*: each counts what it did itself, so a query
sums them across workers. The :class:`StateCollector` gauges are *global*: each worker reads its
own tables and the mirror of every other worker's (``streams.state.mirror``), so every worker
exports the whole group's picture and a query takes the ``max`` across workers, never the sum.
Each metric's HELP text ends with which of the two it is (``PER_WORKER``, ``GLOBAL``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from alerts.capacity.location import days_until_full
from alerts.capacity.totals import Totals, contribution, sum_contributions
from alerts.config import AlertingConfig
from alerts.delivery.ledger import Ledger
from alerts.engine import AggregateRecord, LocationRecord
from alerts.model import Location
from alerts.rules.lifecycle import AlertState
from streams.gauges import Family, RecordCache, Rendered, Sample

_EPOCH = dt.date(1970, 1, 1)

__all__ = ["GLOBAL", "PER_WORKER", "PipelineMetrics", "StateCollector", "StateView"]

#: The end of every pipeline metric's HELP text: each worker counts what it did; sum them.
PER_WORKER = " Per worker: sum across workers."
#: The end of every capacity gauge's HELP text: each worker reports the whole group's picture.
GLOBAL = " Global: every worker reports the whole group; take max across workers, never sum."


class _KeptChildren:
    """``labels()`` that keeps each child in a plain dict: prometheus_client's takes a lock,
    checks the label count and converts every value to ``str`` on each call, and the stages
    call it per report (``events.labels(topic, outcome).inc()``)."""

    def labels(self, *values: Any, **named: Any) -> Any:
        kept: dict[tuple[Any, ...], Any] = self.__dict__.setdefault("_kept_children", {})
        child = kept.get(values) if values and not named else None
        if child is None:
            child = super().labels(*values, **named)  # type: ignore[misc]
            if values and not named:
                kept[values] = child
        return child

    def remove(self, *values: Any) -> None:
        self.__dict__.pop("_kept_children", None)
        super().remove(*values)  # type: ignore[misc]

    def clear(self) -> None:
        self.__dict__.pop("_kept_children", None)
        super().clear()  # type: ignore[misc]


class _Counter(_KeptChildren, Counter):
    pass


class _Histogram(_KeptChildren, Histogram):
    pass


@dataclass(frozen=True, slots=True)
class PipelineMetrics:
    events: Counter
    event_to_alert: Histogram
    alert_events: Counter
    notifications: Counter
    notification_attempts: Counter
    recovered: Counter
    read_back: Counter
    batch_steps: Histogram
    http_reports: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PipelineMetrics:
        return cls(
            events=_Counter(
                "opvang_events",
                "Input events handled, by topic and outcome "
                "(applied, duplicate, correction, reread, dead_letter:<reason>). "
                "skipped:<reason> counts records of the topics every worker reads whole (audit, "
                "silences, changelogs): the same on every worker, take the max." + PER_WORKER,
                ["topic", "outcome"],
                registry=registry,
            ),
            event_to_alert=_Histogram(
                "opvang_event_to_alert_seconds",
                "Time from an input event's Kafka timestamp to the alert event it caused."
                + PER_WORKER,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
                registry=registry,
            ),
            alert_events=_Counter(
                "opvang_alert_events",
                "Alert state changes published, by rule and status." + PER_WORKER,
                ["rule", "status"],
                registry=registry,
            ),
            notifications=_Counter(
                "opvang_notifications",
                "Notifications finished, by channel, receiver and outcome (delivered, failed)."
                + PER_WORKER,
                ["channel", "receiver", "outcome"],
                registry=registry,
            ),
            notification_attempts=_Counter(
                "opvang_notification_attempts",
                "Delivery attempts, by channel, receiver and result (ok, retry, error)."
                + PER_WORKER,
                ["channel", "receiver", "result"],
                registry=registry,
            ),
            recovered=_Counter(
                "opvang_changelog_recovered_messages",
                "Changelog messages read back into a state table since the worker started "
                "(recovery after a start or a rebalance), by table: what a restart costs."
                + PER_WORKER,
                ["table"],
                registry=registry,
            ),
            read_back=_Counter(
                "opvang_records_read_back",
                "Input records an agent read back from the broker because the stream skipped "
                "them (after a recovery or a rebalance), by topic. Each one would otherwise have "
                "been lost." + PER_WORKER,
                ["topic"],
                registry=registry,
            ),
            batch_steps=_Histogram(
                "opvang_batch_step_seconds",
                "Time each agent spends per batch in each step (streams.worker.guarantee): "
                "handling the "
                "records, waiting for outputs and rows, for heads, committing offsets."
                + PER_WORKER,
                ["agent", "step"],
                buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
                registry=registry,
            ),
            http_reports=_Counter(
                "opvang_http_reports",
                "Reports sent over HTTP (POST /api/reports, the page /melden), by source and "
                "outcome (accepted, or the reason a row was refused)." + PER_WORKER,
                ["source", "outcome"],
                registry=registry,
            ),
        )


@dataclass(frozen=True, slots=True)
class StateView:
    """What the collector reads; the app builds it from its tables on each scrape."""

    locations: list[tuple[Location, LocationRecord]]
    provinces: dict[str, AggregateRecord]
    national: AggregateRecord | None
    config: AlertingConfig
    ledgers: list[Ledger] = field(default_factory=list)
    now: dt.datetime | None = None

    def national_totals(self, *, asylum: bool = True) -> Totals:
        """The country from every location's newest figures (what people see). The national
        rules run on closed days (``national``), which can lag behind these by a day or two."""
        return sum_contributions(
            (c for record in self.provinces.values() for c in record.latest()), asylum=asylum
        )


def _global(name: str, doc: str, labels: tuple[str, ...] = ()) -> Family:
    return Family(name, doc + GLOBAL, labels)


_AT = ("location_id", "kind", "province")
_PENALTY = ("location_id", "scheme")
_LOCATION = {
    "occupancy": _global(
        "opvang_location_occupancy", "Persons who stayed the night (newest report).", _AT
    ),
    "capacity": _global(
        "opvang_location_capacity", "Usable beds (newest report or registered).", _AT
    ),
    "cap": _global("opvang_location_cap", "Agreed or legal maximum occupancy.", _AT),
    "free": _global(
        "opvang_location_free_places", "Capacity minus occupancy; negative when over.", _AT
    ),
    "utilisation": _global(
        "opvang_location_utilisation_ratio", "Occupancy divided by capacity.", _AT
    ),
    "without_bed": _global(
        "opvang_location_without_bed", "Persons inside without a regular bed.", _AT
    ),
    "outside": _global(
        "opvang_location_slept_outside", "Persons who slept outdoors last night.", _AT
    ),
    "arrivals": _global(
        "opvang_location_arrivals_7d", "Arrivals over the 7 days before the report.", _AT
    ),
    "outflow": _global(
        "opvang_location_outflow_7d",
        "Transfers out plus departures over the 7 days before the report.",
        _AT,
    ),
    "days": _global(
        "opvang_location_time_until_full_seconds",
        "Free places / net inflow (as time); absent when not filling up.",
        _AT,
    ),
    "date": _global(
        "opvang_location_report_date_seconds",
        "Event date of the newest occupancy report, as a Unix time (midnight UTC).",
        _AT,
    ),
    "accrued": _global(
        "opvang_penalty_accrued_euros", "Court fine accrued for nights above the cap.", _PENALTY
    ),
    "nights": _global(
        "opvang_penalty_nights", "Nights above the cap counted by a fine scheme.", _PENALTY
    ),
    "maximum": _global(
        "opvang_penalty_maximum_euros", "The maximum total of a fine scheme.", _PENALTY
    ),
}
_P = ("province",)
_PROVINCE = {
    "occupancy": _global("opvang_province_occupancy", "Persons in asylum reception.", _P),
    "capacity": _global("opvang_province_capacity", "Asylum reception beds.", _P),
    "free": _global("opvang_province_free_places", "Free asylum places; negative = short.", _P),
    "utilisation": _global("opvang_province_utilisation_ratio", "Occupancy / capacity.", _P),
    "without_bed": _global("opvang_province_without_bed", "Persons without a regular bed.", _P),
    "outside": _global("opvang_province_slept_outside", "Persons who slept outdoors.", _P),
    "arrivals": _global("opvang_province_arrivals_7d", "Arrivals over 7 days.", _P),
    "outflow": _global(
        "opvang_province_outflow_7d", "Transfers out and departures over 7 days.", _P
    ),
    "days": _global(
        "opvang_province_time_until_full_seconds",
        "Free places / net inflow (as time); absent when not filling up.",
        _P,
    ),
    "target": _global(
        "opvang_province_spreiding_target_places",
        "Spreidingswet target in force (realised = opvang_province_capacity).",
        ("province", "cycle"),
    ),
    "ukr_occupancy": _global(
        "opvang_province_ukrainian_occupancy", "Persons in Ukrainian reception.", _P
    ),
    "ukr_capacity": _global("opvang_province_ukrainian_capacity", "Ukrainian reception beds.", _P),
    "closed": _global(
        "opvang_province_closed_date_seconds",
        "Newest day whose province rules have run (Unix time, midnight UTC).",
        _P,
    ),
}
_NATIONAL = {
    "occupancy": _global("opvang_national_occupancy", "Persons in asylum reception, NL."),
    "capacity": _global("opvang_national_capacity", "Asylum reception beds, NL."),
    "free": _global(
        "opvang_national_free_places", "Free asylum places in NL; negative = places short."
    ),
    "utilisation": _global("opvang_national_utilisation_ratio", "Occupancy / capacity, NL."),
    "without_bed": _global("opvang_national_without_bed", "Persons without a regular bed."),
    "outside": _global("opvang_national_slept_outside", "Persons who slept outdoors."),
    "arrivals": _global("opvang_national_arrivals_7d", "Arrivals over 7 days, NL."),
    "outflow": _global("opvang_national_outflow_7d", "Outflow over 7 days, NL."),
    "days": _global(
        "opvang_national_time_until_full_seconds",
        "Free places / net inflow (as time); absent when not filling up.",
    ),
    "short": _global("opvang_national_shortage_places", "Places short nationally (>= 0)."),
    "ukr_occupancy": _global(
        "opvang_national_ukrainian_occupancy", "Persons in Ukrainian reception, NL."
    ),
    "ukr_capacity": _global("opvang_national_ukrainian_capacity", "Ukrainian beds, NL."),
}
_FIRING = {
    "firing": _global(
        "opvang_alerts_firing", "Alerts firing now, by rule and severity.", ("rule", "severity")
    )
}
_DELIVERY = {
    "pending": _global(
        "opvang_notifications_pending",
        "Notifications waiting for a retry or held for a digest, per receiver.",
        ("receiver", "state"),
    ),
    "oldest": _global(
        "opvang_notification_oldest_pending_seconds",
        "Age of the oldest notification not yet delivered, per receiver.",
        ("receiver",),
    ),
    "disabled": _global(
        "opvang_receiver_disabled",
        "1 when a receiver was switched off (it answered 410 Gone).",
        ("receiver",),
    ),
}

#: The names of the capacity gauges (``StateCollector``).
FAMILY_NAMES: Final = frozenset(
    family.name
    for section in (_LOCATION, _PROVINCE, _NATIONAL, _FIRING, _DELIVERY)
    for family in section.values()
)

#: Samples by family key, filled in the order of a family table above.
_Found = dict[str, list[Sample]]


def _found(families: dict[str, Family]) -> _Found:
    return {key: [] for key in families}


def _rendered(families: dict[str, Family], found: _Found, extra: object = None) -> Rendered:
    return Rendered.build(tuple(families.values()), list(found.values()), extra)


def _firing(alerts: Iterable[AlertState]) -> tuple[tuple[str, str], ...]:
    """The ``(rule, severity)`` of each alert firing in a record."""
    return tuple((a.rule, a.severity) for a in alerts if a.firing and a.severity)


def _location(location: Location, record: LocationRecord, config: AlertingConfig) -> Rendered:
    """One location's samples; ``extra``: its alerts firing."""
    s = _found(_LOCATION)
    schemes = {scheme.name: scheme for scheme in config.penalties}
    for tally in record.penalties.values():
        scheme = schemes.get(tally.scheme)
        fined = (location.location_id, tally.scheme)
        s["accrued"].append((fined, tally.accrued))
        s["nights"].append((fined, tally.nights))
        if scheme is not None:
            s["maximum"].append((fined, scheme.maximum))
    share = contribution(location, record.state)
    if share is not None:
        at = (location.location_id, location.kind, location.province)
        s["occupancy"].append((at, share.occupancy))
        s["capacity"].append((at, share.capacity))
        s["free"].append((at, share.capacity - share.occupancy))
        if share.capacity:
            s["utilisation"].append((at, share.occupancy / share.capacity))
        if location.cap is not None:
            s["cap"].append((at, location.cap))
        s["without_bed"].append((at, share.without_bed))
        s["outside"].append((at, share.slept_outside))
        flows = share.flows
        if flows.days:
            s["arrivals"].append((at, flows.arrivals))
            s["outflow"].append((at, flows.transfers_out + flows.departures))
        remaining = days_until_full(share.capacity - share.occupancy, flows.net_inflow_per_day)
        if remaining is not None:
            s["days"].append((at, remaining * 86400))
        s["date"].append((at, (share.date - _EPOCH).days * 86400))
    return _rendered(_LOCATION, s, _firing(record.alerts.values()))


def _fill(s: _Found, labels: tuple[str, ...], totals: Totals) -> None:
    if totals.date is None:
        return
    s["occupancy"].append((labels, totals.occupancy))
    s["capacity"].append((labels, totals.capacity))
    s["free"].append((labels, totals.free_places))
    if totals.utilisation is not None:
        s["utilisation"].append((labels, totals.utilisation))
    s["without_bed"].append((labels, totals.without_bed))
    s["outside"].append((labels, totals.slept_outside))
    if totals.flows.days:
        s["arrivals"].append((labels, totals.flows.arrivals))
        s["outflow"].append((labels, totals.flows.transfers_out + totals.flows.departures))
    if totals.days_until_full is not None:
        s["days"].append((labels, totals.days_until_full * 86400))


def _province(code: str, record: AggregateRecord, config: AlertingConfig) -> Rendered:
    """One province's samples; ``extra``: its alerts firing."""
    s = _found(_PROVINCE)
    totals = record.totals()
    _fill(s, (code,), totals)
    ukrainian = record.totals(asylum=False)
    if ukrainian.locations:
        s["ukr_occupancy"].append(((code,), ukrainian.occupancy))
        s["ukr_capacity"].append(((code,), ukrainian.capacity))
    if totals.date is not None:
        cycle = config.targets.for_date(totals.date, config.spreiding_cycle)
        if cycle is not None and code in cycle.targets:
            s["target"].append(((code, cycle.name), cycle.targets[code]))
    if record.closed is not None:
        s["closed"].append(((code,), (record.closed - _EPOCH).days * 86400))
    return _rendered(_PROVINCE, s, _firing(record.alerts.values()))


def _national(national: AggregateRecord | None, *provinces: AggregateRecord) -> Rendered:
    """The country's samples from every province's newest figures (``StateView``'s
    ``national_totals``); ``extra``: the alerts firing in the national record."""
    s = _found(_NATIONAL)
    latest = [c for record in provinces for c in record.latest()]
    totals = sum_contributions(latest)
    if totals.date is not None:
        _fill(s, (), totals)
        s["short"].append(((), max(0, -totals.free_places)))
        ukrainian = sum_contributions(latest, asylum=False)
        s["ukr_occupancy"].append(((), ukrainian.occupancy))
        s["ukr_capacity"].append(((), ukrainian.capacity))
    return _rendered(_NATIONAL, s, _firing(national.alerts.values()) if national else ())


def _alerts(records: Iterable[Rendered]) -> Rendered:
    counts: dict[tuple[str, str], int] = {}
    for record in records:
        for key in record.extra:
            counts[key] = counts.get(key, 0) + 1
    s = _found(_FIRING)
    s["firing"] = [(key, count) for key, count in sorted(counts.items())]
    return _rendered(_FIRING, s)


def _delivery(view: StateView) -> Rendered:
    s = _found(_DELIVERY)
    for ledger in view.ledgers:
        s["pending"].append(((ledger.receiver, "retry"), len(ledger.pending)))
        s["pending"].append(((ledger.receiver, "held"), len(ledger.held)))
        first = ledger.oldest_pending()
        age = (view.now - first).total_seconds() if first and view.now else 0.0
        s["oldest"].append(((ledger.receiver,), max(0.0, age)))
        s["disabled"].append(((ledger.receiver,), 1.0 if ledger.disabled else 0.0))
    return _rendered(_DELIVERY, s)


class StateCollector(Collector):
    """The capacity picture and the delivery ledgers as gauges, read from a :class:`StateView` on
    every scrape. Global: the view is the whole group's, so every worker reports the same.

    Each location's, province's and the nation's samples are kept with the record they came from
    (``streams.gauges``) and made again only when the record changed. :meth:`exposition` is
    what /metrics sends: the text ``generate_latest`` would write for :meth:`collect`, from the
    lines kept with the samples."""

    def __init__(self, read: Callable[[], StateView]) -> None:
        self._read = read
        self._locations: RecordCache[str] = RecordCache(_location)
        self._provinces: RecordCache[str] = RecordCache(_province)
        self._nation: RecordCache[str] = RecordCache(_national)

    def describe(self) -> Iterable[Metric]:
        return []

    def _sections(self) -> list[tuple[dict[str, Family], list[Rendered]]]:
        view = self._read()
        locations = self._locations.update(
            (location.location_id, (location, record, view.config))
            for location, record in view.locations
        )
        provinces = self._provinces.update(
            (code, (code, record, view.config)) for code, record in sorted(view.provinces.items())
        )
        nation = self._nation.update([("NL", (view.national, *view.provinces.values()))])
        return [
            (_LOCATION, locations),
            (_PROVINCE, provinces),
            (_NATIONAL, nation),
            (_FIRING, [_alerts([*locations, *provinces, *nation])]),
            (_DELIVERY, [_delivery(view)]),
        ]

    def collect(self) -> Iterator[Metric]:
        for families, rendered in self._sections():
            for index, family in enumerate(families.values()):
                yield family.metric(s for r in rendered for s in r.samples[index])

    def exposition(self, names: Collection[str] | None = None) -> bytes:
        """The gauges in the Prometheus text format, as ``generate_latest`` writes them; with
        ``names``, only those families (nothing is read or rendered when none of them is one of
        these gauges: a scrape that asks for a few counters, as ``/metrics?name[]=...``)."""
        if names is not None and not any(name in FAMILY_NAMES for name in names):
            return b""
        out: list[str] = []
        for families, rendered in self._sections():
            for index, family in enumerate(families.values()):
                if names is not None and family.name not in names:
                    continue
                out.append(family.header)
                out.extend(r.text[index] for r in rendered)
        return "".join(out).encode("utf-8")
