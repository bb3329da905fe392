"""One alert change routed to its decisions, written once for the worker and the dry run: the
route tree and audiences, then silences, then inhibition by the other firing alerts, then each
chosen route's grouping (:func:`dispatch`). :class:`Firing` keeps the labels of the alerts that
fire, which inhibition matches against, and is updated with every change dispatched.

A SEND decision here still goes through quiet hours and the SMS budget when it is delivered
(:mod:`alerts.dispatch.admit`). Pure: ``now`` is an argument; reads no clock. Must not import
httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

from alerts.dispatch.config import RoutingConfig
from alerts.dispatch.decision import Action, Decision
from alerts.dispatch.matchers import alert_labels, all_match
from alerts.dispatch.route import Route
from alerts.dispatch.silence import Silence
from alerts.model import AlertEvent, AlertStatus

__all__ = ["Firing", "dispatch", "targets"]


class Firing:
    """The labels of every alert firing now, by alert_id: what inhibition rules match their
    sources against. Filled from stored alert events (``events``, or ``load`` called on first use,
    e.g. after a restart when the tables are ready), then kept up to date by :func:`dispatch` with
    every change it routes."""

    __slots__ = ("_labels", "_load")

    def __init__(
        self,
        events: Iterable[AlertEvent] = (),
        *,
        load: Callable[[], Iterable[AlertEvent]] | None = None,
    ) -> None:
        self._labels: dict[str, dict[str, str]] = {}
        self._load = load
        for event in events:
            self.note(event)

    def _loaded(self) -> dict[str, dict[str, str]]:
        if self._load is not None:
            load, self._load = self._load, None
            for event in load():
                self.note(event)
        return self._labels

    def note(self, event: AlertEvent) -> None:
        """Take in one alert change: a firing alert's labels are kept, a resolved one's dropped."""
        labels = self._loaded()
        if event.status is AlertStatus.FIRING:
            labels[event.alert_id] = alert_labels(event)
        else:
            labels.pop(event.alert_id, None)

    def others(self, alert_id: str) -> list[Mapping[str, str]]:
        """The labels of the firing alerts other than ``alert_id``."""
        return [labels for other, labels in self._loaded().items() if other != alert_id]

    def __len__(self) -> int:
        return len(self._loaded())


def dispatch(
    event: AlertEvent,
    config: RoutingConfig,
    now: dt.datetime,
    firing: Firing,
    silences: Iterable[Silence] = (),
) -> list[Decision]:
    """Route one alert change: its decision for every receiver it concerns (in a stable order),
    judged against the other alerts in ``firing`` (inhibition) and the configured silences plus
    ``silences`` (made through the API); then ``firing`` takes the change in."""
    decisions = targets(
        event, config, now, firing=firing.others(event.alert_id), extra_silences=silences
    )
    firing.note(event)
    return decisions


def targets(
    event: AlertEvent,
    config: RoutingConfig,
    now: dt.datetime,
    *,
    firing: Iterable[Mapping[str, str]] = (),
    extra_silences: Iterable[Silence] = (),
) -> list[Decision]:
    """Which receivers ``event`` concerns, and whether a silence or inhibition stops it: decided
    once, where the alert change is made. SEND here still goes through
    :func:`alerts.dispatch.admit.pace`."""
    labels = alert_labels(event)
    chosen: dict[str, Route] = {}
    for name, route in config.route.matches(labels):
        chosen.setdefault(name, route)
    for audience in config.audiences:
        if audience.receiver not in chosen and audience.includes(labels):
            chosen[audience.receiver] = config.route  # an audience groups as the root does
    names = list(chosen)
    if not names:
        return []
    for silence in (*config.silences, *extra_silences):
        if silence.active(now) and all_match(silence.matchers, labels):
            reason = f"silence {silence.silence_id} by {silence.author}: {silence.comment}"
            return [Decision(n, Action.SILENCED, reason) for n in names]
    if event.status is AlertStatus.FIRING:
        others = list(firing)
        for rule in config.inhibit_rules:
            if rule.inhibits(labels, others):
                return [Decision(n, Action.INHIBITED, "inhibited by a firing alert") for n in names]
    return [
        Decision(n, Action.SEND, grouping=chosen[n].timing.grouping(chosen[n].route_id, labels))
        for n in names
    ]
