"""Capacity arithmetic: applying reports to a location, and summing locations into totals.

Table-driven cases for the decisions of ``apply_occupancy`` / ``apply_intake``, Hypothesis for the
arithmetic and for the wire round trips of what the tables store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from typing import Any

import pytest
from builders import TER_APEL, a_location, an_intake_report, an_occupancy_report
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.capacity.location import (
    HISTORY_DAYS,
    MAX_HELD_DAYS,
    Applied,
    DayRecord,
    LocationState,
    apply_intake,
    apply_occupancy,
)
from alerts.capacity.totals import Contribution, contribution, sum_contributions
from alerts.engine import AggregateRecord, LocationRecord, on_contribution
from alerts.model import IntakeReport, Location, OccupancyReport
from alerts.rules.lifecycle import AlertState

D = dt.date


def occ(event_id: str, date: dt.date, occupancy: int, **extra: Any) -> OccupancyReport:
    return an_occupancy_report(date, occupancy, event_id=event_id, **extra)


def intake(event_id: str, date: dt.date, **extra: Any) -> IntakeReport:
    return an_intake_report(date, event_id=event_id, **extra)


def run(
    *reports: OccupancyReport | IntakeReport, hold_from: dt.date | None = None
) -> tuple[LocationState, list[Applied]]:
    """Apply reports in order from an empty state; return the final state and each outcome.
    ``hold_from``: as the engine sets it once flow rules have run (None: none ran yet)."""
    state = LocationState("ter-apel", hold_from=hold_from)
    outcomes = []
    for report in reports:
        if isinstance(report, OccupancyReport):
            state, outcome = apply_occupancy(state, report)
        else:
            state, outcome = apply_intake(state, report)
        outcomes.append(outcome)
    return state, outcomes


# --------------------------------------------------------------------------- apply_occupancy


@pytest.mark.parametrize(
    ("reports", "outcomes", "latest", "occupancy", "capacity", "without_bed", "outside"),
    [
        pytest.param(
            [occ("a", D(2024, 7, 1), 1960)],
            ["applied"],
            D(2024, 7, 1),
            1960,
            2000,
            0,
            0,
            id="first-report-applied",
        ),
        pytest.param(
            [occ("a", D(2024, 7, 1), 1960), occ("b", D(2024, 7, 2), 2040, without_bed=40)],
            ["applied", "applied"],
            D(2024, 7, 2),
            2040,
            2000,
            40,
            0,
            id="newer-date-replaces-current",
        ),
        pytest.param(
            [occ("a", D(2024, 7, 1), 1960), occ("a", D(2024, 7, 1), 1960)],
            ["applied", "duplicate"],
            D(2024, 7, 1),
            1960,
            2000,
            0,
            0,
            id="same-event-twice-is-duplicate",
        ),
        pytest.param(
            [occ("a", D(2024, 7, 1), 1960), occ("a", D(2024, 7, 3), 2500, slept_outside=9)],
            ["applied", "duplicate"],
            D(2024, 7, 1),
            1960,
            2000,
            0,
            0,
            id="duplicate-event-id-with-other-figures-changes-nothing",
        ),
        pytest.param(
            [occ("b", D(2024, 7, 2), 2040), occ("a", D(2024, 7, 1), 1500)],
            ["applied", "correction"],
            D(2024, 7, 2),
            2040,
            2000,
            0,
            0,
            id="older-date-is-correction-current-untouched",
        ),
        pytest.param(
            # The capacity of an older report still counts "from that date" when no newer report
            # gave one: the outcome does not depend on arrival order.
            [occ("b", D(2024, 7, 2), 2040), occ("a", D(2024, 7, 1), 2600, capacity=2600)],
            ["applied", "correction"],
            D(2024, 7, 2),
            2040,
            2600,
            0,
            0,
            id="older-capacity-applies-from-its-date",
        ),
        pytest.param(
            [occ("a", D(2024, 7, 1), 1960), occ("b", D(2024, 7, 1), 1975)],
            ["applied", "applied"],
            D(2024, 7, 1),
            1975,
            2000,
            0,
            0,
            id="same-date-new-event-recount-applies",
        ),
        pytest.param(
            [
                occ("a", D(2024, 7, 1), 1960, capacity=2100),
                occ("b", D(2024, 7, 2), 2040),
                occ("c", D(2024, 7, 3), 2050),
            ],
            ["applied", "applied", "applied"],
            D(2024, 7, 3),
            2050,
            2100,
            0,
            0,
            id="capacity-override-sticks-for-later-reports-without-capacity",
        ),
        pytest.param(
            [
                occ("a", D(2024, 7, 1), 1960, capacity=2100),
                occ("b", D(2024, 7, 2), 2040, capacity=1800),
            ],
            ["applied", "applied"],
            D(2024, 7, 2),
            2040,
            1800,
            0,
            0,
            id="newer-capacity-override-replaces-older",
        ),
        pytest.param(
            [occ("a", D(2024, 7, 1), 1960, capacity=0)],
            ["applied"],
            D(2024, 7, 1),
            1960,
            0,
            0,
            0,
            id="capacity-zero-is-an-override-not-absent",
        ),
        pytest.param(
            [occ("a", D(2024, 7, 1), 1960), intake("i", D(2024, 7, 2), arrivals=300)],
            ["applied", "applied"],
            D(2024, 7, 1),
            1960,
            2000,
            0,
            0,
            id="intake-never-changes-current-occupancy",
        ),
    ],
)
def test_apply_reports(
    reports: list[OccupancyReport | IntakeReport],
    outcomes: list[str],
    latest: dt.date,
    occupancy: int,
    capacity: int,
    without_bed: int,
    outside: int,
) -> None:
    state, got = run(*reports)
    assert [o.value for o in got] == outcomes
    assert state.latest_date == latest
    assert state.occupancy == occupancy
    assert state.capacity(TER_APEL) == capacity
    assert state.free_places(TER_APEL) == capacity - occupancy
    assert state.without_bed == without_bed
    assert state.slept_outside == outside


def test_duplicate_returns_the_very_same_state() -> None:
    state, _ = run(occ("a", D(2024, 7, 1), 1960))
    again, outcome = apply_occupancy(state, occ("a", D(2024, 7, 1), 1960))
    assert outcome is Applied.DUPLICATE
    assert again == state


def test_correction_stores_history_for_its_date() -> None:
    state, _ = run(occ("b", D(2024, 7, 2), 2040), occ("a", D(2024, 7, 1), 1930, without_bed=12))
    day = state.day(D(2024, 7, 1))
    assert day is not None
    assert (day.occupancy_event, day.occupancy, day.without_bed) == ("a", 1930, 12)
    assert [d.date for d in state.days] == [D(2024, 7, 1), D(2024, 7, 2)]


def test_correction_overwrites_an_earlier_report_for_the_same_old_date() -> None:
    state, outcomes = run(
        occ("a", D(2024, 7, 1), 1930),
        occ("b", D(2024, 7, 2), 2040),
        occ("a2", D(2024, 7, 1), 1945),
    )
    assert outcomes == [Applied.APPLIED, Applied.APPLIED, Applied.CORRECTION]
    day = state.day(D(2024, 7, 1))
    assert day is not None and day.occupancy == 1945 and day.occupancy_event == "a2"
    assert state.occupancy == 2040


def test_occupancy_and_intake_share_one_day_record() -> None:
    state, _ = run(
        intake("i", D(2024, 7, 1), arrivals=120, transfers_out=30, departures=5, unplaced=7),
        occ("a", D(2024, 7, 1), 1960, slept_outside=3),
    )
    assert state.days == (
        DayRecord(
            date=D(2024, 7, 1),
            occupancy_event="a",
            occupancy=1960,
            without_bed=0,
            slept_outside=3,
            intake_event="i",
            arrivals=120,
            transfers_out=30,
            departures=5,
            unplaced=7,
            seen=("i", "a"),
        ),
    )


def test_history_is_bounded_to_history_days() -> None:
    first = D(2024, 1, 1)
    reports = [
        occ(f"e{i}", first + dt.timedelta(days=i), 1000 + i) for i in range(HISTORY_DAYS + 5)
    ]
    # The engine has run the flow rules up to date: nothing is held back.
    state, _ = run(*reports, hold_from=D(2100, 1, 1))
    assert HISTORY_DAYS == 42
    assert len(state.days) == 42
    # 47 reports from 1 Jan: newest 16 Feb, oldest kept 6 Jan (newest - 41 days)
    assert state.days[-1].date == D(2024, 2, 16)
    assert state.days[0].date == D(2024, 1, 6)
    assert state.day(D(2024, 1, 5)) is None


def test_days_waiting_for_flow_rules_are_held_but_not_for_ever() -> None:
    first = D(2024, 1, 1)
    reports = [occ(f"e{i}", first + dt.timedelta(days=i), 1000) for i in range(100)]
    state, _ = run(*reports)  # no flow rules ran: every day still waits, up to MAX_HELD_DAYS
    assert len(state.days) == MAX_HELD_DAYS == 90
    state, _ = run(*reports, hold_from=first + dt.timedelta(days=20))
    assert state.days[0].date == first + dt.timedelta(days=20)


def test_correction_older_than_the_horizon_is_not_kept() -> None:
    first = D(2024, 1, 1)
    reports = [occ(f"e{i}", first + dt.timedelta(days=i), 1000) for i in range(35)]
    state, _ = run(*reports, hold_from=D(2100, 1, 1))
    before = state
    state, outcome = apply_occupancy(state, occ("old", D(2023, 12, 1), 5))
    assert outcome is Applied.CORRECTION
    assert state == before


# --------------------------------------------------------------------------- apply_intake


@pytest.mark.parametrize(
    ("reports", "outcome"),
    [
        pytest.param([intake("i", D(2024, 7, 1), arrivals=10)], "applied", id="first"),
        pytest.param(
            [intake("i", D(2024, 7, 2)), intake("j", D(2024, 7, 1), arrivals=4)],
            "correction",
            id="older-date-correction",
        ),
        pytest.param(
            [occ("a", D(2024, 7, 2), 1960), intake("j", D(2024, 7, 1))],
            "correction",
            id="older-than-newest-occupancy-day",
        ),
        pytest.param(
            [intake("i", D(2024, 7, 1)), intake("i", D(2024, 7, 1), arrivals=99)],
            "duplicate",
            id="repeated-event-id",
        ),
        pytest.param(
            [intake("i", D(2024, 7, 1)), intake("j", D(2024, 7, 1), arrivals=3)],
            "applied",
            id="same-day-new-event",
        ),
    ],
)
def test_apply_intake_outcome(reports: list[OccupancyReport | IntakeReport], outcome: str) -> None:
    _, outcomes = run(*reports)
    assert outcomes[-1].value == outcome


def test_intake_duplicate_keeps_the_first_figures() -> None:
    state, _ = run(intake("i", D(2024, 7, 1), arrivals=10), intake("i", D(2024, 7, 1), arrivals=99))
    day = state.day(D(2024, 7, 1))
    assert day is not None and day.arrivals == 10


def test_intake_correction_stores_history_without_touching_current() -> None:
    state, _ = run(occ("a", D(2024, 7, 2), 2040), intake("i", D(2024, 7, 1), arrivals=77))
    day = state.day(D(2024, 7, 1))
    assert day is not None and day.arrivals == 77 and day.occupancy is None
    assert (state.latest_date, state.occupancy) == (D(2024, 7, 2), 2040)


@pytest.mark.parametrize("kind", ["occupancy", "intake"])
def test_redelivered_event_after_same_day_recount_is_duplicate(kind: str) -> None:
    if kind == "occupancy":
        first, second = occ("a", D(2024, 7, 5), 2100), occ("b", D(2024, 7, 5), 2120)
    else:
        first = intake("a", D(2024, 7, 5), arrivals=100)
        second = intake("b", D(2024, 7, 5), arrivals=120)
    state, _ = run(first, second)
    again, outcome = (
        apply_occupancy(state, first)  # type: ignore[arg-type]
        if kind == "occupancy"
        else apply_intake(state, first)  # type: ignore[arg-type]
    )
    assert outcome is Applied.DUPLICATE
    assert again == state


def test_capacity_is_the_same_whatever_the_arrival_order() -> None:
    day1 = occ("a", D(2024, 7, 1), 1960, capacity=2500)
    day2 = occ("b", D(2024, 7, 2), 2040)
    in_order, _ = run(day1, day2)
    late, _ = run(day2, day1)
    assert in_order.capacity(TER_APEL) == 2500
    assert late.capacity(TER_APEL) == 2500


# --------------------------------------------------------------------------- properties

counts = st.integers(min_value=0, max_value=5000)
BASE = D(2024, 1, 1)


@st.composite
def distinct_date_reports(
    draw: st.DrawFn, *, newest_capacity: bool = False
) -> list[OccupancyReport]:
    """Reports within the history window, one per date, event ids unique, in random order."""
    offsets = draw(st.lists(st.integers(0, HISTORY_DAYS - 1), min_size=1, max_size=10, unique=True))
    newest = max(offsets)
    reports = []
    for offset in offsets:
        capacity = draw(st.one_of(st.none(), counts))
        if newest_capacity and offset == newest:
            capacity = draw(counts)
        reports.append(
            OccupancyReport(
                event_id=f"occ-{offset}",
                location_id="ter-apel",
                date=BASE + dt.timedelta(days=offset),
                occupancy=draw(counts),
                capacity=capacity,
                without_bed=draw(counts),
                slept_outside=draw(counts),
            )
        )
    return reports


@given(reports=distinct_date_reports(newest_capacity=True))
def test_free_places_come_from_the_newest_report(reports: list[OccupancyReport]) -> None:
    state, _ = run(*reports)
    newest = max(reports, key=lambda r: r.date)
    assert newest.capacity is not None
    assert state.free_places(TER_APEL) == newest.capacity - newest.occupancy


@given(reports=distinct_date_reports(), registered=counts)
def test_without_any_capacity_in_reports_the_registered_one_is_used(
    reports: list[OccupancyReport], registered: int
) -> None:
    reports = [OccupancyReport(r.event_id, r.location_id, r.date, r.occupancy) for r in reports]
    location = a_location(kind="regular", capacity=registered, cap=None)
    state, _ = run(*reports)
    newest = max(reports, key=lambda r: r.date)
    assert state.free_places(location) == registered - newest.occupancy


@given(reports=distinct_date_reports(), data=st.data())
def test_applying_a_report_twice_equals_once(
    reports: list[OccupancyReport], data: st.DataObject
) -> None:
    prefix, _ = run(*reports[:-1])
    last = reports[-1]
    once, first = apply_occupancy(prefix, last)
    twice, second = apply_occupancy(once, last)
    assert first is not Applied.DUPLICATE
    assert second is Applied.DUPLICATE
    assert twice == once
    # and any earlier report redelivered later changes nothing either
    again = data.draw(st.sampled_from(reports))
    replayed, outcome = apply_occupancy(once, again)
    assert outcome is Applied.DUPLICATE
    assert replayed == once


@given(reports=distinct_date_reports(), data=st.data())
@settings(max_examples=60)
def test_any_order_ends_with_the_current_figures_of_the_newest_date(
    reports: list[OccupancyReport], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(reports))
    newest = max(reports, key=lambda r: r.date)
    state, _ = run(*shuffled)
    assert state.latest_date == newest.date
    assert state.occupancy == newest.occupancy
    assert state.without_bed == newest.without_bed
    assert state.slept_outside == newest.slept_outside
    in_date_order, _ = run(*sorted(reports, key=lambda r: r.date))
    assert state.days == in_date_order.days
    assert [d.date for d in state.days] == sorted(r.date for r in reports)


@given(
    occupancy_reports=distinct_date_reports(),
    flows=st.lists(
        st.tuples(st.integers(0, HISTORY_DAYS - 1), counts, counts), min_size=1, max_size=8
    ),
)
def test_intake_never_changes_the_current_figures(
    occupancy_reports: list[OccupancyReport], flows: list[tuple[int, int, int]]
) -> None:
    state, _ = run(*occupancy_reports)
    for n, (offset, arrivals, departures) in enumerate(flows):
        report = intake(
            f"in-{n}", BASE + dt.timedelta(days=offset), arrivals=arrivals, departures=departures
        )
        new, _ = apply_intake(state, report)
        assert (new.latest_date, new.occupancy, new.capacity_override) == (
            state.latest_date,
            state.occupancy,
            state.capacity_override,
        )
        assert (new.without_bed, new.slept_outside) == (state.without_bed, state.slept_outside)
        state = new


# --------------------------------------------------------------------------- totals

provinces = st.sampled_from(["GR", "FR", "DR", "NB"])
contributions = st.builds(
    Contribution,
    location_id=st.text("abcdefgh-", min_size=1, max_size=8),
    province=provinces,
    date=st.dates(D(2024, 1, 1), D(2024, 12, 31)),
    occupancy=counts,
    capacity=counts,
    without_bed=counts,
    slept_outside=counts,
    active=st.booleans(),
    asylum=st.booleans(),
    locations=st.integers(1, 30),
)


def share(
    location_id: str,
    date: dt.date,
    occupancy: int,
    capacity: int,
    without_bed: int = 0,
    slept_outside: int = 0,
    **extra: Any,
) -> Contribution:
    return Contribution(
        location_id=location_id,
        province="GR",
        date=date,
        occupancy=occupancy,
        capacity=capacity,
        without_bed=without_bed,
        slept_outside=slept_outside,
        **extra,
    )


def test_sum_contributions_table() -> None:
    items = [
        share("ter-apel", D(2024, 7, 2), 2380, 2000, 60, 12),
        share("musselkanaal", D(2024, 7, 1), 480, 500),
        share("closed", D(2024, 7, 5), 100, 100, 1, 1, active=False),
        share("oekraine-1", D(2024, 7, 3), 90, 120, asylum=False),
        share("oekraine-2", D(2024, 6, 30), 10, 40, 2, 0, asylum=False),
        share("oekraine-x", D(2024, 7, 9), 10, 40, 2, 0, active=False, asylum=False),
        share("province-rest", D(2024, 7, 1), 1000, 1200, 5, 0, locations=4),
    ]
    asylum = sum_contributions(items)
    assert (asylum.occupancy, asylum.capacity, asylum.without_bed, asylum.slept_outside) == (
        3860,
        3700,
        65,
        12,
    )
    assert (asylum.locations, asylum.date, asylum.free_places) == (6, D(2024, 7, 2), -160)
    ukrainian = sum_contributions(items, asylum=False)
    assert (ukrainian.occupancy, ukrainian.capacity, ukrainian.without_bed) == (100, 160, 2)
    assert (ukrainian.locations, ukrainian.date, ukrainian.free_places) == (2, D(2024, 7, 3), 60)
    empty = sum_contributions([])
    assert (empty.occupancy, empty.capacity, empty.locations, empty.date) == (0, 0, 0, None)
    assert empty.utilisation is None


@given(items=st.lists(contributions, max_size=12))
def test_sum_contributions_sums_active_members_of_one_stream(items: list[Contribution]) -> None:
    for asylum in (True, False):
        members = [c for c in items if c.active and c.asylum is asylum]
        totals = sum_contributions(items, asylum=asylum)
        assert totals.occupancy == sum(c.occupancy for c in members)
        assert totals.capacity == sum(c.capacity for c in members)
        assert totals.without_bed == sum(c.without_bed for c in members)
        assert totals.slept_outside == sum(c.slept_outside for c in members)
        assert totals.locations == sum(c.locations for c in members)
        assert totals.date == max((c.date for c in members), default=None)
        assert totals.free_places == totals.capacity - totals.occupancy
    # what is left out never matters
    kept = [c for c in items if c.active and c.asylum]
    assert sum_contributions(items) == sum_contributions(kept)


def test_contribution_of_a_location() -> None:
    assert contribution(TER_APEL, LocationState("ter-apel")) is None
    state, _ = run(occ("a", D(2024, 7, 2), 2380, capacity=2100, without_bed=60, slept_outside=4))
    got = contribution(TER_APEL, state)
    assert got is not None
    assert (got.location_id, got.province, got.date) == ("ter-apel", "GR", D(2024, 7, 2))
    assert (got.occupancy, got.capacity, got.without_bed, got.slept_outside) == (2380, 2100, 60, 4)
    assert (got.active, got.asylum, got.locations) == (True, True, 1)
    ukrainian = Location("oekraine-1", "Hotel", "ukrainian", "GM0014", "GR", 100, active=False)
    got = contribution(ukrainian, state)
    assert got is not None and (got.asylum, got.active) == (False, False)


# --------------------------------------------------------------------------- on_contribution


def test_on_contribution_keeps_the_newer_member() -> None:
    newer = share("ter-apel", D(2024, 7, 2), 2380, 2000)
    older = share("ter-apel", D(2024, 7, 1), 1960, 2000)
    same_day = share("ter-apel", D(2024, 7, 2), 2390, 2000)
    other = share("musselkanaal", D(2024, 6, 1), 480, 500)
    record = on_contribution(AggregateRecord("GR"), newer)
    record = on_contribution(record, older)
    totals = record.totals()
    assert (totals.occupancy, totals.capacity, totals.date, totals.locations) == (
        2380,
        2000,
        D(2024, 7, 2),
        1,
    )
    record = on_contribution(record, same_day)  # a same-day recount replaces
    record = on_contribution(record, other)
    totals = record.totals()
    assert (totals.occupancy, totals.capacity, totals.date, totals.locations) == (
        2870,
        2500,
        D(2024, 7, 2),
        2,
    )


@given(dates=st.lists(st.dates(D(2024, 1, 1), D(2024, 3, 1)), min_size=1, max_size=10))
def test_on_contribution_never_goes_back_in_time(dates: list[dt.date]) -> None:
    record = AggregateRecord("GR")
    for n, date in enumerate(dates):
        record = on_contribution(record, share("ter-apel", date, n, 2000))
    totals = record.totals()
    assert totals.locations == 1
    assert totals.date == max(dates)
    # among equal newest dates, the last one to arrive wins
    assert totals.occupancy == max(n for n, d in enumerate(dates) if d == max(dates))


# --------------------------------------------------------------------------- round trips

day_records = st.builds(
    DayRecord,
    date=st.dates(D(2000, 1, 1), D(2099, 12, 31)),
    occupancy_event=st.one_of(st.none(), st.text(max_size=8)),
    occupancy=st.one_of(st.none(), counts),
    capacity=st.one_of(st.none(), counts),
    without_bed=counts,
    slept_outside=counts,
    intake_event=st.one_of(st.none(), st.text(max_size=8)),
    arrivals=counts,
    transfers_out=counts,
    departures=counts,
    unplaced=counts,
)
location_states = st.builds(
    LocationState,
    location_id=st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True),
    latest_date=st.one_of(st.none(), st.dates(D(2000, 1, 1), D(2099, 12, 31))),
    occupancy=counts,
    capacity_override=st.one_of(st.none(), counts),
    without_bed=counts,
    slept_outside=counts,
    days=st.lists(day_records, max_size=4).map(tuple),
)
alert_states = st.builds(
    AlertState,
    alert_id=st.text(min_size=1, max_size=12),
    rule=st.sampled_from(["cap_exceeded", "cap_near"]),
    firing=st.booleans(),
    severity=st.one_of(st.none(), st.sampled_from(["info", "warning", "critical"])),
    revision=st.integers(0, 50),
    starts_at=st.one_of(st.none(), st.just("2024-07-01T09:00:00+02:00")),
    pending=st.integers(0, 5),
    clearing=st.integers(0, 5),
    last_date=st.one_of(st.none(), st.dates(D(2000, 1, 1), D(2099, 12, 31))),
)
location_records = st.builds(
    LocationRecord,
    state=location_states,
    alerts=st.dictionaries(st.sampled_from(["cap_exceeded", "cap_near"]), alert_states),
)
aggregate_records = st.builds(
    lambda subject, items: functools.reduce(on_contribution, items, AggregateRecord(subject)),
    provinces,
    st.lists(contributions, max_size=6),
)


def _through_json(data: dict[str, Any]) -> dict[str, Any]:
    """What a table stores is JSON: the dict must survive a trip through it."""
    result: dict[str, Any] = json.loads(json.dumps(data))
    return result


@given(value=day_records)
def test_day_record_round_trip(value: DayRecord) -> None:
    assert DayRecord.from_dict(_through_json(value.to_dict())) == value


@given(value=location_states)
def test_location_state_round_trip(value: LocationState) -> None:
    assert LocationState.from_dict(_through_json(value.to_dict())) == value


@given(value=contributions)
def test_contribution_round_trip(value: Contribution) -> None:
    assert Contribution.from_dict(_through_json(value.to_dict())) == value


def test_a_contribution_leaves_out_only_fields_at_their_default() -> None:
    plain = Contribution("loc", "GR", dt.date(2025, 1, 1), 10, 20)
    assert plain.to_dict() == {
        "location_id": "loc",
        "province": "GR",
        "date": "2025-01-01",
        "occupancy": 10,
        "capacity": 20,
    }
    busy = dataclasses.replace(plain, without_bed=3, final=False, asylum=False)
    assert {"without_bed", "final", "asylum"} <= set(busy.to_dict())
    assert Contribution.from_dict(busy.to_dict()) == busy


@given(value=location_records)
def test_location_record_round_trip(value: LocationRecord) -> None:
    assert LocationRecord.from_dict(_through_json(value.to_dict())) == value


@given(value=aggregate_records)
def test_aggregate_record_round_trip(value: AggregateRecord) -> None:
    assert AggregateRecord.from_dict(_through_json(value.to_dict())) == value


def test_location_state_to_dict_shape() -> None:
    state, _ = run(occ("a", D(2024, 7, 2), 2380, capacity=2100))
    assert state.to_dict() == {
        "location_id": "ter-apel",
        "latest_date": "2024-07-02",
        "occupancy": 2380,
        "capacity_override": 2100,
        "capacity_override_date": "2024-07-02",
        "hold_from": None,
        "without_bed": 0,
        "slept_outside": 0,
        "days": [
            {
                "date": "2024-07-02",
                "seen": ["a"],
                "occupancy_event": "a",
                "occupancy": 2380,
                "capacity": 2100,
                "without_bed": 0,
                "slept_outside": 0,
                "intake_event": None,
                "arrivals": 0,
                "transfers_out": 0,
                "departures": 0,
                "unplaced": 0,
            }
        ],
    }
