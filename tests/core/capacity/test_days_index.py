"""A location state looks its days up by date and its event ids up in an index it keeps beside
``days`` (issue 12: a scan of six weeks of days per report was a large part of the core's time).
The index is derived and never serialised, so it must answer exactly what a scan of ``days``
answers, after any sequence of reports, and after a trip through the changelog's JSON.

The reference here is the plain version the index replaced: every lookup a scan of ``days``,
every store a sort of the whole history.
"""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.capacity.location import (
    HISTORY_DAYS,
    MAX_HELD_DAYS,
    MAX_KEPT_DAYS,
    Applied,
    DayRecord,
    LocationState,
    apply_intake,
    apply_occupancy,
    flows_as_of,
)
from alerts.model import IntakeReport, OccupancyReport

BASE = dt.date(2025, 1, 1)
Report = OccupancyReport | IntakeReport


def reference_apply(state: LocationState, report: Report) -> tuple[LocationState, Applied]:
    """``apply_occupancy`` / ``apply_intake`` as they were before the index: scans and a sort."""
    if any(report.event_id in d.seen for d in state.days):
        return state, Applied.DUPLICATE
    previous = next((d for d in state.days if d.date == report.date), DayRecord(report.date))
    record = (
        previous.with_occupancy(report)
        if isinstance(report, OccupancyReport)
        else previous.with_intake(report)
    )
    kept = sorted([*(d for d in state.days if d.date != report.date), record], key=lambda d: d.date)
    # Kept: the days the next morning count's rules may look back at (counted back from the
    # newest morning count), the days after it, and nothing older than MAX_KEPT_DAYS.
    counts = [d.date for d in kept if d.occupancy is not None]
    counted = max(counts) if counts else None
    hold = state.hold_from

    def keep(date: dt.date) -> bool:
        if (kept[-1].date - date).days >= MAX_KEPT_DAYS:
            return False
        if counted is None or date > counted:
            return True
        back = (counted - date).days
        held = back < MAX_HELD_DAYS and (hold is None or hold <= date)
        return back < HISTORY_DAYS or held

    days = tuple(d for d in kept if keep(d.date))
    if isinstance(report, IntakeReport):
        newest_before = max((d.date for d in state.days), default=report.date)
        outcome = Applied.CORRECTION if report.date < newest_before else Applied.APPLIED
        return LocationState(state.location_id, state.latest_date, state.occupancy,
                             state.capacity_override, state.capacity_override_date,
                             state.hold_from, state.without_bed, state.slept_outside,
                             days), outcome  # fmt: skip
    override, override_date = state.capacity_override, state.capacity_override_date
    if report.capacity is not None and (override_date is None or report.date >= override_date):
        override, override_date = report.capacity, report.date
    if state.latest_date is not None and report.date < state.latest_date:
        current = (state.latest_date, state.occupancy, state.without_bed, state.slept_outside)
        outcome = Applied.CORRECTION
    else:
        current = (report.date, report.occupancy, report.without_bed, report.slept_outside)
        outcome = Applied.APPLIED
    latest, occupancy, without_bed, outside = current
    return LocationState(state.location_id, latest, occupancy, override, override_date,
                         state.hold_from, without_bed, outside, days), outcome  # fmt: skip


def apply(state: LocationState, report: Report) -> tuple[LocationState, Applied]:
    if isinstance(report, OccupancyReport):
        return apply_occupancy(state, report)
    return apply_intake(state, report)


def held(state: LocationState, hold_from: dt.date | None) -> LocationState:
    return LocationState(state.location_id, state.latest_date, state.occupancy,
                         state.capacity_override, state.capacity_override_date, hold_from,
                         state.without_bed, state.slept_outside, state.days)  # fmt: skip


@st.composite
def report_streams(draw: st.DrawFn) -> list[tuple[Report, int | None]]:
    """Reports over up to 150 days (so days leave the history), mostly in date order, with
    late and redelivered ones, and now and then a new ``hold_from`` (days back from the newest
    date) as the engine sets it; event ids name a date and a kind, so a redelivery of a day that
    has left the history comes back as new."""
    items: list[tuple[Report, int | None]] = []
    day = 0
    for _ in range(draw(st.integers(1, 120))):
        day += draw(st.sampled_from([0, 0, 1, 1, 1, 2, 9]))
        date = BASE + dt.timedelta(days=min(day, 150) - draw(st.sampled_from([0, 0, 0, 1, 50])))
        recount = draw(st.sampled_from(["", "", "", "b"]))
        figure = draw(st.integers(0, 40))
        report: Report
        if draw(st.booleans()):
            report = OccupancyReport(f"{date}:occ{recount}", "x", date, figure, capacity=None)
        else:
            report = IntakeReport(f"{date}:in{recount}", "x", date, figure, 1, 2, figure % 3)
        hold = draw(st.one_of(st.none(), st.none(), st.integers(0, 100)))
        items.append((report, hold))
    return items


@given(stream=report_streams())
@settings(max_examples=150, deadline=None)
def test_the_indexed_state_decides_as_a_scan_of_its_days(
    stream: list[tuple[Report, int | None]],
) -> None:
    state = reference = LocationState("x")
    for step, (report, hold) in enumerate(stream, start=1):
        state, outcome = apply(state, report)
        reference, expected = reference_apply(reference, report)
        assert outcome is expected
        assert state == reference
        # What the changelog gives back after a restart (no index) decides the same next time.
        restored = LocationState.from_dict(json.loads(json.dumps(state.to_dict())))
        assert restored == state
        if hold is not None and state.days:
            moved = state.days[-1].date - dt.timedelta(days=hold)
            state, reference = state.held_from(moved), held(reference, moved)
        # No day after intake_until holds intake; it is None only when no day does. Carried
        # along as days come in, so it may be later than what is left: for the restored state,
        # worked out afresh, it is exact.
        intake_dates = [d.date for d in reference.days if d.intake_event is not None]
        until = state.intake_until()
        if intake_dates:
            assert until is not None and max(intake_dates) <= until
        assert restored.intake_until() == (max(intake_dates) if intake_dates else None)
        for date in {d.date for d in reference.days} | {report.date, BASE}:
            found = next((d for d in reference.days if d.date == date), None)
            assert state.day(date) == found
            assert restored.day(date) == found
            assert state.flows(date) == flows_as_of(reference.days, date)
            counts = [d.occupancy for d in reference.days if d.date < date]
            newest_count = next((c for c in reversed(counts) if c is not None), None)
            assert state.occupancy_before(date) == newest_count
        # The view the flow rules read for an older morning count looks its days up as a scan
        # of the days up to that date does.
        counted = [d.date for d in reference.days if d.occupancy is not None]
        if counted:
            as_of = counted[len(counted) // 2]
            view = state.as_of(as_of)
            before = [d for d in reference.days if d.date <= as_of]
            assert view.days == tuple(before)
            for date in {d.date for d in reference.days} | {BASE}:
                assert view.day(date) == next((d for d in before if d.date == date), None)
            assert view.flows(as_of) == flows_as_of(before, as_of)
            other = stream[0][0]
            seen = any(other.event_id in d.seen for d in before)
            assert (apply(view, other)[1] is Applied.DUPLICATE) == seen
        if step % 7 and step != len(stream):
            continue
        for other in {r.event_id: r for r, _ in stream}.values():
            seen = any(other.event_id in d.seen for d in reference.days)
            assert (apply(state, other)[1] is Applied.DUPLICATE) == seen
            assert (apply(restored, other)[1] is Applied.DUPLICATE) == seen


def test_a_day_that_leaves_the_history_takes_its_event_ids_along() -> None:
    first = OccupancyReport("first", "x", BASE, 10)
    state, _ = apply_occupancy(LocationState("x"), first)
    later = BASE + dt.timedelta(days=MAX_HELD_DAYS + 5)
    state, _ = apply_occupancy(state, OccupancyReport("later", "x", later, 12))
    assert [d.date for d in state.days] == [later]
    # Redelivered after its day is gone: not known any more, so it is stored (and dropped again
    # at once, being older than the history), as the scan of ``days`` did.
    again, outcome = apply_occupancy(state, first)
    assert outcome is Applied.CORRECTION
    assert again.days == state.days
    assert apply_occupancy(again, OccupancyReport("later", "x", later, 99))[1] is Applied.DUPLICATE


def test_an_older_day_goes_into_its_place_among_the_days() -> None:
    """A report for a date older than the newest day is put in its place in date order (found by
    bisection): between two days, in place of the day of its date, or before every day."""

    def dates(state: LocationState) -> list[int]:
        return [(d.date - BASE).days for d in state.days]

    state = LocationState("x")
    for offset in (10, 12, 14, 16):
        date = BASE + dt.timedelta(days=offset)
        state, _ = apply_occupancy(state, OccupancyReport(f"occ-{offset}", "x", date, offset))
    middle = BASE + dt.timedelta(days=13)
    state, outcome = apply_intake(state, IntakeReport("in-13", "x", middle, 3, 1, 2))
    assert outcome is Applied.CORRECTION
    assert dates(state) == [10, 12, 13, 14, 16]
    assert state.day(middle) is not None and state.day(middle).intake_event == "in-13"
    # The same date again: the day is replaced (keeping what it held), not added twice.
    existing = BASE + dt.timedelta(days=12)
    state, _ = apply_intake(state, IntakeReport("in-12", "x", existing, 5, 1, 2))
    assert dates(state) == [10, 12, 13, 14, 16]
    replaced = state.days[1]
    assert (replaced.occupancy, replaced.intake_event) == (12, "in-12")
    assert replaced.seen == ("occ-12", "in-12")
    # Older than every day kept, and still inside the history.
    first = BASE + dt.timedelta(days=9)
    state, _ = apply_occupancy(state, OccupancyReport("occ-9", "x", first, 9))
    assert dates(state) == [9, 10, 12, 13, 14, 16]
    assert state.occupancy == 16  # a correction: the current figures stay the newest day's
    # Replacing the first day.
    state, _ = apply_intake(state, IntakeReport("in-9", "x", first, 1, 1, 1))
    assert dates(state) == [9, 10, 12, 13, 14, 16]
    assert state.days[0].seen == ("occ-9", "in-9")
    restored = LocationState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
