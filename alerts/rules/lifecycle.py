"""The life of one alert: pending, firing, resolved; revisions; ``for`` and hysteresis.

A rule looks at one subject on one event date and returns a :class:`Finding`: whether the firing
condition holds (``breached``), whether the clear condition holds (``cleared``), or neither (the
band between them, where an alert keeps the state it has). :func:`step` turns the previous
:class:`AlertState` and that finding into the next state and, when something changed that people
must hear about, an :class:`~alerts.model.AlertEvent`.

Counting is in report days: a finding for a date already counted does not count twice.

Pure. Must not import httpx, faust, aiokafka or ``streams``; within ``alerts`` only the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from alerts.frozen import quick_init
from alerts.model import AlertEvent, AlertStatus, Severity, Subject, SubjectKind

__all__ = ["AlertState", "Finding", "alert_id", "event_time", "follow", "step"]

_AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: Firing periods an alert remembers for inhibition in event time.
EPISODES = 4


def alert_id(rule: str, subject: Subject) -> str:
    """Stable fingerprint of a rule and its subject: the same on every replay and every worker."""
    digest = hashlib.sha256(f"{rule}\x1f{subject.kind.value}\x1f{subject.id}".encode())
    return f"{rule}-{subject.id.lower()}-{digest.hexdigest()[:10]}"


def event_time(date: dt.date) -> str:
    """RFC 3339 time of a report date: the morning count, taken as 09:00 in Amsterdam.

    Derived from the report date only, never from a clock, so replays give the same timestamps.
    """
    moment = dt.datetime.combine(date, dt.time(9, 0), tzinfo=_AMSTERDAM)
    return moment.isoformat()


@quick_init
@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule sees at one subject on one event date."""

    rule: str
    subject: Subject
    breached: bool
    cleared: bool
    severity: Severity
    value: float
    threshold: float
    summary: str
    headroom: float | None = None
    province: str | None = None
    municipality_code: str | None = None
    cap_source: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True, slots=True)
class AlertState:
    """Where one alert stands. ``pending`` and ``clearing`` count consecutive report days."""

    alert_id: str
    rule: str
    firing: bool = False
    severity: str | None = None
    revision: int = 0
    starts_at: str | None = None
    pending: int = 0
    clearing: int = 0
    last_date: dt.date | None = None
    #: The last event published for this alert (as on the alerts topic), for the read API.
    last_event: Mapping[str, Any] | None = None
    #: Recent firing periods as (first date, date it resolved or None), oldest first: inhibition
    #: asks whether the alert fired *on a given date*, not whether it fires now.
    episodes: tuple[tuple[dt.date, dt.date | None], ...] = ()

    def firing_on(self, date: dt.date) -> bool:
        return any(start <= date and (end is None or date < end) for start, end in self.episodes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "firing": self.firing,
            "severity": self.severity,
            "revision": self.revision,
            "starts_at": self.starts_at,
            "pending": self.pending,
            "clearing": self.clearing,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "last_event": dict(self.last_event) if self.last_event is not None else None,
            "episodes": [
                [start.isoformat(), end.isoformat() if end else None]
                for start, end in self.episodes
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertState:
        last = data.get("last_date")
        episodes = tuple(
            (dt.date.fromisoformat(start), dt.date.fromisoformat(end) if end else None)
            for start, end in data.get("episodes", ())
        )
        return cls(
            **{
                **data,
                "last_date": dt.date.fromisoformat(last) if last else None,
                "episodes": episodes,
            }
        )


def _event(state: AlertState, finding: Finding, status: AlertStatus, date: dt.date) -> AlertEvent:
    return AlertEvent(
        alert_id=state.alert_id,
        rule=finding.rule,
        status=status,
        severity=Severity(state.severity or finding.severity),
        subject=finding.subject,
        province=finding.province
        if finding.subject.kind is not SubjectKind.PROVINCE
        else finding.subject.id,
        municipality_code=finding.municipality_code,
        value=finding.value,
        threshold=finding.threshold,
        summary=finding.summary,
        starts_at=state.starts_at or event_time(date),
        ends_at=event_time(date) if status is AlertStatus.RESOLVED else None,
        event_date=date,
        revision=state.revision,
        headroom=finding.headroom,
        cap_source=finding.cap_source,
        labels=dict(finding.labels),
    )


def step(
    previous: AlertState | None,
    finding: Finding,
    date: dt.date,
    *,
    for_days: int = 1,
    clear_days: int = 1,
    figure_step: float = 0.0,
) -> tuple[AlertState, AlertEvent | None]:
    """Advance one alert by one finding for event date ``date``.

    ``for_days``: consecutive report days the condition must hold before the alert fires.
    ``clear_days``: consecutive report days the clear condition must hold before it resolves.
    ``figure_step``: while the alert fires, its shown text and value follow the newest report
    once the value has moved by this share of the threshold (:func:`follow`); 0 never.
    """
    state = previous or AlertState(alert_id(finding.rule, finding.subject), finding.rule)
    new_day = state.last_date is None or date > state.last_date
    if state.last_date is not None and date < state.last_date:
        return state, None  # an older date never moves an alert back in time

    if finding.breached:
        if state.firing:
            if finding.severity.value != state.severity:
                state = _next(
                    state,
                    last_date=date,
                    clearing=0,
                    severity=finding.severity.value,
                    revision=state.revision + 1,
                )
                return _remember(state, _event(state, finding, AlertStatus.FIRING, date))
            return follow(
                _next(state, last_date=date, clearing=0), finding, date, figure_step
            ), None
        pending = state.pending + 1 if new_day or state.pending == 0 else state.pending
        if pending < for_days:
            return _next(state, last_date=date, clearing=0, pending=pending), None
        state = _next(
            state,
            last_date=date,
            clearing=0,
            firing=True,
            pending=0,
            severity=finding.severity.value,
            revision=state.revision + 1,
            starts_at=event_time(date),
            episodes=(*state.episodes[-(EPISODES - 1) :], (date, None)),
        )
        return _remember(state, _event(state, finding, AlertStatus.FIRING, date))

    if not state.firing:
        if state.last_date == date and state.pending == 0 and state.clearing == 0:
            return state, None  # the most common case, and nothing to change
        return _next(state, last_date=date, pending=0, clearing=0), None
    if not finding.cleared:
        # In the hysteresis band the alert holds, but it may step down a severity: a province
        # back above zero free places is no longer critical, though not yet clear.
        current = Severity(state.severity) if state.severity else finding.severity
        if finding.severity.rank < current.rank:
            state = _next(
                state,
                last_date=date,
                pending=0,
                clearing=0,
                severity=finding.severity.value,
                revision=state.revision + 1,
            )
            return _remember(state, _event(state, finding, AlertStatus.FIRING, date))
        state = _next(state, last_date=date, pending=0, clearing=0)
        return follow(state, finding, date, figure_step), None
    clearing = state.clearing + 1 if new_day or state.clearing == 0 else state.clearing
    if clearing < clear_days:
        return _next(state, last_date=date, pending=0, clearing=clearing), None
    episodes = state.episodes
    if episodes and episodes[-1][1] is None:
        episodes = (*episodes[:-1], (episodes[-1][0], date))
    state = _next(
        state,
        last_date=date,
        pending=0,
        firing=False,
        clearing=0,
        revision=state.revision + 1,
        episodes=episodes,
    )
    event = _event(state, finding, AlertStatus.RESOLVED, date)
    # A resolved alert keeps its counters and episodes but not its last event: only firing alerts
    # are shown from it, and a province with hundreds of resolved report_missing alerts would
    # otherwise carry all their texts in every write.
    return _next(state, last_date=date, severity=None, starts_at=None, last_event=None), event


def _next(state: AlertState, **changes: Any) -> AlertState:
    """``state`` with ``changes``: :func:`dataclasses.replace` written out for this one class,
    which costs a third of the generic one (this runs for every finding of every report)."""
    get = changes.get
    return AlertState(  # positional, in the order of the fields
        state.alert_id,
        state.rule,
        get("firing", state.firing),
        get("severity", state.severity),
        get("revision", state.revision),
        get("starts_at", state.starts_at),
        get("pending", state.pending),
        get("clearing", state.clearing),
        get("last_date", state.last_date),
        get("last_event", state.last_event),
        get("episodes", state.episodes),
    )


def follow(state: AlertState, finding: Finding, date: dt.date, figure_step: float) -> AlertState:
    """A firing alert whose figure has moved: the text and value it shows (``last_event``) taken
    from ``finding`` when the value differs from the shown one by at least ``figure_step`` times
    the threshold (any change for a threshold of 0), with ``update`` counting these updates.

    Not a state change: nothing is published or routed, so nobody is notified again; ``revision``
    and ``starts_at`` stay those of the last published change. The read API, the status page and
    the CAP feed show the newest figure; a later real change (severity, resolve) is published as
    before.
    """
    shown = state.last_event
    if figure_step <= 0 or not state.firing or shown is None:
        return state
    moved = abs(finding.value - float(shown.get("value", finding.value)))
    if moved == 0 or moved < figure_step * abs(finding.threshold):
        return state
    event = _event(state, finding, AlertStatus.FIRING, date)
    shown_now = {**event.to_dict(), "update": int(shown.get("update", 0)) + 1}
    return _next(state, last_event=shown_now)


def _remember(state: AlertState, event: AlertEvent) -> tuple[AlertState, AlertEvent]:
    return _next(state, last_event=event.to_dict()), event
