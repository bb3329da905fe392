"""The decision path: apply a report, evaluate the rules, advance the alerts.

These functions are what the Faust agents call. They take the stored record and the new input, and
return the record to store plus what must be published. Event time is the report date throughout;
nothing here looks at a clock, so a replay of the same input gives the same output.

**Locations.** Rules that read one report (``REPORT_RULES``) run when the morning count arrives.
Rules that also need the intake history (``FLOW_RULES``) run for day D once both the morning count
of D and the intake of D-1 are in, whichever comes second (at once for a location that sends no
intake). That join makes the outcome independent of the order in which the two topics are read.

**Provinces and the nation.** An aggregate keeps each member's latest few contributions and
*closes* days in order: day D closes when every member that was reporting has a final figure for D,
or when the newest member is ``lateness_days`` past D (a late member then keeps its last known
figures and gets ``report_missing``). Rules run on a closed day only, so they never see a
half-updated picture and do not flap while a day's reports come in.

Pure. Must not import httpx, faust, aiokafka or ``streams``, nor ``alerts.notify``,
``alerts.simulate`` or ``alerts.replay``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from alerts.capacity.location import (
    FLOW_WINDOW,
    HISTORY_DAYS,
    Applied,
    LocationState,
    apply_intake,
    apply_occupancy,
)
from alerts.capacity.penalties import PenaltyTally, accrue
from alerts.capacity.totals import (
    Contribution,
    MemberStatus,
    Totals,
    contribution,
    sum_contributions,
)
from alerts.catalogue import INHIBITIONS
from alerts.config import AlertingConfig
from alerts.frozen import quick_init
from alerts.model import NATIONAL, AlertEvent, IntakeReport, Location, OccupancyReport, Subject
from alerts.rules import aggregate as aggregate_rules
from alerts.rules import location as location_rules
from alerts.rules.lifecycle import AlertState, Finding, step

__all__ = [
    "AggregateOutcome",
    "AggregateRecord",
    "LocationRecord",
    "Outcome",
    "close_days",
    "national_rules",
    "national_shares",
    "on_contribution",
    "on_intake",
    "on_occupancy",
    "province_rules",
    "province_share",
]

#: Contributions kept per member of an aggregate at the most: the open days plus the newest closed
#: one. Bounded so that a member whose days never close (an input that stopped for good) cannot
#: grow a record without end. The bound must stay above how far one input partition can be read
#: ahead of another: when it was 45, a year's replay read one partition more than 45 days ahead,
#: the fast members lost their oldest open days, and those days closed with the members "missing"
#: (four false report_missing alerts). A year and a month of open days is the limit now.
MEMBER_HISTORY: Final = 400

# Durations made once (a timedelta costs half a microsecond to make, on every report's path).
_ONE_DAY: Final = dt.timedelta(days=1)
_HELD_SPAN: Final = dt.timedelta(days=HISTORY_DAYS - 1)


def _advance(
    alerts: dict[str, AlertState],
    key: str,
    finding: Finding | None,
    date: dt.date,
    config: AlertingConfig,
    events: list[AlertEvent],
) -> None:
    """Step one alert (stored under ``key``) with one finding, honouring inhibition. Each
    check below that returns changes nothing, so the most frequent comes first."""
    if finding is None:
        return
    previous = alerts.get(key)
    if previous is None and not finding.breached:
        return  # nothing fires and nothing is pending: no state worth storing
    settings = config.rule(finding.rule)
    if not settings.enabled:
        return
    inhibitor = INHIBITIONS.get(finding.rule)
    if inhibitor is not None:
        other = alerts.get(_key(inhibitor, finding.subject, key))
        if other is not None and other.firing_on(date):
            return
    state, event = step(
        previous,
        finding,
        date,
        for_days=settings.for_days,
        clear_days=settings.clear_days,
        figure_step=config.figure_step,
    )
    alerts[key] = state
    if event is not None:
        events.append(event)


def _key(rule: str, subject: Subject, like: str) -> str:
    """Alert keys are the rule id in a subject's own record, ``rule:id`` where a record holds
    alerts about several subjects (report_missing in a province)."""
    return f"{rule}:{subject.id}" if ":" in like else rule


# ---------------------------------------------------------------- locations


@quick_init
@dataclass(frozen=True, slots=True)
class LocationRecord:
    """What the location table stores per location_id."""

    state: LocationState
    alerts: Mapping[str, AlertState] = field(default_factory=dict)
    penalties: Mapping[str, PenaltyTally] = field(default_factory=dict)
    #: The newest date for which the flow rules have run, and for which the intake of the day
    #: itself has been checked for arrivals left without a bed.
    flows_evaluated: dt.date | None = None
    tonight_evaluated: dt.date | None = None

    @classmethod
    def new(cls, location_id: str) -> LocationRecord:
        return cls(LocationState(location_id))

    def with_state(self, state: LocationState) -> LocationRecord:
        evaluated, tonight = self.flows_evaluated, self.tonight_evaluated
        return LocationRecord(state, self.alerts, self.penalties, evaluated, tonight)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.to_dict(),
            "alerts": {key: a.to_dict() for key, a in self.alerts.items()},
            "penalties": {key: p.to_dict() for key, p in self.penalties.items()},
            "flows_evaluated": self.flows_evaluated.isoformat() if self.flows_evaluated else None,
            "tonight_evaluated": (
                self.tonight_evaluated.isoformat() if self.tonight_evaluated else None
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocationRecord:
        evaluated = data.get("flows_evaluated")
        tonight = data.get("tonight_evaluated")
        return cls(
            LocationState.from_dict(data["state"]),
            {key: AlertState.from_dict(a) for key, a in data.get("alerts", {}).items()},
            {key: PenaltyTally.from_dict(p) for key, p in data.get("penalties", {}).items()},
            dt.date.fromisoformat(evaluated) if evaluated else None,
            dt.date.fromisoformat(tonight) if tonight else None,
        )


@quick_init
@dataclass(frozen=True, slots=True)
class Outcome:
    record: LocationRecord
    applied: Applied
    events: tuple[AlertEvent, ...] = ()
    #: New or changed contributions of this location to its province, one per affected date.
    contributions: tuple[Contribution, ...] = ()


def _catch_up_flows(
    location: Location,
    record: LocationRecord,
    state: LocationState,
    penalties: Mapping[str, PenaltyTally],
    alerts: dict[str, AlertState],
    config: AlertingConfig,
    events: list[AlertEvent],
) -> LocationRecord:
    """``record`` with its new ``state``, ``penalties`` and ``alerts``, after running the flow
    rules for every morning count that has become ready, oldest first.

    Day D is ready when the intake of D-1 is in. A day whose previous intake is missing while a
    later day is ready is passed over: intake reports of one location arrive in date order, so
    that intake is not coming. After day D's forecast, the intake of D itself (arrivals left
    without a bed tonight) can raise ``outside_risk`` for D.
    """
    evaluated, tonight = record.flows_evaluated, record.tonight_evaluated
    if evaluated is not None and tonight != evaluated and state.has_intake(evaluated):
        view = state.as_of(evaluated)
        found = location_rules.outside_risk_tonight(location, view, config)
        _advance(alerts, "outside_risk", found, evaluated, config, events)
        tonight = evaluated
    # The morning counts after ``evaluated`` that can be ready: day D needs the intake of D-1,
    # so none after the day following the newest intake (without intake reports, none at all;
    # the whole history was read per report otherwise). Days are in date order.
    until = state.intake_until()
    pending: list[dt.date] = []
    if until is not None:
        last_ready = until + _ONE_DAY
        pending = [
            d.date
            for d in state.days_after(evaluated)
            if d.occupancy is not None and d.date <= last_ready
        ]
    ready = [state.has_intake(date - _ONE_DAY) for date in pending]
    # Days after the last ready one wait for their intake; a day before it that is not ready is
    # passed over: that intake is not coming, and missing data holds the last known state. (Found
    # in one pass: asking "is a later day ready?" per day was quadratic in the days waiting, which
    # without intake reports is the whole history, per report.)
    last = max((index for index, found in enumerate(ready) if found), default=-1)
    for index, date in enumerate(pending[: last + 1]):
        if not ready[index]:
            continue
        view = state.as_of(date)
        for rule_id, rule in location_rules.FLOW_RULES.items():
            _advance(alerts, rule_id, rule(location, view, config), date, config, events)
        evaluated = date
        if state.has_intake(date):
            found = location_rules.outside_risk_tonight(location, view, config)
            _advance(alerts, "outside_risk", found, date, config, events)
            tonight = date
    # Keep the history the days still waiting for their flow rules will need.
    hold = evaluated - _HELD_SPAN if evaluated is not None else None
    if hold != state.hold_from:
        state = state.held_from(hold)
    return LocationRecord(state, alerts, penalties, evaluated, tonight)


def on_occupancy(
    location: Location,
    record: LocationRecord,
    report: OccupancyReport,
    config: AlertingConfig,
    *,
    intake_pending: bool = False,
) -> Outcome:
    """Apply a morning count. ``intake_pending``: intake reports are on their way but none has
    been read yet (``alerts.watermark.intake_pending``): the share then waits for its flows as
    with ``aggregation.expect_intake``."""
    state, applied = apply_occupancy(record.state, report)
    if applied is not Applied.APPLIED:
        return Outcome(record.with_state(state), applied)
    date = report.date
    penalties = accrue(
        record.penalties,
        config.penalties,
        location_id=location.location_id,
        date=date,
        over_cap=location.cap is not None and state.occupancy > location.cap,
    )
    alerts = dict(record.alerts)
    events: list[AlertEvent] = []
    for rule_id, rule in location_rules.REPORT_RULES.items():
        _advance(alerts, rule_id, rule(location, state, config), date, config, events)
    found = location_rules.penalty_accrued(location, state, config, penalties)
    _advance(alerts, "penalty_accrued", found, date, config, events)
    final = _catch_up_flows(location, record, state, penalties, alerts, config, events)
    share = contribution(location, state, expect_intake=config.expect_intake or intake_pending)
    return Outcome(final, applied, tuple(events), (share,) if share else ())


def on_intake(
    location: Location, record: LocationRecord, report: IntakeReport, config: AlertingConfig
) -> Outcome:
    """Store a day's flow. When it completes the newest day (the intake of the day before the
    newest morning count), the flow rules run for that day and the contribution is final."""
    state, applied = apply_intake(record.state, report)
    if applied is Applied.DUPLICATE:
        return Outcome(record, applied)
    if state.latest_date is None:
        return Outcome(record.with_state(state), applied)
    events: list[AlertEvent] = []
    alerts = dict(record.alerts)
    final = _catch_up_flows(location, record, state, record.penalties, alerts, config, events)
    # The flow figures of every morning count in this intake's window changed (and the day right
    # after it may now be final): send those days again, so a province never closes a day on
    # figures that a late-read intake would have changed.
    window_end = report.date + dt.timedelta(days=FLOW_WINDOW)
    affected = [
        contribution(location, state.as_of(d.date), expect_intake=config.expect_intake)
        for d in state.days_after(report.date)
        if d.date <= window_end and d.occupancy is not None
    ]
    return Outcome(final, applied, tuple(events), tuple(a for a in affected if a is not None))


# ---------------------------------------------------------------- provinces and the nation


@quick_init
@dataclass(frozen=True, slots=True)
class AggregateRecord:
    """A province (members: its locations) or the nation (members: the provinces, and
    ``<code>:ukrainian`` for Ukrainian reception there). Each member keeps its last few
    contributions by date; ``closed`` is the newest day whose rules have run."""

    subject_id: str
    members: Mapping[str, tuple[Contribution, ...]] = field(default_factory=dict)
    closed: dt.date | None = None
    alerts: Mapping[str, AlertState] = field(default_factory=dict)

    def latest(self) -> list[Contribution]:
        return [history[-1] for history in self.members.values() if history]

    def as_of(self, date: dt.date) -> list[Contribution]:
        """Each member's newest contribution dated on or before ``date``."""
        found = []
        for history in self.members.values():
            if history and history[-1].date <= date:
                found.append(history[-1])  # nearly always: the newest is on or before ``date``
                continue
            for item in reversed(history):
                if item.date <= date:
                    found.append(item)
                    break
        return found

    def totals(self, *, asylum: bool = True) -> Totals:
        return sum_contributions(self.latest(), asylum=asylum)

    @property
    def watermark(self) -> dt.date | None:
        """The newest date any member has a final figure for."""
        newest: dt.date | None = None
        for history in self.members.values():
            if not history or (newest is not None and history[-1].date <= newest):
                continue  # nothing newer than what another member has
            # A member's history is in date order: its last final contribution is its newest.
            for item in reversed(history):
                if item.final:
                    if newest is None or item.date > newest:
                        newest = item.date
                    break
        return newest

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "members": {k: [c.to_dict() for c in h] for k, h in self.members.items()},
            "closed": self.closed.isoformat() if self.closed else None,
            "alerts": {key: a.to_dict() for key, a in self.alerts.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregateRecord:
        members = {
            k: tuple(Contribution.from_dict(c) for c in h)
            for k, h in data.get("members", {}).items()
        }
        closed = data.get("closed")
        return cls(
            data["subject_id"],
            members,
            dt.date.fromisoformat(closed) if closed else None,
            {key: AlertState.from_dict(a) for key, a in data.get("alerts", {}).items()},
        )


def on_contribution(record: AggregateRecord, item: Contribution) -> AggregateRecord:
    """Store one member's contribution: it replaces the one of the same date. A member keeps every
    contribution for days not closed yet, and the newest one of the closed days (the figures a
    late member is held at)."""
    if record.closed is not None and item.date <= record.closed:
        kept_closed = [
            c for c in record.members.get(item.location_id, ()) if c.date <= record.closed
        ]
        if kept_closed and kept_closed[-1].date > item.date:
            return record  # a closed day, older than what the member is held at: no use
    known = record.members.get(item.location_id, ())
    if (
        (not known or item.date > known[-1].date)
        and (record.closed is None or _open_after(known, item.date, record.closed))
        and len(known) < MEMBER_HISTORY
    ):
        # The usual case, a day after the member's newest, on a history that holds at most one
        # closed day: what the general way below keeps is that history and the item after it.
        members = {**record.members, item.location_id: (*known, item)}
        return AggregateRecord(record.subject_id, members, record.closed, record.alerts)
    history = [c for c in known if c.date != item.date]
    history.append(item)
    history.sort(key=lambda c: c.date)
    if record.closed is not None:
        closed = [c for c in history if c.date <= record.closed]
        history = closed[-1:] + [c for c in history if c.date > record.closed]
    kept = tuple(history[-MEMBER_HISTORY:])
    members = {**record.members, item.location_id: kept}
    return AggregateRecord(record.subject_id, members, record.closed, record.alerts)


def _open_after(history: tuple[Contribution, ...], date: dt.date, closed: dt.date) -> bool:
    """Whether ``date`` is after the ``closed`` day and ``history`` (in date order) holds at most
    one contribution of a closed day."""
    return date > closed and (len(history) < 2 or history[1].date > closed)


@quick_init
@dataclass(frozen=True, slots=True)
class AggregateOutcome:
    record: AggregateRecord
    events: tuple[AlertEvent, ...]
    #: (date, totals of the asylum reception, totals of the Ukrainian reception) per closed day.
    closed_days: tuple[tuple[dt.date, Totals, Totals], ...]


AggregateRules = Callable[
    [AggregateRecord, dt.date, Totals, AlertingConfig], Iterable[tuple[str, Finding | None]]
]


def _ready(
    record: AggregateRecord,
    date: dt.date,
    lateness: int,
    progress: dt.date | None,
    *,
    closed: dt.date | None,
    watermark: dt.date | None,
) -> bool:
    """Whether ``date`` can close, with the days up to ``closed`` closed. ``progress``: the input
    watermark, the newest date every input partition has got past (None: judge by the members
    alone); ``watermark``: the record's own (:attr:`AggregateRecord.watermark`)."""
    clock = watermark if progress is None else progress
    if clock is None:
        return False
    if (clock - date).days >= lateness:
        # Everyone who was going to report this day in time has: a member without it is late in
        # event time, not merely unread.
        return True
    if closed is None or watermark is None or date > watermark:
        # The very first day: members not heard from yet are unknown, so nobody can say the day
        # is complete. Wait the lateness window instead of judging a partial picture.
        return False
    return _members_final(record, date, lateness)


def _members_final(record: AggregateRecord, date: dt.date, lateness: int) -> bool:
    """Whether each member not silent past the lateness window has a final figure for ``date``."""
    horizon = date - dt.timedelta(days=lateness + 1)
    for history in record.members.values():
        if history[-1].date < horizon:
            continue  # silent for longer than the lateness window: does not hold the day
        for c in reversed(history):  # in date order: read back to ``date``
            if c.date < date:
                return False
            if c.final:
                break
        else:
            return False
    return True


def close_days(
    record: AggregateRecord,
    config: AlertingConfig,
    evaluate: AggregateRules,
    *,
    progress: dt.date | None = None,
    lateness: int | None = None,
) -> AggregateOutcome:
    """Close every day that is ready, in order, running ``evaluate`` for each.

    ``progress`` is the input watermark (see :func:`_ready`); without it the newest member's
    date stands in, which is exact only when every input is read at the same pace.
    """
    late = config.lateness_days if lateness is None else lateness
    if record.closed is not None and progress is not None:
        following = record.closed + _ONE_DAY  # the usual answer of _ready, without the watermark
        if (progress - following).days < late and not _members_final(record, following, late):
            return AggregateOutcome(record, (), ())
    watermark = record.watermark
    known = [d for d in (watermark, progress) if d is not None]
    if not known or not record.members:
        return AggregateOutcome(record, (), ())
    last = max(known)
    if record.closed is None:
        date = min(h[0].date for h in record.members.values() if h)
    else:
        date = record.closed + _ONE_DAY
    alerts = dict(record.alerts)
    events: list[AlertEvent] = []
    closed: list[tuple[dt.date, Totals, Totals]] = []
    closed_date = record.closed
    while date <= last and _ready(
        record, date, late, progress, closed=closed_date, watermark=watermark
    ):
        snapshot = record.as_of(date)
        asylum = sum_contributions(snapshot, asylum=True)
        ukrainian = sum_contributions(snapshot, asylum=False)
        for key, finding in evaluate(record, date, asylum, config):
            _advance(alerts, key, finding, date, config, events)
        closed.append((date, asylum, ukrainian))
        closed_date = date
        date += _ONE_DAY
    if not closed or closed_date is None:
        return AggregateOutcome(record, (), ())  # nearly always so: the record as it was
    members = {key: _prune(history, closed_date) for key, history in record.members.items()}
    return AggregateOutcome(
        AggregateRecord(record.subject_id, members, closed_date, alerts),
        tuple(events),
        tuple(closed),
    )


def _prune(history: tuple[Contribution, ...], closed: dt.date) -> tuple[Contribution, ...]:
    """Drop contributions of closed days but the newest: nothing will read them again. An
    unchanged history is returned as it was (the same object: the edge writes only what
    changed)."""
    done = [c for c in history if c.date <= closed]
    if len(done) <= 1:
        return history
    return tuple(done[-1:] + [c for c in history if c.date > closed])


def province_rules(
    record: AggregateRecord, date: dt.date, totals: Totals, config: AlertingConfig
) -> Iterable[tuple[str, Finding | None]]:
    code = record.subject_id
    yield "region_capacity_low", aggregate_rules.region_capacity_low(code, totals, config)
    yield (
        "breach_forecast",
        aggregate_rules.breach_forecast_aggregate(
            aggregate_rules.province_subject(code), totals, config
        ),
    )
    cycle = config.targets.for_date(date, config.spreiding_cycle)
    yield "spreiding_shortfall", aggregate_rules.spreiding_shortfall(code, totals, cycle)


def province_share(
    record: AggregateRecord, date: dt.date, totals: Totals, *, asylum: bool
) -> Contribution:
    """What a province passes to the nation for a closed day, with its locations' freshness."""
    code = record.subject_id
    members = tuple(
        MemberStatus(c.location_id, c.name, c.municipality_code, c.date)
        for c in sorted(record.as_of(date), key=lambda c: c.location_id)
        if c.active and c.asylum == asylum
    )
    flows = totals.flows
    return Contribution(
        location_id=code if asylum else f"{code}:ukrainian",
        province=code,
        date=date,
        occupancy=totals.occupancy,
        capacity=totals.capacity,
        without_bed=totals.without_bed,
        slept_outside=totals.slept_outside,
        asylum=asylum,
        locations=totals.locations,
        arrivals_7d=flows.arrivals,
        transfers_out_7d=flows.transfers_out,
        departures_7d=flows.departures,
        flow_days=flows.days,
        members=members,
    )


def national_shares(
    record: AggregateRecord, closed_days: Iterable[tuple[dt.date, Totals, Totals]]
) -> list[Contribution]:
    """What a province passes to the nation for the days it just closed (``closed_days`` of
    :func:`close_days`), in order: for each day its asylum share, then its Ukrainian share when it
    has Ukrainian locations."""
    shares = []
    for date, asylum, ukrainian in closed_days:
        for totals, is_asylum in ((asylum, True), (ukrainian, False)):
            if totals.locations == 0 and not is_asylum:
                continue
            shares.append(province_share(record, date, totals, asylum=is_asylum))
    return shares


def national_rules(
    record: AggregateRecord, date: dt.date, totals: Totals, config: AlertingConfig
) -> Iterable[tuple[str, Finding | None]]:
    yield "national_shortage", aggregate_rules.national_shortage(totals, config)
    yield "breach_forecast", aggregate_rules.breach_forecast_aggregate(NATIONAL, totals, config)
    # How fresh every location is. A province that closed this day knows exactly who reported
    # it. One that has not closed it yet is waiting for a late member and says nothing about its
    # locations, unless it has been silent past the lateness window (then all of them are late).
    for province in record.as_of(date):
        behind = (date - province.date).days
        if 0 < behind <= config.lateness_days:
            continue
        for member in province.members:
            found = aggregate_rules.member_missing(member, province.province, date, config)
            yield f"report_missing:{member.location_id}", found
