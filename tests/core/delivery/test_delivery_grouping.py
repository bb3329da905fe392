"""Grouping (group_wait, group_interval), reminders (repeat_interval) and the rest a receiver gets
when it does not answer: pure ledger decisions with fixed times, and the route settings."""

from __future__ import annotations

import datetime as dt

import pytest
from builders import an_alert

from alerts.delivery.grouping import due_reminders, flush_groups, group_arrival, remember
from alerts.delivery.ledger import (
    Failure,
    Group,
    Grouping,
    Ledger,
    Pending,
    defer,
    delivered,
    failed,
)
from alerts.dispatch.config import parse_routing
from alerts.dispatch.dispatcher import targets
from alerts.dispatch.matchers import parse_duration
from alerts.dispatch.route import RouteTiming
from alerts.errors import ConfigError
from alerts.model import AlertEvent, AlertStatus, Severity, Subject, SubjectKind

T0 = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def event(
    alert: str = "cap_near-budel",
    revision: int = 1,
    rule: str = "cap_near",
    severity: Severity = Severity.WARNING,
    status: AlertStatus = AlertStatus.FIRING,
) -> AlertEvent:
    return an_alert(
        alert_id=alert,
        rule=rule,
        status=status,
        severity=severity,
        subject=Subject(SubjectKind.LOCATION, alert.split("-", 1)[-1]),
        province="NB",
        municipality_code="GM1724",
        value=950,
        threshold=1000,
        summary=f"{alert} r{revision}",
        revision=revision,
    )


def item(alert: str = "cap_near-budel", revision: int = 1, **kw: object) -> Pending:
    e = event(alert, revision, **kw)  # type: ignore[arg-type]
    return Pending(f"{alert}.{revision}.mayor", e, 0, T0, T0)


GROUP = Grouping("route{province=NB}", wait=30.0, interval=300.0)


# ---------------------------------------------------------------- group_arrival, table-driven

# (case, groups already in the ledger, arrival time, grouping, urgent, send now?, flush_at)
CASES = [
    ("a new group waits group_wait", (), 0, GROUP, False, False, 30),
    ("group_wait 0: a new group sends at once", (), 0, Grouping("k", 0, 300), False, True, None),
    ("no wait, no interval: at once", (), 0, Grouping("k"), False, True, None),
    ("urgent goes through a new group", (), 0, GROUP, True, True, None),
    (
        "a group that sent within its interval holds until the interval is over",
        (Group(GROUP.key, 300.0, at(0)),),
        100,
        GROUP,
        False,
        False,
        300,
    ),
    (
        "urgent is not held by group_interval",
        (Group(GROUP.key, 300.0, at(0)),),
        100,
        GROUP,
        True,
        True,
        None,
    ),
    (
        "a group quiet for a whole interval starts afresh and waits group_wait",
        (Group(GROUP.key, 300.0, at(0)),),
        400,
        GROUP,
        False,
        False,
        430,
    ),
    (
        "a group already holding messages takes this one along, same flush time",
        (Group(GROUP.key, 300.0, None, at(30), (item("cap_near-oss"),)),),
        10,
        GROUP,
        False,
        False,
        30,
    ),
    (
        "another group of the same receiver is not affected",
        (Group("route{province=GR}", 300.0, at(0)),),
        10,
        GROUP,
        False,
        False,
        40,
    ),
]


@pytest.mark.parametrize(
    ("case", "groups", "now", "grouping", "urgent", "send_now", "flush_at"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_group_arrival(
    case: str,
    groups: tuple[Group, ...],
    now: float,
    grouping: Grouping,
    urgent: bool,
    send_now: bool,
    flush_at: float | None,
) -> None:
    ledger = Ledger("mayor", groups=groups)
    updated, now_ = group_arrival(ledger, item(), grouping, at(now), urgent=urgent)
    assert now_ is send_now
    group = next((g for g in updated.groups if g.key == grouping.key), None)
    if send_now:
        assert group is None or item().notification_id not in {
            p.notification_id for p in group.items
        }
    else:
        assert group is not None
        assert group.flush_at == at(flush_at) if flush_at is not None else True
        assert item().notification_id in {p.notification_id for p in group.items}
        assert updated.knows(item().notification_id)  # a redelivered record is not added twice


def test_changes_that_arrive_together_go_out_together_and_then_the_interval_holds() -> None:
    ledger = Ledger("mayor")
    ledger, now = group_arrival(ledger, item("cap_near-budel"), GROUP, at(0), urgent=False)
    assert not now
    ledger, now = group_arrival(ledger, item("cap_near-oss"), GROUP, at(12), urgent=False)
    assert not now
    ledger, out = flush_groups(ledger, at(29))
    assert out == ()
    ledger, out = flush_groups(ledger, at(30))
    assert [[p.event.alert_id for p in items] for _, items in out] == [
        ["cap_near-budel", "cap_near-oss"]
    ]
    # A change 60 s later waits for the group's interval: 30 + 300.
    ledger, now = group_arrival(ledger, item("cap_near-budel", 2), GROUP, at(90), urgent=False)
    assert not now
    ledger, out = flush_groups(ledger, at(329))
    assert out == ()
    ledger, out = flush_groups(ledger, at(330))
    assert [p.event.revision for _, items in out for p in items] == [2]
    # Quiet for a whole interval afterwards: the group is forgotten.
    ledger, out = flush_groups(ledger, at(630))
    assert out == () and ledger.groups == ()


# ---------------------------------------------------------------- reminders


def test_a_firing_alert_is_repeated_with_a_new_id_each_time() -> None:
    ledger = remember(Ledger("mayor"), event(), 3600.0, at(0))
    ledger, ready = due_reminders(ledger, at(3599))
    assert ready == ()
    ledger, ready = due_reminders(ledger, at(3600))
    assert [p.notification_id for p in ready] == ["cap_near-budel.1.mayor.r1"]
    ledger, ready = due_reminders(ledger, at(3600 + 1800))
    assert ready == ()
    ledger, ready = due_reminders(ledger, at(7200))
    assert [p.notification_id for p in ready] == ["cap_near-budel.1.mayor.r2"]


@pytest.mark.parametrize(
    ("case", "follow_up", "expected"),
    [
        ("a resolve ends the reminders", event(status=AlertStatus.RESOLVED, revision=2), []),
        ("a route without repeats ends them", None, []),
        (
            "a newer change restarts the clock and the count",
            event(revision=2),
            [],  # due only at 1800 + 3600
        ),
    ],
)
def test_what_ends_or_restarts_reminders(
    case: str, follow_up: AlertEvent | None, expected: list[str]
) -> None:
    ledger = remember(Ledger("mayor"), event(), 3600.0, at(0))
    if follow_up is None:
        ledger = remember(ledger, event(revision=2), None, at(1800))
    else:
        ledger = remember(ledger, follow_up, 3600.0, at(1800))
    _, ready = due_reminders(ledger, at(3600))
    assert [p.notification_id for p in ready] == expected


def test_no_reminder_while_the_alert_has_a_message_waiting() -> None:
    ledger = remember(Ledger("mayor"), event(), 3600.0, at(0))
    waiting = failed(
        ledger,
        event(),
        "cap_near-budel.1.mayor",
        Failure(recoverable=True),
        at(3500),
        attempts=1,
        first_queued_at=at(0),
        schedule=(300.0,),
    ).ledger
    _, ready = due_reminders(waiting, at(3600))
    assert ready == ()
    after = delivered(waiting, "cap_near-budel.1.mayor", at(3800))
    _, ready = due_reminders(after, at(3800))
    assert len(ready) == 1


def test_ledger_with_groups_and_reminders_survives_the_changelog() -> None:
    ledger = remember(Ledger("mayor"), event(), 3600.0, at(0))
    ledger, _ = group_arrival(ledger, item(), GROUP, at(0), urgent=False)
    ledger = defer(ledger, item("cap_near-oss"))
    assert Ledger.from_dict(ledger.to_dict()) == ledger
    # A ledger without the new fields reads as before, and writes as before.
    plain = Ledger("mayor", confirmed=("a",))
    assert set(plain.to_dict()) == {
        "receiver",
        "confirmed",
        "sent_at",
        "pending",
        "held",
        "disabled",
    }


# ---------------------------------------------------------------- a receiver that does not answer


def test_an_unreachable_receiver_rests_and_new_notifications_queue_behind_it() -> None:
    verdict = failed(
        Ledger("hook"),
        event(),
        "n1",
        Failure(recoverable=True, unreachable=True, message="timed out"),
        at(0),
        attempts=1,
        first_queued_at=at(0),
        schedule=(5.0, 300.0),
        jitter=0.0,
    )
    ledger = verdict.ledger
    assert ledger.resting(at(1)) and not ledger.resting(at(5))
    ledger = defer(ledger, Pending("n2", event(revision=2), 0, at(1), at(1)))
    # Both are due together, in the order they were queued; n2 has not used an attempt.
    assert [(p.notification_id, p.attempts) for p in ledger.due(at(5))] == [("n1", 1), ("n2", 0)]
    assert not delivered(ledger, "n1", at(5)).resting(at(5))


def test_a_5xx_answer_does_not_make_the_receiver_rest() -> None:
    verdict = failed(
        Ledger("hook"),
        event(),
        "n1",
        Failure(recoverable=True, message="HTTP 503"),
        at(0),
        attempts=1,
        first_queued_at=at(0),
        schedule=(5.0,),
    )
    assert not verdict.ledger.resting(at(1))


def test_budget_times_are_kept_only_for_counted_receivers() -> None:
    assert delivered(Ledger("hook"), "n1", at(0), counted=False).sent_at == ()
    assert delivered(Ledger("sms"), "n1", at(0)).sent_at == (at(0),)


# ---------------------------------------------------------------- durations and route settings


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("30s", 30), ("5m", 300), ("4h", 14400), ("1d", 86400), ("1h30m", 5400), (0, 0), ("0s", 0)],
)
def test_durations(raw: object, seconds: float) -> None:
    assert parse_duration(raw, "x") == seconds


@pytest.mark.parametrize("raw", ["30", "5 m", "m5", "1.5h", "", "-5m", 30, True, None, "5M"])
def test_bad_durations_name_the_key(raw: object) -> None:
    with pytest.raises(ConfigError, match=r"route.group_wait: not a duration like '30s'"):
        parse_duration(raw, "route.group_wait")


RECEIVERS = {"ops": {}, "mayor": {}, "piket": {}}


def routing_with(route: dict[str, object]) -> object:
    return parse_routing({"route": route}, RECEIVERS)


def test_children_inherit_grouping_and_may_override_it() -> None:
    config = parse_routing(
        {
            "route": {
                "receiver": "ops",
                "group_by": ["province"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                "routes": [
                    {"match": {"rule": "cap_near"}, "receiver": "mayor"},
                    {
                        "match": {"severity": "critical"},
                        "receiver": "piket",
                        "group_wait": "0s",
                        "repeat_interval": None,
                    },
                ],
            }
        },
        RECEIVERS,
    )
    root = config.route
    assert root.timing == RouteTiming(("province",), 30.0, 300.0, 14400.0)
    assert root.routes[0].timing == root.timing
    assert root.routes[1].timing == RouteTiming(("province",), 0.0, 300.0, None)
    [decision] = targets(event(), config, T0)
    assert decision.receiver == "mayor"
    assert decision.grouping == Grouping("route.routes[0]{province=NB}", 30.0, 300.0, 14400.0)


def test_without_grouping_settings_nothing_is_held() -> None:
    config = parse_routing({"route": {"receiver": "ops"}}, RECEIVERS)
    [decision] = targets(event(), config, T0)
    assert decision.grouping is None


def test_group_by_every_label_gives_each_alert_its_own_group() -> None:
    config = parse_routing(
        {"route": {"receiver": "ops", "group_by": ["..."], "group_wait": "10s"}}, RECEIVERS
    )
    [a] = targets(event("cap_near-budel"), config, T0)
    [b] = targets(event("cap_near-oss"), config, T0)
    assert a.grouping is not None and b.grouping is not None
    assert a.grouping.key != b.grouping.key


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"receiver": "ops", "group_wait": "soon"}, "route.group_wait: not a duration"),
        (
            {"receiver": "ops", "routes": [{"receiver": "mayor", "group_interval": "5x"}]},
            r"route.routes\[0\].group_interval: not a duration",
        ),
        ({"receiver": "ops", "repeat_interval": "30s"}, "repeat_interval must be at least 1m"),
        (
            {"receiver": "ops", "group_interval": "2h", "repeat_interval": "1h"},
            "repeat_interval must not be shorter than group_interval",
        ),
        ({"receiver": "ops", "group_by": "province"}, "group_by must be a list"),
        ({"receiver": "ops", "group_by": ["...", "rule"]}, "'...' .* stands alone"),
    ],
)
def test_bad_route_settings_are_named(route: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        routing_with(route)


# ---------------------------------------------------------------- records read again


@pytest.mark.parametrize(
    ("applied", "partition", "offset", "seen"),
    [
        (None, 0, 0, False),
        ((2, 10), 2, 9, True),
        ((2, 10), 2, 10, True),
        ((2, 10), 2, 11, False),
        ((2, 10), 1, 5, False),  # another partition (the topic was repartitioned): not trusted
    ],
)
def test_a_record_read_again_after_a_restart_is_recognised_by_its_offset(
    applied: tuple[int, int] | None, partition: int, offset: int, seen: bool
) -> None:
    ledger = Ledger("hook", applied=applied)
    assert ledger.has_applied(partition, offset) is seen
    assert Ledger.from_dict(ledger.to_dict()) == ledger


def test_the_ledger_stays_small_however_much_was_delivered() -> None:
    ledger = Ledger("hook")
    for i in range(5000):
        ledger = delivered(ledger, f"cap_exceeded-x.{i}.hook", at(i), counted=False)
    assert len(ledger.confirmed) == 100
    assert ledger.knows("cap_exceeded-x.4999.hook")
    assert ledger.sent_at == ()
    assert len(str(ledger.to_dict())) < 10_000
