"""The aggregate rules: a province's or the nation's totals for a closed day, and the freshness of
the locations behind them. Each returns a :class:`~alerts.rules.lifecycle.Finding` or None.

Pure. Must not import httpx, faust, aiokafka or ``streams``, nor ``alerts.dispatch``,
``alerts.delivery.ledger`` or ``alerts.notify``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from functools import partial

from alerts.capacity.totals import Contribution, MemberStatus, Totals
from alerts.config import AlertingConfig, TargetCycle
from alerts.model import NATIONAL, PROVINCE_NAMES, Severity, Subject, SubjectKind
from alerts.render import dagen, nl_date, nl_int, nl_pct, personen
from alerts.rules.lifecycle import Finding
from alerts.rules.location import forecast_finding

__all__ = [
    "breach_forecast_aggregate",
    "member_missing",
    "national_shortage",
    "province_subject",
    "region_capacity_low",
    "report_missing",
    "spreiding_shortfall",
]


def _aggregate(
    rule: str,
    subject: Subject,
    *,
    breached: bool,
    cleared: bool,
    severity: Severity,
    value: float,
    threshold: float,
    summary: str,
    headroom: float | None = None,
) -> Finding:
    province = subject.id if subject.kind is SubjectKind.PROVINCE else None
    # Positional, in the order of Finding's fields (see alerts.rules.location._finding).
    return Finding(
        rule, subject, breached, cleared, severity, value, threshold, summary, headroom, province
    )


def province_subject(code: str) -> Subject:
    return Subject(SubjectKind.PROVINCE, code)


def region_capacity_low(code: str, totals: Totals, config: AlertingConfig) -> Finding | None:
    """A province's free places under 2 % of its capacity (warning) or below zero (critical)."""
    params = config.rule("region_capacity_low").params
    if totals.capacity < params["min_places"]:
        return None
    name = f"Provincie {PROVINCE_NAMES.get(code, code)}"
    free, capacity = totals.free_places, totals.capacity
    breached = free < params["warning_ratio"] * capacity
    critical = free < 0
    cleared = free >= params["clear_ratio"] * capacity
    if critical:
        summary = (
            f"{name}: {nl_int(-free)} opvangplaatsen tekort ({personen(totals.occupancy)}, "
            f"{nl_int(capacity)} plaatsen)"
        )
    elif not cleared:
        share = nl_pct(free / capacity)
        summary = f"{name}: nog {nl_int(free)} vrije plaatsen ({share} van {nl_int(capacity)})"
    else:
        summary = f"{name}: weer {nl_int(free)} vrije plaatsen ({nl_pct(free / capacity)})"
    return _aggregate(
        "region_capacity_low",
        province_subject(code),
        breached=breached,
        cleared=cleared,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        value=free,
        threshold=0 if critical else params["warning_ratio"] * capacity,
        headroom=free,
        summary=summary,
    )


def breach_forecast_aggregate(
    subject: Subject, totals: Totals, config: AlertingConfig
) -> Finding | None:
    name = (
        "Nederland"
        if subject.kind is SubjectKind.NATIONAL
        else f"Provincie {PROVINCE_NAMES.get(subject.id, subject.id)}"
    )
    return forecast_finding(
        name,
        totals.free_places,
        totals.capacity,
        totals.flows.net_inflow_per_day,
        config,
        partial(_aggregate, "breach_forecast", subject),
    )


def spreiding_shortfall(code: str, totals: Totals, cycle: TargetCycle | None) -> Finding | None:
    """Realised asylum places in a province below its Spreidingswet target. Informational."""
    if cycle is None or code not in cycle.targets:
        return None
    target = cycle.targets[code]
    realised = totals.capacity
    name = f"Provincie {PROVINCE_NAMES.get(code, code)}"
    short = realised < target
    summary = (
        f"{name}: {nl_int(realised)} plaatsen, {nl_int(target - realised)} onder het "
        f"Spreidingswet-doel van {nl_int(target)}"
        if short
        else f"{name}: Spreidingswet-doel van {nl_int(target)} gehaald "
        f"({nl_int(realised)} plaatsen)"
    )
    finding = _aggregate(
        "spreiding_shortfall",
        province_subject(code),
        breached=short,
        cleared=not short,
        severity=Severity.INFO,
        value=realised,
        threshold=target,
        headroom=realised - target,
        summary=summary,
    )
    return replace(finding, labels={"target_cycle": cycle.name})


def national_shortage(totals: Totals, config: AlertingConfig) -> Finding | None:
    """National free places below zero; the value is the number of places short."""
    if totals.capacity <= 0:
        return None
    free = totals.free_places
    summary = (
        f"Nederland: {nl_int(-free)} opvangplaatsen tekort ({personen(totals.occupancy)}, "
        f"{nl_int(totals.capacity)} plaatsen)"
        if free < 0
        else f"Nederland: geen tekort meer, {nl_int(free)} plaatsen vrij"
    )
    return _aggregate(
        "national_shortage",
        NATIONAL,
        breached=free < 0,
        cleared=free >= 0,
        severity=Severity.CRITICAL,
        value=max(0, -free),
        threshold=0,
        headroom=free,
        summary=summary,
    )


def report_missing(member: Contribution, date: dt.date, config: AlertingConfig) -> Finding:
    """A location without a morning count for ``date`` while the others reported it: one day late
    is a warning, two days critical. Missing data keeps the last known figures."""
    return _missing(
        member.location_id,
        member.name,
        member.province,
        member.municipality_code,
        member.date,
        date,
        config,
    )


def member_missing(
    member: MemberStatus, province: str, date: dt.date, config: AlertingConfig
) -> Finding:
    """:func:`report_missing` of one location a province lists in its share to the nation (the
    national rules ask it of every location every day: no Contribution is made for it)."""
    return _missing(
        member.location_id,
        member.name,
        province,
        member.municipality_code,
        member.date,
        date,
        config,
    )


def _missing(
    location_id: str,
    name: str,
    province: str,
    municipality_code: str | None,
    seen: dt.date,
    date: dt.date,
    config: AlertingConfig,
) -> Finding:
    params = config.rule("report_missing").params
    late = (date - seen).days
    name = name or location_id
    summary = (
        f"{name}: geen bezettingscijfer sinds {nl_date(seen)} ({dagen(late)} te laat)"
        if late >= params["warning_days"]
        else f"{name}: bezettingscijfers komen weer binnen"
    )
    critical = late >= params["critical_days"]
    # Positional, in the order of Finding's fields (see alerts.rules.location._finding).
    return Finding(
        "report_missing",
        Subject(SubjectKind.LOCATION, location_id),
        late >= params["warning_days"],  # breached
        late <= 0,  # cleared
        Severity.CRITICAL if critical else Severity.WARNING,
        late,
        params["critical_days"] if critical else params["warning_days"],
        summary,
        None,  # headroom
        province,
        municipality_code,
    )
