"""The life of one alert: ``lifecycle.step`` driven by findings, one event date at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import builders
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.model import AlertEvent, AlertStatus, Severity, Subject, SubjectKind
from alerts.rules.lifecycle import AlertState, Finding, alert_id, event_time, step

D = dt.date
TER_APEL = builders.TER_APEL.subject

# Letters for a day's finding: B = breached, C = cleared, H = in the hysteresis band (neither);
# a lower-case letter adds a severity: b = breached at WARNING (upper-case B is CRITICAL).
B, C, H = "B", "C", "H"


def finding(
    kind: str, *, subject: Subject = TER_APEL, rule: str = "cap_exceeded", value: float = 0
) -> Finding:
    return Finding(
        rule=rule,
        subject=subject,
        breached=kind in ("B", "b"),
        cleared=kind == "C",
        severity=Severity.WARNING if kind == "b" else Severity.CRITICAL,
        value=value,
        threshold=2000,
        summary=f"finding {kind}",
        province="GR",
        municipality_code="GM1950",
    )


def drive(
    days: Sequence[tuple[dt.date, str]],
    *,
    for_days: int = 1,
    clear_days: int = 1,
    start: AlertState | None = None,
) -> tuple[AlertState | None, list[AlertEvent | None]]:
    state = start
    events: list[AlertEvent | None] = []
    for date, kind in days:
        state, event = step(state, finding(kind), date, for_days=for_days, clear_days=clear_days)
        events.append(event)
    return state, events


def day(n: int) -> dt.date:
    return D(2024, 7, 1) + dt.timedelta(days=n - 1)


def summary(events: list[AlertEvent | None]) -> list[tuple[str, int, str] | None]:
    """(status, revision, event_date) per step, None where nothing happened."""
    return [
        None if e is None else (e.status.value, e.revision, e.event_date.isoformat())
        for e in events
    ]


# --------------------------------------------------------------------------- event time


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (D(2024, 7, 1), "2024-07-01T09:00:00+02:00"),  # summer time
        (D(2024, 1, 15), "2024-01-15T09:00:00+01:00"),  # winter time
        (D(2024, 3, 31), "2024-03-31T09:00:00+02:00"),  # clocks went forward at 02:00
        (D(2024, 3, 30), "2024-03-30T09:00:00+01:00"),
        (D(2024, 10, 27), "2024-10-27T09:00:00+01:00"),  # clocks went back at 03:00
        (D(2024, 10, 26), "2024-10-26T09:00:00+02:00"),
    ],
)
def test_event_time_is_nine_in_amsterdam(date: dt.date, expected: str) -> None:
    assert event_time(date) == expected


# --------------------------------------------------------------------------- step: tables


def test_fires_on_the_first_breached_day() -> None:
    state, event = step(None, finding(B, value=2040), D(2024, 7, 2))
    assert event is not None
    assert event.status is AlertStatus.FIRING
    assert event.revision == 1
    assert event.starts_at == "2024-07-02T09:00:00+02:00"
    assert event.ends_at is None
    assert event.event_date == D(2024, 7, 2)
    assert event.severity is Severity.CRITICAL
    assert event.alert_id == "cap_exceeded-ter-apel-bcac4a9220"
    assert (event.rule, event.subject, event.value, event.threshold) == (
        "cap_exceeded",
        TER_APEL,
        2040,
        2000,
    )
    assert (event.province, event.municipality_code) == ("GR", "GM1950")
    assert state.firing and state.revision == 1


def test_winter_firing_has_winter_offset() -> None:
    _, event = step(None, finding(B), D(2024, 12, 2))
    assert event is not None and event.starts_at == "2024-12-02T09:00:00+01:00"


@pytest.mark.parametrize(
    ("days", "for_days", "clear_days", "expected"),
    [
        pytest.param(
            [(day(1), C), (day(2), B)],
            1,
            1,
            [None, ("firing", 1, "2024-07-02")],
            id="fires-first-breached-day",
        ),
        pytest.param(
            [(day(1), B), (day(2), B), (day(3), B)],
            3,
            1,
            [None, None, ("firing", 1, "2024-07-03")],
            id="waits-for-n-days",
        ),
        pytest.param(
            [(day(1), B), (day(3), B)],
            2,
            1,
            [None, ("firing", 1, "2024-07-03")],
            id="report-days-not-calendar-days",
        ),
        pytest.param(
            [(day(1), B), (day(1), B), (day(1), B), (day(2), B)],
            3,
            1,
            [None, None, None, None],
            id="same-date-counted-once",
        ),
        pytest.param(
            [(day(1), B), (day(1), B), (day(2), B)],
            2,
            1,
            [None, None, ("firing", 1, "2024-07-02")],
            id="same-date-then-next-day-fires",
        ),
        pytest.param(
            [(day(1), B), (day(2), H), (day(3), B), (day(4), B)],
            3,
            1,
            [None, None, None, None],
            id="pending-resets-in-band",
        ),
        pytest.param(
            [(day(1), B), (day(2), C), (day(3), B), (day(4), B)],
            2,
            1,
            [None, None, None, ("firing", 1, "2024-07-04")],
            id="pending-resets-when-cleared",
        ),
        pytest.param(
            [(day(1), B), (day(2), H), (day(3), H), (day(4), H)],
            1,
            1,
            [("firing", 1, "2024-07-01"), None, None, None],
            id="band-holds-firing",
        ),
        pytest.param(
            [(day(1), B), (day(2), H), (day(3), C)],
            1,
            1,
            [("firing", 1, "2024-07-01"), None, ("resolved", 2, "2024-07-03")],
            id="resolves-after-band",
        ),
        pytest.param(
            [(day(1), B), (day(2), C), (day(3), C)],
            1,
            2,
            [("firing", 1, "2024-07-01"), None, ("resolved", 2, "2024-07-03")],
            id="resolves-after-clear-days",
        ),
        pytest.param(
            [(day(1), B), (day(2), C), (day(2), C), (day(3), H), (day(4), C), (day(5), C)],
            1,
            2,
            [("firing", 1, "2024-07-01"), None, None, None, None, ("resolved", 2, "2024-07-05")],
            id="clearing-counts-dates-once-and-resets-in-band",
        ),
        pytest.param(
            [(day(1), B), (day(2), C), (day(3), B), (day(4), C), (day(5), C)],
            1,
            2,
            [("firing", 1, "2024-07-01"), None, None, None, ("resolved", 2, "2024-07-05")],
            id="clearing-resets-when-breached-again",
        ),
        pytest.param(
            [(day(1), B), (day(2), B), (day(3), C), (day(4), B)],
            1,
            1,
            [
                ("firing", 1, "2024-07-01"),
                None,
                ("resolved", 2, "2024-07-03"),
                ("firing", 3, "2024-07-04"),
            ],
            id="refires-with-next-revision",
        ),
        pytest.param(
            [(day(1), C), (day(2), H), (day(3), C)],
            1,
            1,
            [None, None, None],
            id="never-breached-never-speaks",
        ),
        pytest.param(
            [(day(3), B), (day(2), C), (day(1), C), (day(4), C)],
            1,
            1,
            [("firing", 1, "2024-07-03"), None, None, ("resolved", 2, "2024-07-04")],
            id="older-dates-ignored",
        ),
    ],
)
def test_step_table(
    days: list[tuple[dt.date, str]],
    for_days: int,
    clear_days: int,
    expected: list[tuple[str, int, str] | None],
) -> None:
    _, events = drive(days, for_days=for_days, clear_days=clear_days)
    assert summary(events) == expected


def test_older_date_changes_nothing_at_all() -> None:
    state, _ = drive([(day(1), B), (day(5), B)], for_days=3)
    assert state is not None and state.pending == 2
    again, event = step(state, finding(B), day(4), for_days=3)
    assert event is None
    assert again == state


def test_resolved_event_carries_start_and_end() -> None:
    _, events = drive([(day(1), B), (day(2), H), (day(3), C)])
    resolved = events[-1]
    assert resolved is not None
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.starts_at == "2024-07-01T09:00:00+02:00"
    assert resolved.ends_at == "2024-07-03T09:00:00+02:00"
    assert resolved.severity is Severity.CRITICAL
    assert resolved.alert_id == events[0].alert_id  # type: ignore[union-attr]


def test_a_resolved_alert_keeps_its_count_but_not_its_last_text() -> None:
    firing, _ = drive([(day(1), B)])
    assert firing is not None and firing.last_event is not None
    state, _ = drive([(day(1), B), (day(2), H), (day(3), C)])
    assert state is not None and not state.firing
    assert state.last_event is None
    assert state.revision == 2
    assert state.episodes == ((day(1), day(3)),)


def test_refiring_starts_a_new_episode() -> None:
    state, events = drive([(day(1), B), (day(2), C), (day(8), B)])
    refired = events[-1]
    assert refired is not None
    assert refired.starts_at == "2024-07-08T09:00:00+02:00"
    assert refired.ends_at is None
    assert refired.revision == 3
    assert state is not None and state.firing


def test_severity_change_while_firing_is_a_new_revision() -> None:
    _, events = drive([(day(1), "b"), (day(2), "b"), (day(3), "B"), (day(4), "b")])
    assert summary(events) == [
        ("firing", 1, "2024-07-01"),
        None,
        ("firing", 2, "2024-07-03"),
        ("firing", 3, "2024-07-04"),
    ]
    fired = [e for e in events if e is not None]
    assert [e.severity for e in fired] == [Severity.WARNING, Severity.CRITICAL, Severity.WARNING]
    assert len({e.alert_id for e in fired}) == 1
    assert {e.starts_at for e in fired} == {"2024-07-01T09:00:00+02:00"}


def test_province_subject_fills_province() -> None:
    province = Subject(SubjectKind.PROVINCE, "GR")
    event = step(None, finding(B, subject=province, rule="region_capacity_low"), day(1))[1]
    assert event is not None and event.province == "GR"


# --------------------------------------------------------------------------- alert_id


def test_alert_id_is_a_stable_fingerprint() -> None:
    # pinned: receivers deduplicate on it across versions and workers
    assert alert_id("cap_exceeded", TER_APEL) == "cap_exceeded-ter-apel-bcac4a9220"
    assert alert_id("cap_near", TER_APEL) == "cap_near-ter-apel-5db66c945e"
    province = Subject(SubjectKind.PROVINCE, "GR")
    assert alert_id("cap_exceeded", province) == "cap_exceeded-gr-9cd519d353"


def test_alert_id_distinct_per_rule_and_subject() -> None:
    subjects = [
        TER_APEL,
        Subject(SubjectKind.LOCATION, "budel"),
        Subject(SubjectKind.LOCATION, "gr"),
        Subject(SubjectKind.PROVINCE, "GR"),
        Subject(SubjectKind.NATIONAL, "NL"),
    ]
    rules = ["cap_exceeded", "cap_near", "slept_outside"]
    ids = [alert_id(r, s) for r in rules for s in subjects]
    assert len(set(ids)) == len(ids)
    assert alert_id("cap_exceeded", Subject(SubjectKind.LOCATION, "ter-apel")) == alert_id(
        "cap_exceeded", TER_APEL
    )


def test_state_alert_id_matches_fingerprint() -> None:
    state, _ = step(None, finding(C), day(1))
    assert state.alert_id == alert_id("cap_exceeded", TER_APEL)
    assert state.rule == "cap_exceeded"


# --------------------------------------------------------------------------- replay

finding_days = st.lists(
    st.tuples(st.integers(1, 20), st.sampled_from(["B", "b", "C", "H"])), max_size=25
)


@given(days=finding_days, for_days=st.integers(1, 3), clear_days=st.integers(1, 3))
def test_replay_is_deterministic(
    days: list[tuple[int, str]], for_days: int, clear_days: int
) -> None:
    sequence = [(day(n), kind) for n, kind in days]
    first_state, first = drive(sequence, for_days=for_days, clear_days=clear_days)
    second_state, second = drive(sequence, for_days=for_days, clear_days=clear_days)
    assert [e.to_dict() if e else None for e in first] == [
        e.to_dict() if e else None for e in second
    ]
    assert first_state == second_state


@given(days=finding_days, for_days=st.integers(1, 3), clear_days=st.integers(1, 3))
def test_revisions_count_up_and_statuses_alternate(
    days: list[tuple[int, str]], for_days: int, clear_days: int
) -> None:
    _, events = drive([(day(n), k) for n, k in days], for_days=for_days, clear_days=clear_days)
    fired = [e for e in events if e is not None]
    assert [e.revision for e in fired] == list(range(1, len(fired) + 1))
    assert len({e.alert_id for e in fired}) <= 1
    previous = AlertStatus.RESOLVED
    for event in fired:
        # a resolution only ever follows a firing; dates never go backwards
        if event.status is AlertStatus.RESOLVED:
            assert previous is AlertStatus.FIRING
            assert event.ends_at is not None
        else:
            assert event.ends_at is None
        previous = event.status
    assert [e.event_date for e in fired] == sorted(e.event_date for e in fired)


@given(days=finding_days)
def test_state_survives_a_round_trip_mid_stream(days: list[tuple[int, str]]) -> None:
    """Storing and reloading the state between steps (as the table does) changes nothing."""
    sequence = [(day(n), k) for n, k in days]
    _, straight = drive(sequence, for_days=2, clear_days=2)
    state: AlertState | None = None
    reloaded: list[AlertEvent | None] = []
    for date, kind in sequence:
        state, event = step(state, finding(kind), date, for_days=2, clear_days=2)
        state = AlertState.from_dict(state.to_dict())
        reloaded.append(event)
    assert reloaded == straight
