"""The read API: JSON documents built from a :class:`~streams.metrics.StateView`.

Plain functions from the worker's state to dicts, so the documents are tested without a web
server; ``streams.worker.app`` registers them as Faust web views.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from alerts.capacity.totals import Totals, contribution
from alerts.catalogue import CATALOGUE, RULE_IDS, rule_name
from alerts.engine import AggregateRecord, LocationRecord
from alerts.model import PROVINCE_NAMES, AlertEvent, Location, Severity
from alerts.rules import supersede
from alerts.rules.lifecycle import AlertState
from streams.metrics import StateView

__all__ = [
    "active_alerts",
    "cap_feed_events",
    "coverage",
    "firing_states",
    "health_document",
    "location_detail",
    "locations_list",
    "national_document",
    "province_detail",
    "provinces_list",
    "published_alert",
]


#: ``/health`` status while the worker runs but knows no location: it is alive and takes reports
#: once ``opvangwacht load-locations`` has run, but it has nothing to judge or show yet.
NO_LOCATIONS = "no_locations"


def health_document(
    *, ready: bool, recovering: bool, remaining: int, locations: int, topic_prefix: str
) -> tuple[dict[str, Any], int]:
    """``/health``: the body and the status code. While the worker reads its state back from the
    changelogs it says so, with how many changelog messages are left, instead of looking dead;
    while it knows no location at all it answers 503 ``no_locations`` with what to do (alive,
    not ready: docs/operations.md)."""
    if recovering:
        status, code = "recovering", 503
    elif ready and locations == 0:
        status, code = NO_LOCATIONS, 503
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
    if status == NO_LOCATIONS:
        body["hint"] = "no locations loaded: run opvangwacht load-locations"
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
        "reported": record.state.latest_date is not None,
        "history": _history(record) if location.kind == "registration_centre" else None,
    }


def _history(record: LocationRecord) -> list[dict[str, Any]]:
    """The morning counts of the last :data:`DETAIL_DAYS` report days (for a sparkline)."""
    latest = record.state.latest_date
    if latest is None:
        return []
    start = latest - dt.timedelta(days=DETAIL_DAYS - 1)
    return [
        {"date": d.date.isoformat(), "occupancy": d.occupancy, "capacity": d.capacity}
        for d in record.state.days
        if d.date >= start and d.occupancy is not None
    ]


def _rows(view: StateView, known: Iterable[Location]) -> list[dict[str, Any]]:
    """Every location: those with figures, and the loaded ones that never reported
    (``reported`` false, figures None)."""
    rows = {loc.location_id: _location_summary(loc, rec) for loc, rec in view.locations}
    for location in known:
        if location.location_id not in rows:
            empty = LocationRecord.new(location.location_id)
            rows[location.location_id] = _location_summary(location, empty)
    return sorted(rows.values(), key=lambda r: str(r["location_id"]))


def locations_list(view: StateView, known: Iterable[Location] = ()) -> dict[str, Any]:
    """Every location with its newest figures; ``known`` (the loaded locations) adds those that
    never reported, marked ``reported: false``."""
    return {"locations": _rows(view, known)}


def coverage(rows: Iterable[Mapping[str, Any]], date: str | None) -> dict[str, Any]:
    """How many of the active locations in ``rows`` reported for ``date`` (the day a level
    shows), and which did not, with the date of their newest count (None: never)."""
    active = [r for r in rows if r.get("active", True)]
    missing = [
        {"location_id": r["location_id"], "name": r["name"], "date": r.get("date")}
        for r in active
        if date is None or r.get("date") is None or str(r["date"]) < date
    ]
    return {
        "date": date,
        "reported": len(active) - len(missing),
        "expected": len(active),
        "missing": missing,
    }


def national_history(view: StateView) -> list[dict[str, Any]]:
    """The country's asylum occupancy and capacity on each of the last :data:`DETAIL_DAYS` days
    up to the newest count, each location counted with its newest count on or before the day."""
    asylum = [(loc, rec) for loc, rec in view.locations if loc.is_asylum and loc.active]
    latest = max((r.state.latest_date for _, r in asylum if r.state.latest_date), default=None)
    if latest is None:
        return []
    out = []
    for back in range(DETAIL_DAYS - 1, -1, -1):
        day = latest - dt.timedelta(days=back)
        occupancy = capacity = 0
        for location, record in asylum:
            counts = [d for d in record.state.days if d.date <= day and d.occupancy is not None]
            if counts:
                occupancy += counts[-1].occupancy or 0
                capacity += counts[-1].capacity or location.capacity
        if capacity:
            out.append({"date": day.isoformat(), "occupancy": occupancy, "capacity": capacity})
    return out


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


def _province_summary(
    view: StateView,
    code: str,
    record: AggregateRecord,
    rows: Iterable[Mapping[str, Any]] = (),
    shown: dt.date | None = None,
) -> dict[str, Any]:
    """One province; ``coverage`` counts its locations that reported for ``shown``, the day the
    page shows (the newest count in the country), or else the province's own newest day."""
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
        "coverage": coverage(
            [r for r in rows if r["province"] == code and r["kind"] != "ukrainian"],
            day.isoformat() if (day := shown or totals.date) else None,
        ),
    }


def provinces_list(view: StateView, known: Iterable[Location] = ()) -> dict[str, Any]:
    rows = _rows(view, known)
    shown = view.national_totals().date
    return {
        "provinces": [
            _province_summary(view, code, record, rows, shown)
            for code, record in sorted(view.provinces.items())
        ]
    }


def province_detail(view: StateView, code: str) -> dict[str, Any] | None:
    record = view.provinces.get(code.upper())
    if record is None:
        return None
    shown = view.national_totals().date
    body = _province_summary(view, code.upper(), record, _rows(view, ()), shown)
    body["locations"] = [
        _location_summary(loc, rec) for loc, rec in view.locations if loc.province == code.upper()
    ]
    body["alerts"] = [_alert(a) for a in record.alerts.values() if a.firing]
    return body


def national_document(view: StateView, known: Iterable[Location] = ()) -> dict[str, Any]:
    """The country from the newest figures; ``closed`` is the newest day the national rules
    have judged; ``coverage`` how many asylum locations (of those loaded, ``known``) reported
    for the day shown; ``history`` the last days for a sparkline."""
    totals = view.national_totals()
    record = view.national
    rows = [r for r in _rows(view, known) if r["kind"] != "ukrainian"]
    return {
        "coverage": coverage(rows, totals.date.isoformat() if totals.date else None),
        "history": national_history(view),
        "asylum": _totals(totals) if totals.date else None,
        "ukrainian": _totals(view.national_totals(asylum=False)) if totals.date else None,
        "shortage": max(0, -totals.free_places) if totals.date else None,
        "closed": record.closed.isoformat() if record and record.closed else None,
        "alerts": [_alert(a) for a in record.alerts.values() if a.firing] if record else [],
    }


def _alert(state: AlertState) -> dict[str, Any]:
    event = dict(state.last_event or {})
    return {**event, "rule_name": rule_name(state.rule), "firing_since": state.starts_at}


def firing_states(view: StateView) -> list[AlertState]:
    return [state for state in _all_states(view) if state.firing]


def cap_feed_events(view: StateView) -> tuple[list[AlertEvent], dict[str, list[AlertEvent]]]:
    """The firing alerts' newest changes for the CAP feed, folded as the page and
    ``/api/alerts`` fold them (:func:`alerts.rules.supersede.fold`): the alerts listed, and per
    listed alert id the ones it supersedes (for :func:`alerts.formats.oasis_cap.atom_feed`)."""
    events = [
        AlertEvent.from_dict(dict(state.last_event))
        for state in firing_states(view)
        if state.last_event is not None
    ]
    by_id = {event.alert_id: event for event in events}
    rows = supersede.fold([event.to_dict() for event in events])
    listed = [by_id[str(row["alert_id"])] for row in rows]
    under = {
        str(row["alert_id"]): [by_id[str(other["alert_id"])] for other in row["superseded"]]
        for row in rows
        if row.get("superseded")
    }
    return listed, under


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
    """Firing alerts, most severe first; ``severity``, ``rule`` and ``province`` filter. An alert
    that a more severe one about the same subject supersedes is not listed by itself but under
    that one's ``superseded`` (:func:`alerts.rules.supersede.fold`), unless ``rule`` asks for
    one rule. ``rules`` gives every rule id's Dutch name."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    rows = []
    firing = [_alert(s) for s in _all_states(view) if s.firing and s.last_event is not None]
    # Asked for one rule by name, the caller gets its alerts, superseded or not.
    for alert in firing if filters.get("rule") else supersede.fold(firing):
        if any(
            filters.get(key) and str(alert.get(key) or "").lower() != filters[key].lower()
            for key in ("severity", "rule", "province")
        ):
            continue
        rows.append(alert)
    # The alert id last: alerts with the same severity and start come in one order on every
    # worker and after every restart (they followed the order the tables were recovered in).
    rows.sort(
        key=lambda a: (
            rank.get(str(a.get("severity")), 9),
            str(a.get("starts_at")),
            str(a.get("alert_id")),
        )
    )
    names = {rule: info.name for rule, info in CATALOGUE.items()}
    return {"alerts": rows, "count": len(rows), "rules": names}
