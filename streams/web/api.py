"""The read API: JSON documents built from a :class:`~streams.metrics.StateView`.

Plain functions from the worker's state to dicts, so the documents are tested without a web
server; ``streams.worker.app`` registers them as Faust web views.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from alerts.capacity.totals import Totals, contribution
from alerts.catalogue import RULE_IDS
from alerts.engine import AggregateRecord, LocationRecord
from alerts.model import PROVINCE_NAMES, Location, Severity
from alerts.rules.lifecycle import AlertState
from streams.metrics import StateView

__all__ = [
    "active_alerts",
    "firing_states",
    "health_document",
    "location_detail",
    "locations_list",
    "national_document",
    "province_detail",
    "provinces_list",
    "published_alert",
]


def health_document(
    *, ready: bool, recovering: bool, remaining: int, locations: int, topic_prefix: str
) -> tuple[dict[str, Any], int]:
    """``/health``: the body and the status code. While the worker reads its state back from the
    changelogs it says so, with how many changelog messages are left, instead of looking dead."""
    if recovering:
        status, code = "recovering", 503
    elif ready:
        status, code = "ok", 200
    else:
        status, code = "starting", 503
    body: dict[str, Any] = {
        "status": status,
        "locations": locations,
        "topic_prefix": topic_prefix,
    }
    if recovering:
        body["recovery_messages_left"] = remaining
    return body, code


#: Days of history in a location's detail document.
DETAIL_DAYS = 7


def _location_summary(location: Location, record: LocationRecord) -> dict[str, Any]:
    share = contribution(location, record.state)
    flows = share.flows if share else None
    return {
        "location_id": location.location_id,
        "name": location.name,
        "kind": location.kind,
        "province": location.province,
        "municipality_code": location.municipality_code,
        "active": location.active,
        "date": share.date.isoformat() if share else None,
        "occupancy": share.occupancy if share else None,
        "capacity": share.capacity if share else location.capacity,
        "free_places": share.capacity - share.occupancy if share else None,
        "utilisation": (share.occupancy / share.capacity) if share and share.capacity else None,
        "without_bed": share.without_bed if share else None,
        "slept_outside": share.slept_outside if share else None,
        "cap": location.cap,
        "cap_source": location.cap_source,
        "arrivals_7d": flows.arrivals if flows and flows.days else None,
        "transfers_out_7d": flows.transfers_out if flows and flows.days else None,
        "departures_7d": flows.departures if flows and flows.days else None,
        "firing": sorted(a.rule for a in record.alerts.values() if a.firing),
    }


def locations_list(view: StateView) -> dict[str, Any]:
    rows = [_location_summary(loc, rec) for loc, rec in view.locations]
    return {"locations": sorted(rows, key=lambda r: str(r["location_id"]))}


def location_detail(view: StateView, location_id: str) -> dict[str, Any] | None:
    for location, record in view.locations:
        if location.location_id != location_id:
            continue
        body = _location_summary(location, record)
        latest = record.state.latest_date
        if latest is not None:
            start = latest - dt.timedelta(days=DETAIL_DAYS - 1)
            days = [d.to_dict() for d in record.state.days if d.date >= start]
            for day in days:
                day.pop("seen", None)
            body["days"] = days
        else:
            body["days"] = []
        schemes = {s.name: s for s in view.config.penalties}
        body["penalties"] = [
            {
                **tally.to_dict(),
                "maximum": schemes[tally.scheme].maximum if tally.scheme in schemes else None,
                "source": schemes[tally.scheme].source if tally.scheme in schemes else None,
            }
            for tally in record.penalties.values()
        ]
        body["alerts"] = [_alert(a) for a in record.alerts.values() if a.firing]
        return body
    return None


def _totals(totals: Totals) -> dict[str, Any]:
    return totals.to_dict()


def _province_summary(view: StateView, code: str, record: AggregateRecord) -> dict[str, Any]:
    totals = record.totals()
    cycle = (
        view.config.targets.for_date(totals.date, view.config.spreiding_cycle)
        if totals.date
        else None
    )
    target = cycle.targets.get(code) if cycle else None
    return {
        "province": code,
        "name": PROVINCE_NAMES.get(code, code),
        **_totals(totals),
        "closed": record.closed.isoformat() if record.closed else None,
        "spreiding": {
            "cycle": cycle.name if cycle else None,
            "target": target,
            "realised": totals.capacity,
            "short": max(0, target - totals.capacity) if target is not None else None,
            "assumed": cycle.assumed if cycle else None,
        },
        "ukrainian": _totals(record.totals(asylum=False)),
        "firing": sorted(a.rule for a in record.alerts.values() if a.firing),
    }


def provinces_list(view: StateView) -> dict[str, Any]:
    return {
        "provinces": [
            _province_summary(view, code, record) for code, record in sorted(view.provinces.items())
        ]
    }


def province_detail(view: StateView, code: str) -> dict[str, Any] | None:
    record = view.provinces.get(code.upper())
    if record is None:
        return None
    body = _province_summary(view, code.upper(), record)
    body["locations"] = [
        _location_summary(loc, rec) for loc, rec in view.locations if loc.province == code.upper()
    ]
    body["alerts"] = [_alert(a) for a in record.alerts.values() if a.firing]
    return body


def national_document(view: StateView) -> dict[str, Any]:
    """The country from the newest figures; ``closed`` is the newest day the national rules
    have judged."""
    totals = view.national_totals()
    record = view.national
    return {
        "asylum": _totals(totals) if totals.date else None,
        "ukrainian": _totals(view.national_totals(asylum=False)) if totals.date else None,
        "shortage": max(0, -totals.free_places) if totals.date else None,
        "closed": record.closed.isoformat() if record and record.closed else None,
        "alerts": [_alert(a) for a in record.alerts.values() if a.firing] if record else [],
    }


def _alert(state: AlertState) -> dict[str, Any]:
    event = dict(state.last_event or {})
    return {**event, "firing_since": state.starts_at}


def firing_states(view: StateView) -> list[AlertState]:
    return [state for state in _all_states(view) if state.firing]


def published_alert(view: StateView, alert_id: str) -> AlertState | None:
    """The alert ``alert_id`` as this worker's state holds it, firing or resolved, once it has
    been published (a state still pending has an id nobody was told); None when it holds none
    (it may be on another worker's partitions: ask the audit trail too)."""
    for state in _all_states(view):
        if state.alert_id == alert_id and state.last_event is not None:
            return state
    return None


def _all_states(view: StateView) -> Iterable[AlertState]:
    for _, location_record in view.locations:
        yield from location_record.alerts.values()
    for province_record in view.provinces.values():
        yield from province_record.alerts.values()
    if view.national is not None:
        yield from view.national.alerts.values()


def filter_refusal(filters: Mapping[str, str]) -> str | None:
    """Why the ``/api/alerts`` filters cannot match anything (a value no alert can have, for a
    400 that says what is allowed), or None. An empty filter is no filter."""
    allowed = {
        "severity": [s.value for s in Severity],
        "rule": list(RULE_IDS),
        "province": sorted(PROVINCE_NAMES),
    }
    for key, values in allowed.items():
        given = filters.get(key, "")
        if given and given.lower() not in {v.lower() for v in values}:
            return f"{key} must be one of {', '.join(values)}; got {given[:100]!r}"
    return None


def active_alerts(view: StateView, filters: Mapping[str, str]) -> dict[str, Any]:
    """Firing alerts, most severe first; ``severity``, ``rule`` and ``province`` filter."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    rows = []
    for state in _all_states(view):
        if not state.firing or state.last_event is None:
            continue
        alert = _alert(state)
        if any(
            filters.get(key) and str(alert.get(key) or "").lower() != filters[key].lower()
            for key in ("severity", "rule", "province")
        ):
            continue
        rows.append(alert)
    rows.sort(key=lambda a: (rank.get(str(a.get("severity")), 9), str(a.get("starts_at"))))
    return {"alerts": rows, "count": len(rows)}
