"""Decisions written once: one alert change routed to its decisions
(``alerts.dispatch.dispatcher``), one item admitted against its receiver's ledger
(``alerts.dispatch.admit``), the input watermark (``alerts.watermark``) and the catalogue."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.catalogue import ALWAYS_THROUGH, CATALOGUE, INHIBITIONS, RULE_IDS, rule_info, urgent
from alerts.delivery.ledger import Ledger
from alerts.dispatch.admit import OVER_BUDGET_WAIT, admit
from alerts.dispatch.config import Budget, QuietHours, RoutingConfig
from alerts.dispatch.decision import Action, Decision
from alerts.dispatch.dispatcher import Firing, dispatch, targets
from alerts.dispatch.inhibit import InhibitRule
from alerts.dispatch.matchers import Matcher
from alerts.dispatch.route import Route
from alerts.model import AlertEvent, AlertStatus, Severity, Subject, SubjectKind
from alerts.watermark import input_mark

NOON = dt.datetime(2024, 11, 27, 12, 0, tzinfo=dt.UTC)
NIGHT = dt.datetime(2024, 11, 27, 23, 30, tzinfo=dt.UTC)


def event(
    rule: str = "cap_near",
    status: AlertStatus = AlertStatus.FIRING,
    severity: Severity = Severity.WARNING,
    where: str = "ter-apel",
) -> AlertEvent:
    return AlertEvent(
        alert_id=f"{rule}-{where}",
        rule=rule,
        status=status,
        severity=severity,
        subject=Subject(SubjectKind.LOCATION, where),
        province="GR",
        municipality_code="GM1950",
        value=1990,
        threshold=2000,
        summary=f"{rule} at {where}",
        starts_at="2024-11-27T09:00:00+01:00",
        ends_at=None,
        event_date=dt.date(2024, 11, 27),
        revision=1,
        labels={},
    )


CONFIG = RoutingConfig(
    route=Route(routes=(Route(receiver="ops", continue_=True),)),
    inhibit_rules=(
        InhibitRule(
            source=(Matcher("rule", "cap_exceeded"),),
            target=(Matcher("rule", "cap_near"),),
            equal=("subject_id",),
        ),
    ),
    quiet_hours={"ops": QuietHours(dt.time(22), dt.time(7))},
    budgets={"ops": Budget(per_hour=1, per_day=10)},
)


def test_dispatch_inhibits_by_what_fires_and_keeps_the_firing_state() -> None:
    firing = Firing()
    assert dispatch(event("cap_near"), CONFIG, NOON, firing) == [Decision("ops", Action.SEND)]
    assert dispatch(event("cap_exceeded"), CONFIG, NOON, firing)[0].action is Action.SEND
    assert len(firing) == 2
    [inhibited] = dispatch(event("cap_near"), CONFIG, NOON, firing)
    assert inhibited.action is Action.INHIBITED
    dispatch(event("cap_exceeded", AlertStatus.RESOLVED), CONFIG, NOON, firing)
    assert len(firing) == 1
    assert dispatch(event("cap_near"), CONFIG, NOON, firing)[0].action is Action.SEND


def test_dispatch_is_targets_with_the_other_firing_alerts() -> None:
    firing = Firing([event("cap_exceeded"), event("cap_near")])
    alert = event("cap_near")
    expected = targets(alert, CONFIG, NOON, firing=firing.others(alert.alert_id))
    assert dispatch(alert, CONFIG, NOON, firing) == expected


def test_firing_loads_once_on_first_use() -> None:
    calls: list[int] = []

    def load() -> list[AlertEvent]:
        calls.append(1)
        return [event("cap_exceeded")]

    firing = Firing(load=load)
    assert calls == []
    assert dispatch(event("cap_near"), CONFIG, NOON, firing)[0].action is Action.INHIBITED
    assert len(firing) == 2
    assert calls == [1]


def test_admit_sends_holds_for_quiet_hours_and_waits_when_over_budget() -> None:
    ledger = Ledger("ops")
    assert admit(event(), ledger, CONFIG, NOON) == Decision("ops", Action.SEND)
    held = admit(event(), ledger, CONFIG, NIGHT)
    assert held.action is Action.HOLD
    assert held.release_at == QuietHours(dt.time(22), dt.time(7)).next_end(NIGHT)
    spent = Ledger("ops", sent_at=(NOON - dt.timedelta(minutes=5),))
    over = admit(event(), spent, CONFIG, NOON)
    assert (over.action, over.release_at) == (Action.OVER_BUDGET, NOON + OVER_BUDGET_WAIT)
    # what always goes through is never held
    assert admit(event("slept_outside"), spent, CONFIG, NIGHT).action is Action.SEND


@pytest.mark.parametrize(
    ("occupancy", "intake", "expect_intake", "mark"),
    [
        (None, None, False, None),
        (None, 5, False, None),
        (5, None, False, 5),
        (5, None, True, None),
        (5, 2, True, 3),
        (5, 9, False, 5),
    ],
)
def test_input_mark(
    occupancy: int | None, intake: int | None, expect_intake: bool, mark: int | None
) -> None:
    def day(n: int | None) -> dt.date | None:
        return None if n is None else dt.date(2024, 11, n)

    assert input_mark(day(occupancy), day(intake), expect_intake=expect_intake) == day(mark)


def test_the_catalogue_has_one_entry_per_rule() -> None:
    assert tuple(CATALOGUE) == RULE_IDS
    assert all(rule_info(rule) is CATALOGUE[rule] for rule in RULE_IDS)
    assert rule_info("no-such-rule") is None
    assert frozenset({"slept_outside", "outside_risk", "cap_exceeded"}) == ALWAYS_THROUGH
    assert INHIBITIONS == {"cap_near": "cap_exceeded", "outside_risk": "slept_outside"}
    assert urgent(event("cap_near", severity=Severity.CRITICAL))
    assert urgent(event("outside_risk"))
    assert not urgent(event("cap_near"))
