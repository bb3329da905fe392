"""Escalation decisions, with the time handed in."""

from __future__ import annotations

import datetime as dt

import pytest
from builders import an_alert

from alerts.delivery.escalation import (
    EscalationPolicy,
    Watch,
    acknowledge,
    due,
    parse_escalation,
    watch,
)
from alerts.errors import ConfigError
from alerts.model import AlertEvent, AlertStatus, Severity

T0 = dt.datetime(2024, 6, 1, 3, 0, tzinfo=dt.UTC)
POLICY = EscalationPolicy(dt.timedelta(minutes=15), ("ministerie", "dg-migratie"))


def alert(
    status: AlertStatus = AlertStatus.FIRING, severity: Severity = Severity.CRITICAL
) -> AlertEvent:
    return an_alert(status=status, severity=severity)


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def test_a_critical_firing_alert_is_watched_and_warning_or_resolved_ends_it() -> None:
    started = watch(None, alert(), T0)
    assert started is not None and started.since == T0 and started.level == 0
    assert watch(started, alert(severity=Severity.WARNING), minutes(1)) is None
    assert watch(started, alert(AlertStatus.RESOLVED), minutes(1)) is None
    assert watch(None, alert(severity=Severity.INFO), T0) is None


@pytest.mark.parametrize(
    ("at", "expected_receiver", "expected_level"),
    [
        (14.9, None, 0),
        (15, "ministerie", 1),
        (29, "ministerie", 1),
    ],
)
def test_the_first_step_comes_after_the_wait(
    at: float, expected_receiver: str | None, expected_level: int
) -> None:
    first = watch(None, alert(), T0)
    assert first is not None
    after, receiver = due(first, POLICY, minutes(at))
    assert (receiver, after.level) == (expected_receiver, expected_level)


def test_each_next_receiver_after_another_wait_and_then_nobody() -> None:
    state = watch(None, alert(), T0)
    assert state is not None
    heard = []
    for m in range(0, 90, 1):
        state, receiver = due(state, POLICY, minutes(m))
        if receiver:
            heard.append((m, receiver))
    assert heard == [(15, "ministerie"), (30, "dg-migratie")]


def test_an_acknowledgement_stops_escalation() -> None:
    state = acknowledge(watch(None, alert(), T0), "dienstdoende COA")
    assert state is not None
    assert due(state, POLICY, minutes(60)) == (state, None)
    assert acknowledge(None, "x") is None


def test_watch_round_trips() -> None:
    state = Watch(alert(), T0, 1, "iemand")
    assert Watch.from_dict(state.to_dict()) == state


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"after_minutes": 0}, "after_minutes"),
        ({"after_minutes": "soon"}, "after_minutes"),
        ({"receivers": ["nobody"]}, "nobody"),
        ({"receivers": "ministerie"}, "escalation.receivers"),
        (["ministerie"], "escalation"),
    ],
)
def test_bad_escalation_config_names_the_key(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_escalation(raw, ["ministerie"])


def test_default_policy_escalates_to_nobody() -> None:
    assert parse_escalation(None, []) == EscalationPolicy()
    state = watch(None, alert(), T0)
    assert state is not None
    assert due(state, EscalationPolicy(), minutes(600))[1] is None
