"""The location rules. Each looks at one location on one event date and returns a
:class:`~alerts.rules.lifecycle.Finding`, or None when it has nothing to say (no cap, no flow
data, a location too small for a percentage rule). Thresholds come from the config
(``alerts.config``). They read one report (``REPORT_RULES``) or a report plus the intake history
(``FLOW_RULES``).

Pure. Must not import httpx, faust, aiokafka or ``streams``, nor ``alerts.dispatch``,
``alerts.delivery.ledger`` or ``alerts.notify``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import partial

from alerts.capacity.location import LocationState, days_until_full, expected_next_day
from alerts.capacity.penalties import PenaltyTally
from alerts.config import AlertingConfig
from alerts.model import Location, Severity
from alerts.render import dagen, nachten, nl_date, nl_euro, nl_int, nl_pct, personen, plaatsen
from alerts.rules.lifecycle import Finding

__all__ = [
    "FLOW_RULES",
    "REPORT_RULES",
    "LocationRule",
    "breach_forecast",
    "cap_exceeded",
    "cap_near",
    "forecast_finding",
    "implausible_report",
    "outside_risk",
    "outside_risk_tonight",
    "penalty_accrued",
    "slept_outside",
    "without_bed",
]

LocationRule = Callable[[Location, LocationState, AlertingConfig], Finding | None]


def _finding(
    rule: str,
    location: Location,
    *,
    breached: bool,
    cleared: bool,
    severity: Severity,
    value: float,
    threshold: float,
    summary: str,
    headroom: float | None = None,
) -> Finding:
    # Positional, in the order of Finding's fields: a rule makes one on nearly every report,
    # and a call by keyword costs half as much again as the frozen dataclass's own __init__.
    return Finding(
        rule,
        location.subject,
        breached,
        cleared,
        severity,
        value,
        threshold,
        summary,
        headroom,
        location.province,
        location.municipality_code,
        location.cap_source,
    )


# ---------------------------------------------------------------- one report


def cap_exceeded(
    location: Location, state: LocationState, config: AlertingConfig
) -> Finding | None:
    """Occupancy above the agreed or legal maximum (Ter Apel: 2,000). Clears at or below it."""
    if location.cap is None or state.latest_date is None:
        return None
    occupancy, cap = state.occupancy, location.cap
    breached = occupancy > cap
    summary = (
        f"{location.name}: {personen(occupancy)}, {nl_int(occupancy - cap)} boven de "
        f"afgesproken grens van {nl_int(cap)}"
        if breached
        else f"{location.name}: weer binnen de grens, {personen(occupancy)} (grens {nl_int(cap)})"
    )
    return _finding(
        "cap_exceeded",
        location,
        breached=breached,
        cleared=occupancy <= cap,
        severity=Severity.CRITICAL,
        value=occupancy,
        threshold=cap,
        headroom=cap - occupancy,
        summary=summary,
    )


def cap_near(location: Location, state: LocationState, config: AlertingConfig) -> Finding | None:
    """Occupancy at or above 95 % of the cap (of the capacity where there is no cap)."""
    if state.latest_date is None:
        return None
    params = config.rule("cap_near").params
    limit = location.cap if location.cap is not None else state.capacity(location)
    if limit < params["min_places"]:
        return None
    occupancy = state.occupancy
    ratio = occupancy / limit
    word = "grens" if location.cap is not None else "capaciteit"
    breached = ratio >= params["ratio"]
    summary = (
        f"{location.name}: {personen(occupancy)}, {nl_pct(ratio)} van de {word} van "
        f"{nl_int(limit)}; nog {plaatsen(max(0, limit - occupancy))}"
        if breached
        else f"{location.name}: weer onder {nl_pct(params['clear_ratio'])} van de {word} "
        f"({nl_int(occupancy)} van {nl_int(limit)})"
    )
    return _finding(
        "cap_near",
        location,
        breached=breached,
        cleared=ratio < params["clear_ratio"],
        severity=Severity.WARNING,
        value=occupancy,
        threshold=params["ratio"] * limit,
        headroom=limit - occupancy,
        summary=summary,
    )


def slept_outside(
    location: Location, state: LocationState, config: AlertingConfig
) -> Finding | None:
    """Anyone who slept outdoors at or near the location. Resolves after an explicit all-clear
    (``clear_for`` reports in a row with zero; two by default)."""
    if state.latest_date is None:
        return None
    count = state.slept_outside
    summary = (
        f"{location.name}: {personen(count)} {'sliep' if count == 1 else 'sliepen'} buiten, "
        "nacht voor "
        f"{nl_date(state.latest_date)}"
        if count > 0
        else f"{location.name}: niemand meer buiten geslapen (t/m {nl_date(state.latest_date)})"
    )
    return _finding(
        "slept_outside",
        location,
        breached=count > 0,
        cleared=count == 0,
        severity=Severity.CRITICAL,
        value=count,
        threshold=0,
        summary=summary,
    )


def without_bed(location: Location, state: LocationState, config: AlertingConfig) -> Finding | None:
    """People inside without a regular bed: chairs, a sports hall, tents."""
    if state.latest_date is None:
        return None
    count = state.without_bed
    summary = (
        f"{location.name}: {personen(count)} zonder bed (stoel, sporthal of tent)"
        if count > 0
        else f"{location.name}: iedereen heeft weer een bed"
    )
    return _finding(
        "without_bed",
        location,
        breached=count > 0,
        cleared=count == 0,
        severity=Severity.WARNING,
        value=count,
        threshold=0,
        summary=summary,
    )


def implausible_report(
    location: Location, state: LocationState, config: AlertingConfig
) -> Finding | None:
    """A count that is probably a typo: over 1.5 x capacity, or a jump of more than half in a day
    at a location of more than 50 places. Informational: the report is still used."""
    date = state.latest_date
    if date is None:
        return None
    params = config.rule("implausible_report").params
    capacity = state.capacity(location)
    occupancy = state.occupancy
    previous = state.occupancy_before(date)
    too_many = capacity > 0 and occupancy > params["max_ratio"] * capacity
    jump = (
        capacity > params["min_places"]
        and previous is not None
        and previous > 0
        and abs(occupancy - previous) / previous > params["max_change"]
    )
    if too_many:
        summary = (
            f"{location.name}: cijfer van {nl_date(date)} lijkt onjuist: "
            f"{personen(occupancy)} bij {nl_int(capacity)} plaatsen"
        )
    elif jump:
        summary = (
            f"{location.name}: cijfer van {nl_date(date)} lijkt onjuist: van "
            f"{nl_int(previous or 0)} naar {personen(occupancy)} in 1 dag"
        )
    else:
        summary = f"{location.name}: cijfers weer plausibel ({nl_date(date)})"
    return _finding(
        "implausible_report",
        location,
        breached=too_many or jump,
        cleared=not (too_many or jump),
        severity=Severity.INFO,
        value=occupancy,
        threshold=params["max_ratio"] * capacity if too_many or not jump else previous or 0,
        summary=summary,
    )


def penalty_accrued(
    location: Location,
    state: LocationState,
    config: AlertingConfig,
    tallies: Mapping[str, PenaltyTally],
) -> Finding | None:
    """The fine counter of the scheme in force: info at 80 % of its maximum, warning at 100 %."""
    date = state.latest_date
    if date is None:
        return None
    schemes = [
        s
        for s in config.penalties
        if s.location_id == location.location_id and s.first_night <= date
    ]
    if not schemes:
        return None
    scheme = max(schemes, key=lambda s: s.first_night)
    tally = tallies.get(scheme.name, PenaltyTally(scheme.name))
    ratio = tally.accrued / scheme.maximum if scheme.maximum else 0.0
    info_ratio = config.rule("penalty_accrued").params["info_ratio"]
    reached = tally.accrued >= scheme.maximum
    if reached:
        summary = (
            f"{location.name}: maximale dwangsom van {nl_euro(scheme.maximum)} bereikt "
            f"({nachten(tally.nights)} boven de grens)"
        )
    else:
        summary = (
            f"{location.name}: dwangsom {nl_euro(tally.accrued)} van max. "
            f"{nl_euro(scheme.maximum)} ({nachten(tally.nights)} boven de grens)"
        )
    return _finding(
        "penalty_accrued",
        location,
        breached=ratio >= info_ratio,
        cleared=ratio < info_ratio,
        severity=Severity.WARNING if reached else Severity.INFO,
        value=tally.accrued,
        threshold=scheme.maximum if reached else info_ratio * scheme.maximum,
        headroom=scheme.maximum - tally.accrued,
        summary=summary,
    )


# ---------------------------------------------------------------- a report plus intake history


def outside_risk(
    location: Location, state: LocationState, config: AlertingConfig
) -> Finding | None:
    """At a registration centre: today's expected arrivals exceed the free places plus today's
    expected transfers out, or yesterday ended with arrivals that had no bed (``unplaced``).

    Expected figures: the same weekday over the last four weeks, else the mean of the last seven
    reported days.
    """
    date = state.latest_date
    if location.kind != "registration_centre" or date is None:
        return None
    arrivals = expected_next_day(state.days, date, "arrivals")
    transfers = expected_next_day(state.days, date, "transfers_out") or 0.0
    yesterday = state.day(date - dt.timedelta(days=1))
    unplaced = yesterday.unplaced if yesterday and yesterday.intake_event else 0
    if arrivals is None and not unplaced:
        return None
    free = state.free_places(location)
    room = max(0, free) + transfers
    too_many = arrivals is not None and arrivals > room
    if unplaced > 0:
        summary = (
            f"{location.name}: {personen(unplaced)} zonder bed aan het eind van "
            f"{nl_date(date - dt.timedelta(days=1))}; risico op buiten slapen"
        )
    elif too_many:
        summary = (
            f"{location.name}: ~{nl_int(arrivals or 0)} aankomsten verwacht, "
            f"{nl_int(max(0, free))} vrij en ~{nl_int(transfers)} doorplaatsingen: "
            "risico op buiten slapen"
        )
    else:
        summary = f"{location.name}: geen acuut risico meer op buiten slapen"
    breached = too_many or unplaced > 0
    return _finding(
        "outside_risk",
        location,
        breached=breached,
        cleared=not breached,
        severity=Severity.CRITICAL,
        value=unplaced if unplaced > 0 and not too_many else (arrivals or 0.0),
        threshold=0 if unplaced > 0 and not too_many else room,
        headroom=room - (arrivals or 0.0),
        summary=summary,
    )


def forecast_finding(
    name: str,
    free: int,
    capacity: int,
    per_day: float | None,
    config: AlertingConfig,
    build: Callable[..., Finding],
) -> Finding | None:
    """The breach_forecast finding for any subject; ``build`` makes it about that subject."""
    params = config.rule("breach_forecast").params
    if capacity < params["min_places"] or per_day is None:
        return None
    remaining = days_until_full(free, per_day)
    breached = remaining is not None and remaining <= params["warning_days"]
    critical = remaining is not None and remaining <= params["critical_days"]
    # Full and no longer filling is not "clear": hold until there are free places again, so a full,
    # flat place does not flip between firing and resolved with every small change in flow.
    cleared = free > 0 and (remaining is None or remaining > params["clear_days"])
    if cleared:
        summary = f"{name}: geen volloop verwacht binnen {dagen(params['clear_days'])}"
    elif remaining is None:
        summary = f"{name}: vol; er komen netto niet meer mensen bij"
    elif remaining <= 0:
        summary = f"{name}: vol, en er komen netto {nl_int(per_day)} per dag bij"
    else:
        summary = (
            f"{name}: vol over ~{dagen(max(1, remaining))} ({nl_int(free)} vrij, "
            f"netto +{nl_int(per_day)} per dag)"
        )
    return build(
        breached=breached,
        cleared=cleared,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        value=remaining if remaining is not None else -1.0,
        threshold=params["critical_days"] if critical else params["warning_days"],
        summary=summary,
    )


def breach_forecast(
    location: Location, state: LocationState, config: AlertingConfig
) -> Finding | None:
    """Days until full (free places / net daily inflow over 7 days) at most 7 (warning) or 2
    (critical); clears when not filling or more than 10 days away."""
    date = state.latest_date
    if date is None:
        return None
    flows = state.flows(date)
    return forecast_finding(
        location.name,
        state.free_places(location),
        state.capacity(location),
        flows.net_inflow_per_day,
        config,
        partial(_finding, "breach_forecast", location),
    )


def outside_risk_tonight(
    location: Location, state: LocationState, config: AlertingConfig
) -> Finding | None:
    """The second half of ``outside_risk``: the intake report of the newest day says arrivals were
    left without a bed at the end of it. Can only raise the alert (the morning count decides when
    it clears), so it never undoes what the forecast found for the same day."""
    date = state.latest_date
    if location.kind != "registration_centre" or date is None:
        return None
    today = state.day(date)
    if today is None or today.intake_event is None or today.unplaced <= 0:
        return None
    free = state.free_places(location)
    return _finding(
        "outside_risk",
        location,
        breached=True,
        cleared=False,
        severity=Severity.CRITICAL,
        value=today.unplaced,
        threshold=0,
        headroom=-today.unplaced,
        summary=(
            f"{location.name}: {personen(today.unplaced)} zonder bed aan het eind van "
            f"{nl_date(date)} ({nl_int(max(0, free))} vrij); risico op buiten slapen"
        ),
    )


REPORT_RULES: Mapping[str, LocationRule] = {
    "cap_exceeded": cap_exceeded,
    "cap_near": cap_near,
    "slept_outside": slept_outside,
    "without_bed": without_bed,
    "implausible_report": implausible_report,
}

FLOW_RULES: Mapping[str, LocationRule] = {
    "outside_risk": outside_risk,
    "breach_forecast": breach_forecast,
}
