"""The changelog encoding of location week rows and heads, and of a province's or the nation's
member rows: compact, exact, and still able to read what older versions of the worker wrote.

A week row is the value the worker writes most. It carries the version it replaced, for the crash
case ``streams.state.split`` describes; that version is written as its difference to the new one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from alerts.capacity.location import DayRecord, LocationState
from alerts.capacity.totals import Contribution
from alerts.engine import LocationRecord
from streams.state.aggregates import MemberRow
from streams.state.locations import LocationHead, WeekRow
from streams.state.split import VersionedRows, Versions

MONDAY = dt.date(2022, 8, 1)
ROWS = VersionedRows(WeekRow)


def a_day(n: int, occupancy: int = 1900, **fields: object) -> DayRecord:
    date = MONDAY + dt.timedelta(days=n)
    occupancy_event = f"ter-apel:{date}:occ"
    intake_event = f"ter-apel:{date}:intake"
    values: dict[str, object] = {
        "occupancy_event": occupancy_event,
        "occupancy": occupancy,
        "intake_event": intake_event,
        "arrivals": 200,
        "transfers_out": 150,
        "departures": 12,
        "seen": (occupancy_event, intake_event),
    }
    values.update(fields)
    return DayRecord(date, **values)  # type: ignore[arg-type]


def through_json(value: Versions) -> Versions:
    return ROWS.from_dict(orjson.loads(orjson.dumps(value.to_dict())))


events = st.one_of(st.none(), st.text(min_size=1, max_size=12))
days = st.builds(
    DayRecord,
    date=st.dates(min_value=MONDAY, max_value=MONDAY + dt.timedelta(days=6)),
    occupancy_event=events,
    occupancy=st.one_of(st.none(), st.integers(0, 10_000)),
    capacity=st.one_of(st.none(), st.integers(0, 10_000)),
    without_bed=st.integers(0, 500),
    slept_outside=st.integers(0, 500),
    intake_event=events,
    arrivals=st.integers(0, 1000),
    transfers_out=st.integers(0, 1000),
    departures=st.integers(0, 1000),
    unplaced=st.integers(0, 1000),
    seen=st.lists(st.text(min_size=1, max_size=12), max_size=4).map(tuple),
)


@given(st.lists(days, max_size=7))
def test_any_week_of_days_reads_back_exactly(week: list[DayRecord]) -> None:
    # Also days whose ``seen`` names their own event ids in any order, more than once, or others.
    with_own = [
        DayRecord(
            **{
                **{name: getattr(day, name) for name in DayRecord.__slots__},
                "seen": (*day.seen, *(e for e in (day.intake_event, day.occupancy_event) if e)),
            }
        )
        for day in week
    ]
    for row in (WeekRow(tuple(week)), WeekRow(tuple(with_own))):
        assert WeekRow.from_dict(orjson.loads(orjson.dumps(row.to_dict()))) == row


def test_a_day_costs_a_third_of_what_it_did_as_a_dict() -> None:
    week = WeekRow(tuple(a_day(n) for n in range(7)))
    compact = len(orjson.dumps(week.to_dict()))
    as_dicts = len(orjson.dumps({"days": [day.to_dict() for day in week.days]}))
    assert compact * 2.5 < as_dicts


def test_rows_written_as_dicts_before_are_still_read() -> None:
    week = WeekRow((a_day(0), a_day(1, capacity=2000, unplaced=3)))
    old = {"days": [day.to_dict() for day in week.days]}
    assert WeekRow.from_dict(orjson.loads(orjson.dumps(old))) == week
    old_versions = {"seq": 4, "row": old, "prev_seq": 3, "prev": {"days": [a_day(0).to_dict()]}}
    read = ROWS.from_dict(orjson.loads(orjson.dumps(old_versions)))
    assert read == Versions(4, week, 3, WeekRow((a_day(0),)))


def test_the_replaced_version_is_written_as_its_difference() -> None:
    monday, tuesday, wednesday = a_day(0), a_day(1), a_day(2)
    recounted = a_day(1, occupancy=2050)
    cases = {
        "a day added": (WeekRow((monday, tuesday)), WeekRow((monday, tuesday, wednesday))),
        "a day recounted": (
            WeekRow((monday, tuesday, wednesday)),
            WeekRow((monday, recounted, wednesday)),
        ),
        "a day dropped from the history": (
            WeekRow((monday, tuesday, wednesday)),
            WeekRow((tuesday, wednesday)),
        ),
        "nothing shared": (WeekRow((monday,)), WeekRow((tuesday, wednesday))),
        "emptied": (WeekRow((monday,)), WeekRow(())),
    }
    for name, (before, after) in cases.items():
        versions = Versions(7, after, 6, before)
        read = through_json(versions)
        assert read == versions, name
        assert read.for_head(6) == before, name  # a head that never reached the changelog
        assert read.for_head(7) == after, name
        full = len(orjson.dumps(before.to_dict()))
        written = len(orjson.dumps(versions.to_dict())) - len(orjson.dumps(after.to_dict()))
        shared = sum(1 for day in before.days if day in after.days)
        assert written < full or not shared, name


def test_a_row_without_a_replaced_version_reads_back() -> None:
    versions = Versions(1, WeekRow((a_day(0),)))
    assert through_json(versions) == versions


def test_head_dates_are_written_as_runs_and_read_back() -> None:
    record = LocationRecord(LocationState("ter-apel"))
    for dates in (
        (),
        (MONDAY,),
        tuple(MONDAY + dt.timedelta(days=n) for n in range(90)),
        tuple(MONDAY + dt.timedelta(days=n) for n in (0, 1, 2, 5, 6, 30)),
    ):
        head = LocationHead(record, dates, 3, {"occupancy:0": 12})
        data = orjson.loads(orjson.dumps(head.to_dict()))
        assert LocationHead.from_dict(data) == head
        assert len(data["date_runs"]) <= 3


def test_heads_written_with_every_date_are_still_read() -> None:
    record = LocationRecord(LocationState("ter-apel"))
    dates = (MONDAY, MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=3))
    old = {
        **record.to_dict(),
        "dates": [d.isoformat() for d in dates],
        "seq": 2,
        "offsets": {"intake:1": 5},
    }
    assert LocationHead.from_dict(old) == LocationHead(record, dates, 2, {"intake:1": 5})


MEMBER_ROWS = VersionedRows(MemberRow)


def a_share(n: int, occupancy: int = 480, **fields: object) -> Contribution:
    date = MONDAY + dt.timedelta(days=n)
    return Contribution("azc-1", "GR", date, occupancy, 500, "AZC", "GM0014", **fields)  # type: ignore[arg-type]


def _as_difference(versions: Versions) -> dict[str, Any]:
    """``versions`` as a later worker may write it: the replaced row as its difference to the
    new one (positions of the very same contributions, the others in full)."""
    data = versions.to_dict()
    shared = {id(c): i for i, c in enumerate(versions.row.contributions)}
    data.pop("prev")
    data["prev_delta"] = {
        "c": [
            shared[id(c)] if id(c) in shared else c.to_dict() for c in versions.prev.contributions
        ]
    }
    return data


def test_a_member_rows_replaced_version_is_written_whole_and_read_either_way() -> None:
    """Written whole (so that the version before this one can read it back), and read back also
    as the difference a later version may write."""
    monday, tuesday, wednesday = a_share(0), a_share(1), a_share(2)
    recounted = a_share(1, occupancy=495, final=False)
    cases = {
        "a day added": (MemberRow((monday, tuesday)), MemberRow((monday, tuesday, wednesday))),
        "the newest recounted": (MemberRow((monday, tuesday)), MemberRow((monday, recounted))),
        "an old day let go of": (
            MemberRow((monday, tuesday, wednesday)),
            MemberRow((tuesday, wednesday)),
        ),
        "nothing shared": (MemberRow((monday,)), MemberRow((tuesday, wednesday))),
        "emptied": (MemberRow((monday, tuesday)), MemberRow(())),
    }
    for name, (before, after) in cases.items():
        versions = Versions(7, after, 6, before)
        written = orjson.loads(orjson.dumps(versions.to_dict()))
        assert "prev_delta" not in written and written["prev"] == before.to_dict(), name
        for data in (written, orjson.loads(orjson.dumps(_as_difference(versions)))):
            read = MEMBER_ROWS.from_dict(data)
            assert read == versions, name
            assert read.for_head(6) == before, name  # a head that never reached the changelog
            assert read.for_head(7) == after, name


@given(
    st.lists(st.integers(0, 5), max_size=6),
    st.lists(st.integers(0, 5), max_size=6),
)
def test_any_member_row_difference_reads_back(before: list[int], after: list[int]) -> None:
    # Rows drawn from one pool of contributions share objects the way a province's rows do; the
    # order is kept as written, whatever it is.
    pool = [a_share(n % 3, occupancy=400 + n) for n in range(6)]
    versions = Versions(
        3, MemberRow(tuple(pool[i] for i in after)), 2, MemberRow(tuple(pool[i] for i in before))
    )
    assert MEMBER_ROWS.from_dict(orjson.loads(orjson.dumps(_as_difference(versions)))) == versions


def test_member_rows_written_whole_before_are_still_read() -> None:
    before, after = MemberRow((a_share(0),)), MemberRow((a_share(0), a_share(1)))
    old = {"seq": 4, "row": after.to_dict(), "prev_seq": 3, "prev": before.to_dict()}
    assert MEMBER_ROWS.from_dict(orjson.loads(orjson.dumps(old))) == Versions(4, after, 3, before)
