"""The decision path for one report: apply it, evaluate the rules, advance the alerts.

These functions are what the Faust agents call. They take the location, the stored record and the
report, and return an :class:`Outcome`: the record to store, what happened to the report, the alert
events to publish, and the location's new contribution to its province (only when its current
figures changed). Event time is the report date; nothing here looks at a clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerts import rules
from alerts.capacity import (
    Applied,
    Contribution,
    LocationState,
    Totals,
    apply_intake,
    apply_occupancy,
    contribution,
    sum_contributions,
)
from alerts.config import AlertingConfig, RuleSettings
from alerts.lifecycle import AlertState, Finding, step
from alerts.model import AlertEvent, IntakeReport, Location, OccupancyReport

__all__ = [
    "LOCATION_RULES",
    "AggregateRecord",
    "LocationRecord",
    "Outcome",
    "on_contribution",
    "on_intake",
    "on_occupancy",
]

LocationRule = Callable[[Location, LocationState, RuleSettings], Finding | None]

#: Location rules in evaluation order.
LOCATION_RULES: Mapping[str, LocationRule] = {
    "cap_exceeded": rules.cap_exceeded,
}


@dataclass(frozen=True, slots=True)
class LocationRecord:
    """What the location table stores per location_id."""

    state: LocationState
    alerts: Mapping[str, AlertState] = field(default_factory=dict)

    @classmethod
    def new(cls, location_id: str) -> LocationRecord:
        return cls(LocationState(location_id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.to_dict(),
            "alerts": {rule: a.to_dict() for rule, a in self.alerts.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocationRecord:
        return cls(
            LocationState.from_dict(data["state"]),
            {rule: AlertState.from_dict(a) for rule, a in data.get("alerts", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    record: LocationRecord
    applied: Applied
    events: tuple[AlertEvent, ...] = ()
    contribution: Contribution | None = None


def _evaluate(
    location: Location, record: LocationRecord, date: dt.date, config: AlertingConfig
) -> tuple[dict[str, AlertState], list[AlertEvent]]:
    alerts = dict(record.alerts)
    events: list[AlertEvent] = []
    for rule_id, rule in LOCATION_RULES.items():
        settings = config.rule(rule_id)
        if not settings.enabled:
            continue
        finding = rule(location, record.state, settings)
        if finding is None:
            continue
        new_state, event = step(
            alerts.get(rule_id),
            finding,
            date,
            for_days=settings.for_days,
            clear_days=settings.clear_days,
        )
        alerts[rule_id] = new_state
        if event is not None:
            events.append(event)
    return alerts, events


def on_occupancy(
    location: Location, record: LocationRecord, report: OccupancyReport, config: AlertingConfig
) -> Outcome:
    state, applied = apply_occupancy(record.state, report)
    if applied is not Applied.APPLIED:
        return Outcome(LocationRecord(state, record.alerts), applied)
    updated = LocationRecord(state, record.alerts)
    alerts, events = _evaluate(location, updated, report.date, config)
    return Outcome(
        LocationRecord(state, alerts), applied, tuple(events), contribution(location, state)
    )


def on_intake(
    location: Location, record: LocationRecord, report: IntakeReport, config: AlertingConfig
) -> Outcome:
    state, applied = apply_intake(record.state, report)
    return Outcome(LocationRecord(state, record.alerts), applied)


@dataclass(frozen=True, slots=True)
class AggregateRecord:
    """An aggregate's members and their latest contributions.

    A province holds its locations (member id = location_id); the nation holds its provinces
    (member id = province code, and ``<code>:ukrainian`` for the Ukrainian reception there).
    """

    subject_id: str
    members: Mapping[str, Contribution] = field(default_factory=dict)

    def totals(self, *, asylum: bool = True) -> Totals:
        return sum_contributions(self.members.values(), asylum=asylum)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "members": {k: c.to_dict() for k, c in self.members.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregateRecord:
        members = {k: Contribution.from_dict(c) for k, c in data.get("members", {}).items()}
        return cls(data["subject_id"], members)


def on_contribution(record: AggregateRecord, item: Contribution) -> AggregateRecord:
    """Replace one member's contribution, unless what is stored is newer."""
    current = record.members.get(item.location_id)
    if current is not None and current.date > item.date:
        return record
    return AggregateRecord(record.subject_id, {**record.members, item.location_id: item})
