"""The edge's state plumbing: batches that write each key once, and location records split into a
head and one row per week of days on the changelog. Faust tables are replaced by a recording fake
with what the code uses: the store (``data``) and a changelog topic whose sends are recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from builders import a_location, an_occupancy_report

from alerts import engine
from alerts.capacity.totals import Contribution
from alerts.config import AlertingConfig
from alerts.model import OccupancyReport
from streams.state import codecs
from streams.state.aggregates import AggregateHead, AggregateStore, MemberRow, member_key
from streams.state.batch import Overlay
from streams.state.locations import LocationHead, LocationStore, WeekRow, week_key, week_of
from streams.state.split import Changes, VersionedRows, Versions
from streams.web import api

TER_APEL = a_location(cap_source="afspraak")
CONFIG = AlertingConfig()
START = dt.date(2022, 8, 1)  # a Monday


def day_n(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def week_n(n: int) -> str:
    """The row key of the week that day ``n`` is in."""
    return week_key("ter-apel", week_of(day_n(n)))


class FakeChangelog:
    def __init__(self, table: FakeTable) -> None:
        self.table = table

    async def send_many(
        self, partition: int, messages: list[tuple[Any, Any]], **_: Any
    ) -> list[Any]:
        self.table.changelog.extend((partition, key, value) for key, value in messages)
        return []


class FakeTable:
    key_serializer = "json"
    value_serializer = "json"

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.changelog: list[tuple[int | None, Any, Any]] = []
        self.changelog_topic = FakeChangelog(self)

    def get(self, key: Any) -> Any:
        return self.data.get(key)

    def items(self) -> Any:
        return self.data.items()

    def keys(self) -> Any:
        return self.data.keys()


async def write_all(changes: Changes) -> None:
    """Every step of a batch's changelog writes, in order (``streams.state.split``)."""
    for step in (changes.rows, changes.heads, changes.deletes):
        await Changes.send(step)


async def write(
    store: Any, partition: int, key: str, record: Any, offsets: dict[str, int] | None = None
) -> int:
    changes = Changes()
    store.stage(changes, partition, key, record, offsets)
    await write_all(changes)
    return len(changes)


def report(day: int, occupancy: int) -> OccupancyReport:
    date = START + dt.timedelta(days=day)
    return an_occupancy_report(date, occupancy, event_id=f"e{day}")


def apply(record: engine.LocationRecord | None, day: int, occupancy: int) -> engine.LocationRecord:
    base = record if record is not None else engine.LocationRecord.new("ter-apel")
    return engine.on_occupancy(TER_APEL, base, report(day, occupancy), CONFIG).record


def store() -> tuple[LocationStore, FakeTable, FakeTable]:
    heads, days = FakeTable(), FakeTable()
    return LocationStore(heads, days), heads, days


def decoded_again(*tables: tuple[FakeTable, Any]) -> None:
    """What a recovery puts in the tables: every value as new objects, decoded from its JSON."""
    for table, kind in tables:
        for key, value in list(table.data.items()):
            table.data[key] = kind.from_dict(orjson.loads(orjson.dumps(value.to_dict())))


async def written_days(locations: LocationStore, count: int) -> engine.LocationRecord:
    """``count`` days of Ter Apel, each written on its own; returns the last record."""
    record = None
    for day in range(count):
        record = apply(record, day, 1500)
        await write(locations, 0, "ter-apel", record)
    assert record is not None
    return record


async def test_a_record_comes_back_whole_from_its_head_and_days() -> None:
    locations, heads, days = store()
    record = None
    for day in range(5):
        record = apply(record, day, 1900 + 30 * day)
    assert record is not None
    await write(locations, 2, "ter-apel", record)
    assert locations.get("ter-apel") == record
    assert set(days.data) == {week_n(0)}  # Monday to Friday: one week
    assert [d.date for d in days.data[week_n(0)].row.days] == [day_n(d) for d in range(5)]
    head = heads.data["ter-apel"]
    assert head.record.state.days == ()
    assert head.dates == tuple(START + dt.timedelta(days=d) for d in range(5))
    # Every write goes to the partition the location's reports come from.
    assert {p for p, _, _ in heads.changelog + days.changelog} == {2}


async def test_a_report_writes_its_head_and_only_the_week_it_changed() -> None:
    locations, heads, days = store()
    record = None
    for day in range(10):
        record = apply(record, day, 1500)
    assert record is not None
    await write(locations, 0, "ter-apel", record)
    heads.changelog.clear()
    days.changelog.clear()
    record = apply(locations.get("ter-apel"), 10, 1600)
    writes = await write(locations, 0, "ter-apel", record)
    assert len({week_n(d) for d in range(10)}) == 2  # days 0-9 lie in two weeks
    assert [key for _, key, _ in days.changelog] == [week_n(10)]
    assert [d.date for d in days.changelog[0][2].row.days] == [
        day_n(7),
        day_n(8),
        day_n(9),
        day_n(10),
    ]
    assert [key for _, key, _ in heads.changelog] == ["ter-apel"]
    assert writes == 2
    assert locations.get("ter-apel") == record


async def test_weeks_the_record_drops_are_deleted() -> None:
    locations, _, days = store()
    record = await written_days(locations, 100)
    kept = {d.date for d in record.state.days}
    assert len(kept) < 100  # the history is bounded...
    assert {week_key("ter-apel", week_of(d)) for d in kept} == set(days.data)  # ...and the table
    assert {d.date for row in days.data.values() for d in row.row.days} >= kept
    deleted = [key for _, key, value in days.changelog if value is None]
    assert week_n(0) in deleted
    assert len(deleted) == len(set(deleted))  # each week once


async def test_a_week_that_only_lost_its_oldest_days_is_not_written_again() -> None:
    # With a full history every new day pushes the oldest day out of the record; its week keeps
    # the row it had, and the head's dates say which of the row's days the record holds.
    locations, heads, days = store()
    record = await written_days(locations, 100)
    oldest = record.state.days[0].date
    days.changelog.clear()
    record = apply(locations.get("ter-apel"), 100, 1600)
    await write(locations, 0, "ter-apel", record)
    assert record.state.days[0].date > oldest  # the history lost a day...
    written = [key for _, key, value in days.changelog if value is not None]
    assert written == [week_n(100)]  # ...and only the week of the new day was written
    stale = days.data[week_key("ter-apel", week_of(oldest))].row.days
    assert oldest in {d.date for d in stale}  # the row still holds the dropped day
    # Read back from the changelog (a restart), the record is the same, without that day.
    decoded_again((heads, LocationHead), (days, VersionedRows(WeekRow)))
    assert locations.get("ter-apel") == record


async def test_after_a_recovery_the_record_is_rebuilt_from_the_tables() -> None:
    locations, heads, days = store()
    record = None
    for day in range(3):
        record = apply(record, day, 2100)
    assert record is not None
    await write(locations, 0, "ter-apel", record)
    # A recovery puts new objects in the tables, decoded from the changelog.
    decoded_again((heads, LocationHead), (days, VersionedRows(WeekRow)))
    rebuilt = locations.get("ter-apel")
    assert rebuilt == record
    assert rebuilt is not record
    assert dict(locations.items()) == {"ter-apel": record}


async def test_the_changelog_values_go_through_the_codecs() -> None:
    locations, heads, days = store()
    record = apply(apply(None, 0, 1999), 1, 2001)
    await write(locations, 0, "ter-apel", record)
    head = heads.data["ter-apel"]
    head_codec = codecs.RecordCodec(LocationHead)
    assert head_codec.loads(head_codec.dumps(head)) == head
    week = days.data[week_n(0)]
    week_codec = codecs.RecordCodec(VersionedRows(WeekRow))
    assert week_codec.loads(week_codec.dumps(week)) == week


async def test_a_batch_writes_each_key_once_with_the_last_value() -> None:
    table = FakeTable()
    batch = Overlay(table)
    batch.set(1, "GR", "first")
    batch.set(1, "GR", "second")
    batch.set(3, "FR", "only")
    assert batch.get("GR") == "second"  # reads see the batch's own writes
    assert table.get("GR") is None  # the table does not, until the flush
    changes = Changes()
    assert batch.stage(changes) == 2
    await write_all(changes)
    assert table.changelog == [(1, "GR", "second"), (3, "FR", "only")]
    assert dict(table.data) == {"GR": "second", "FR": "only"}
    assert batch.stage(Changes()) == 0


async def test_a_batch_over_the_location_store_writes_through_it() -> None:
    locations, heads, _ = store()
    batch = Overlay(locations)
    first = apply(None, 0, 1800)
    batch.set(0, "ter-apel", first)
    second = apply(batch.get("ter-apel"), 1, 1850)
    batch.set(0, "ter-apel", second)
    assert locations.get("ter-apel") is None
    changes = Changes()
    batch.stage(changes)
    await write_all(changes)
    assert locations.get("ter-apel") == second
    assert len(heads.changelog) == 1


# ---------------------------------------------------------------- provinces and the nation


def share(member: str, day: int, occupancy: int = 100) -> Contribution:
    return Contribution(member, "GR", START + dt.timedelta(days=day), occupancy, 200)


def aggregates() -> tuple[AggregateStore, FakeTable, FakeTable]:
    heads, members = FakeTable(), FakeTable()
    return AggregateStore(heads, members), heads, members


async def test_an_aggregate_comes_back_whole_from_its_head_and_member_rows() -> None:
    store, heads, members = aggregates()
    record = engine.AggregateRecord("GR")
    for member in ("a", "b", "c"):
        for day in range(3):
            record = engine.on_contribution(record, share(member, day))
    await write(store, 1, "GR", record)
    assert store.get("GR") == record
    assert set(members.data) == {member_key("GR", m) for m in ("a", "b", "c")}
    assert heads.data["GR"].members == ("a", "b", "c")
    assert heads.data["GR"].record.members == {}


async def test_a_contribution_rewrites_one_member_and_not_the_head() -> None:
    store, heads, members = aggregates()
    record = engine.AggregateRecord("GR")
    for member in ("a", "b", "c"):
        record = engine.on_contribution(record, share(member, 0))
    await write(store, 1, "GR", record)
    heads.changelog.clear()
    members.changelog.clear()
    updated = engine.on_contribution(record, share("b", 1))
    assert await write(store, 1, "GR", updated) == 2
    assert [key for _, key, _ in members.changelog] == [member_key("GR", "b")]
    # The head goes with it: it names the version of the rows it was written with.
    assert [key for _, key, _ in heads.changelog] == ["GR"]
    assert store.get("GR") == updated


async def test_closing_a_day_rewrites_only_the_members_it_prunes() -> None:
    store, _, members = aggregates()
    record = engine.AggregateRecord("GR")
    for day in range(3):
        record = engine.on_contribution(record, share("busy", day))
    record = engine.on_contribution(record, share("quiet", 2))
    await write(store, 0, "GR", record)
    members.changelog.clear()
    closed = engine.close_days(
        record, CONFIG, engine.province_rules, progress=START + dt.timedelta(days=9)
    ).record
    assert closed.closed is not None
    await write(store, 0, "GR", closed)
    assert [key for _, key, _ in members.changelog] == [member_key("GR", "busy")]
    assert store.get("GR") == closed


async def test_after_a_recovery_the_aggregate_is_rebuilt_from_the_tables() -> None:
    store, heads, members = aggregates()
    record = engine.AggregateRecord("GR")
    for member in ("a", "b"):
        record = engine.on_contribution(record, share(member, 0))
    await write(store, 0, "GR", record)
    decoded_again((heads, AggregateHead), (members, VersionedRows(MemberRow)))
    rebuilt = store.get("GR")
    assert rebuilt == record and rebuilt is not record
    codec = codecs.RecordCodec(AggregateHead)
    assert codec.loads(codec.dumps(heads.data["GR"])) == heads.data["GR"]


@pytest.mark.parametrize(
    ("ready", "recovering", "status", "code"),
    [
        (True, False, "ok", 200),
        (False, False, "starting", 503),
        (False, True, "recovering", 503),
        (True, True, "recovering", 503),  # reading state back: not serving yet
    ],
)
def test_health_says_what_the_worker_is_doing(
    ready: bool, recovering: bool, status: str, code: int
) -> None:
    body, got = api.health_document(
        ready=ready, recovering=recovering, remaining=1234, locations=11, topic_prefix="opvang."
    )
    assert (body["status"], got) == (status, code)
    assert body["locations"] == 11
    assert ("recovery_messages_left" in body) is recovering
    if recovering:
        assert body["recovery_messages_left"] == 1234


# ---------------------------------------------------------------- a crash between two writes


async def test_a_crash_after_the_rows_and_before_the_head_leaves_the_record_as_it_was() -> None:
    locations, heads, days = store()
    record = None
    for day in range(3):
        record = apply(record, day, 1900 + 30 * day)
    assert record is not None
    await write(locations, 0, "ter-apel", record, {"occupancy": 2})
    before = locations.get("ter-apel")
    # A recount of the newest day changes a day this week's row already holds; the worker dies
    # once the row is acknowledged, before the head is sent.
    recount = an_occupancy_report(day_n(2), 2100, event_id="recount")
    newer = engine.on_occupancy(TER_APEL, record, recount, CONFIG).record
    assert newer.state.day(day_n(2)) != record.state.day(day_n(2))
    changes = Changes()
    locations.stage(changes, 0, "ter-apel", newer, {"occupancy": 3})
    await Changes.send(changes.rows)
    # What a restart reads back: what reached the changelogs, decoded afresh (the head of the
    # last write was staged in memory, but never sent).
    restarted, _, _ = store()
    for table, source, kind in (
        (restarted.heads, heads, LocationHead),
        (restarted.rows, days, VersionedRows(WeekRow)),
    ):
        for _, key, value in source.changelog:
            if value is None:
                table.data.pop(key, None)
            else:
                table.data[key] = kind.from_dict(orjson.loads(orjson.dumps(value.to_dict())))
    assert restarted.get("ter-apel") == before
    assert restarted.offsets("ter-apel") == {"occupancy": 2}
    # The report is read again and applied to the record as it was: the same result as without
    # the crash, and the row's version it replaced is the one the head named.
    again = engine.on_occupancy(TER_APEL, before, recount, CONFIG).record
    await write(restarted, 0, "ter-apel", again, {"occupancy": 3})
    assert restarted.get("ter-apel") == newer
    assert restarted.offsets("ter-apel") == {"occupancy": 3}


async def test_rows_go_first_the_head_next_and_deletes_last() -> None:
    locations, _, _ = store()
    record = None
    for day in range(60):
        record = apply(record, day, 1500)
        changes = Changes()
        locations.stage(changes, 0, "ter-apel", record, {"occupancy": day})
        await write_all(changes)
        assert all(value is not None for *_, value in changes.rows)
        assert all(value is None for *_, value in changes.deletes)
        assert [key for _, _, key, _ in changes.heads] == ["ter-apel"]
    assert record is not None and locations.get("ter-apel") == record


def test_a_versioned_row_serves_the_head_it_belongs_to() -> None:
    versions = Versions(5, "new", 3, "old")
    assert versions.for_head(5) == "new"
    assert versions.for_head(7) == "new"
    assert versions.for_head(4) == "old"  # the head of write 5 never reached the changelog
    assert Versions(1, "first").for_head(0) is None  # a row no durable head names yet


def test_a_changelog_value_the_worker_cannot_read_is_no_value() -> None:
    """Recovery reads whatever is on a changelog topic; a message the worker did not write must
    not stop it (it would stop at every start)."""
    to_value = codecs.from_changelog(LocationHead)
    assert to_value({"state": "not a state"}) is None
    assert to_value({"record": 1, "dates": [[[]]]}) is None
    assert to_value([1, 2, 3]) is None
    assert to_value(None) is None
    good = LocationHead(engine.LocationRecord.new("ter-apel"))
    assert to_value(good.to_dict()) == good


@pytest.mark.parametrize(
    ("filters", "refused"),
    [
        ({}, None),
        ({"severity": "", "rule": "", "province": ""}, None),
        ({"severity": "CRITICAL", "rule": "cap_exceeded", "province": "gr"}, None),
        ({"severity": "bogus"}, "severity must be one of info, warning, critical; got 'bogus'"),
        ({"rule": "nope"}, "rule must be one of"),
        ({"province": "XX"}, "province must be one of"),
    ],
)
def test_alert_filters_that_cannot_match_are_refused_with_what_is_allowed(
    filters: dict[str, str], refused: str | None
) -> None:
    found = api.filter_refusal(filters)
    if refused is None:
        assert found is None
    else:
        assert found is not None and found.startswith(refused), found
