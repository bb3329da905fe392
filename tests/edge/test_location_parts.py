"""The location store's weeks, and the parts it keeps with its cached record so that a write does
not split the record before it again: kept parts must never be those of another version.

Each step stages a version of one location and checks what a restart would read back: a fresh
store over the same tables gives exactly the version staged, and the weeks table holds exactly
its weeks with their days."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from alerts.capacity.location import DayRecord, LocationState
from alerts.capacity.penalties import PenaltyTally
from alerts.engine import LocationRecord
from alerts.rules.lifecycle import AlertState
from streams.state.batch import Overlay
from streams.state.locations import LocationHead, LocationStore, week_key, week_of
from streams.state.split import Changes

START = dt.date(2022, 8, 1)  # a Monday
KEY = "ter-apel"


class Table:
    """What staging uses of a Faust table: its data."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}

    def get(self, key: Any) -> Any:
        return self.data.get(key)

    def keys(self) -> Any:
        return self.data.keys()


def day(n: int, occupancy: int = 1500) -> DayRecord:
    date = START + dt.timedelta(days=n)
    return DayRecord(date, occupancy_event=f"e{n}-{occupancy}", occupancy=occupancy)


def record(*days: DayRecord, occupancy: int = 1500) -> LocationRecord:
    return LocationRecord(LocationState(KEY, occupancy=occupancy, days=tuple(days)))


def stage(store: LocationStore, version: LocationRecord, offset: int) -> Changes:
    changes = Changes()
    store.stage(changes, 0, KEY, version, {"occupancy:0": offset})
    return changes


def written_weeks(changes: Changes) -> set[str]:
    return {key for _, _, key, _ in changes.rows}


def deleted_weeks(changes: Changes) -> set[str]:
    return {key for _, _, key, _ in changes.deletes}


def week(n: int) -> str:
    return week_key(KEY, week_of(START + dt.timedelta(days=n)))


def assert_stored(store: LocationStore, version: LocationRecord) -> None:
    """A restart (a fresh store over the same tables) reads back ``version``, and the weeks table
    holds its weeks, each with the very values of its days."""
    assert LocationStore(store.heads, store.rows).get(KEY) == version
    by_week: dict[str, list[DayRecord]] = {}
    for d in version.state.days:
        by_week.setdefault(week_key(KEY, week_of(d.date)), []).append(d)
    assert {key: list(v.row.days) for key, v in store.rows.data.items()} == by_week


def test_a_week_changed_in_place_a_corrected_day_and_a_dropped_week_are_all_written() -> None:
    store = LocationStore(Table(), Table())
    days = [day(n) for n in range(21)]  # three whole weeks
    v1 = record(*days)
    assert written_weeks(stage(store, v1, 1)) == {week(0), week(7), week(14)}
    assert_stored(store, v1)

    # A recount of a day of the oldest week: only that week is written again.
    v2 = record(*days[:3], day(3, 1700), *days[4:])
    changes = stage(store, v2, 2)
    assert written_weeks(changes) == {week(0)} and not deleted_weeks(changes)
    assert_stored(store, v2)

    # The oldest week goes and a new one starts.
    v3 = record(*v2.state.days[7:], day(21))
    changes = stage(store, v3, 3)
    assert written_weeks(changes) == {week(21)}
    assert deleted_weeks(changes) == {week(0)}
    assert_stored(store, v3)

    # A day of the middle week replaced by an equal day that is another object: by identity,
    # as the core keeps what it does not change, the week is written (never a false "same").
    v4 = record(*v3.state.days[:2], dataclasses.replace(v3.state.days[2]), *v3.state.days[3:])
    assert written_weeks(stage(store, v4, 4)) == {week(7)}
    assert_stored(store, v4)

    # Back to the first version, whose parts the store split two versions ago.
    changes = stage(store, v1, 5)
    assert written_weeks(changes) == {week(0), week(7)}  # week 14 holds v1's days again
    assert deleted_weeks(changes) == {week(21)}
    assert_stored(store, v1)


def test_the_same_record_again_writes_only_its_offsets() -> None:
    store = LocationStore(Table(), Table())
    v1 = record(*(day(n) for n in range(10)))
    stage(store, v1, 1)
    changes = stage(store, v1, 2)
    assert not changes.rows and not changes.deletes
    assert [head.offsets for _, _, _, head in changes.heads] == [{"occupancy:0": 2}]
    assert_stored(store, v1)


def test_a_head_that_is_not_the_cached_one_is_split_again() -> None:
    """Another writer (a recovery, a rebalance) put a new head in the table: the parts kept with
    the cached record are those of an older version and must not be used."""
    store = LocationStore(Table(), Table())
    v1 = record(*(day(n) for n in range(14)))
    stage(store, v1, 1)
    # Meanwhile the tables take a version with a recount of day 13.
    v2 = record(*v1.state.days[:13], day(13, 1800))
    other = LocationStore(store.heads, store.rows)
    other.get(KEY)
    stage(other, v2, 2)
    # A version built on v1's days: its week 7 holds v1's days, which the table no longer has.
    v3 = record(*v1.state.days, day(14))
    assert written_weeks(stage(store, v3, 3)) == {week(7), week(14)}
    assert_stored(store, v3)


@pytest.mark.parametrize(
    "numbers",
    [
        (),
        (0,),
        (6, 7),
        tuple(range(42)),
        (0, 1, 2, 30, 31, 90),  # gaps of weeks
        (9, 3, 8, 0, 1),  # not in date order: grouped as ever, in the order given
    ],
)
def test_weeks_hold_every_day_once_under_its_monday(numbers: tuple[int, ...]) -> None:
    days = [day(n) for n in numbers]
    parts = LocationStore(Table(), Table()).parts(record(*days))
    expected: dict[dt.date, list[DayRecord]] = {}
    for d in days:
        expected.setdefault(d.date - dt.timedelta(days=d.date.weekday()), []).append(d)
    assert {monday: list(week) for monday, week in parts.items()} == expected
    for monday, week in parts.items():
        assert all(a is b for a, b in zip(week, expected[monday], strict=True))


def test_a_week_is_handed_back_as_the_earlier_tuple_only_with_the_very_same_days() -> None:
    store = LocationStore(Table(), Table())
    days = [day(n) for n in range(14)]
    earlier = store.parts(record(*days))
    monday0, monday1 = sorted(earlier)
    later = store.parts_after(record(*days[:13], day(13, 1600)), earlier)
    assert later[monday0] is earlier[monday0]
    assert later[monday1] is not earlier[monday1]
    assert later[monday1][-1].occupancy == 1600
    shorter = store.parts_after(record(*days[:12]), earlier)
    assert shorter[monday1] == tuple(days[7:12])


def test_a_batch_reads_the_offset_of_a_source_as_its_merged_offsets_give_it() -> None:
    store = LocationStore(Table(), Table())
    changes = Changes()
    store.stage(changes, 0, KEY, record(day(0)), {"occupancy:0": 5, "intake:0": 3})
    batch = Overlay(store)
    sources = ("occupancy:0", "intake:0", "occupancy:1")

    def both() -> list[tuple[int, int]]:
        return [(batch.offset(KEY, s), batch.offsets(KEY).get(s, -1)) for s in sources]

    assert both() == [(5, 5), (3, 3), (-1, -1)]
    batch.set(0, KEY, record(day(0), day(1)), {"occupancy:0": 7})
    assert both() == [(7, 7), (3, 3), (-1, -1)]
    batch.set(0, KEY, record(day(0), day(1)), {"occupancy:1": 0})
    assert both() == [(7, 7), (3, 3), (0, 0)]
    assert batch.offset("elsewhere", "occupancy:0") == -1
    plain = Overlay(Table())  # a plain table keeps no offsets
    plain.set(0, KEY, 1, {"occupancy:0": 2})
    assert plain.offset(KEY, "occupancy:0") == plain.offsets(KEY).get("occupancy:0", -1) == 2


def test_the_head_is_the_whole_record_but_its_days() -> None:
    state = LocationState(KEY, START, 2100, 2200, START, START, 3, 1, (day(0), day(1), day(2)))
    full = LocationRecord(
        state,
        {"cap_exceeded": AlertState("a1", "cap_exceeded", True, "critical", 2)},
        {"coa": PenaltyTally("coa", 2, 500, START)},
        START + dt.timedelta(days=1),
        START + dt.timedelta(days=2),
    )
    head = LocationStore(Table(), Table()).head(full)
    bare = dataclasses.replace(full, state=dataclasses.replace(state, days=()))
    assert head == LocationHead(bare, (day(0).date, day(1).date, day(2).date))
    assert head.record.to_dict() == {**full.to_dict(), "state": {**state.to_dict(), "days": []}}
