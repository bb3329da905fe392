"""The mirror of the group's state (``streams.state.mirror``): the changelog messages a worker
writes, read back by another worker, give the same whole records; a head read before its rows
gives the previous version; a tombstone deletes; the newer of table and mirror wins."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from builders import TER_APEL, an_occupancy_report

from alerts import engine
from alerts.config import AlertingConfig
from alerts.errors import InvalidReport
from streams.state.locations import LocationHead, LocationStore, WeekRow
from streams.state.mirror import Mirror, newest
from streams.state.split import Changes, VersionedRows

CONFIG = AlertingConfig()
START = dt.date(2026, 11, 2)  # a Monday


class Table:
    """A table as the split stores use it, recording its changelog messages as bytes."""

    key_serializer = "json"
    value_serializer = "json"

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.messages: list[tuple[bytes, bytes | None]] = []
        self.changelog_topic = self

    async def send_many(
        self, partition: int, messages: list[tuple[Any, Any]], **_: Any
    ) -> list[Any]:
        for key, value in messages:
            encoded = None if value is None else orjson.dumps(value.to_dict())
            self.messages.append((orjson.dumps(key), encoded))
        return []

    def get(self, key: Any) -> Any:
        return self.data.get(key)

    def items(self) -> Any:
        return self.data.items()

    def keys(self) -> Any:
        return self.data.keys()


def record_after(days: int) -> engine.LocationRecord:
    record = engine.LocationRecord.new("ter-apel")
    for day in range(days):
        date = START + dt.timedelta(days=day)
        report = an_occupancy_report(date, 1900 + 40 * day, event_id=f"e{day}")
        record = engine.on_occupancy(TER_APEL, record, report, CONFIG).record
    return record


async def write(store: LocationStore, record: engine.LocationRecord) -> None:
    changes = Changes()
    store.stage(changes, 0, "ter-apel", record)
    for step in (changes.rows, changes.heads, changes.deletes):
        await Changes.send(step)


def mirror() -> Mirror:
    return Mirror(
        {
            "location-heads": ("heads", 1, LocationHead),
            "location-weeks": ("weeks", 1, VersionedRows(WeekRow)),
        }
    )


def read(copy: Mirror, topic: str, messages: list[tuple[bytes, bytes | None]]) -> None:
    for key, value in messages:
        copy.apply(topic, key.decode(), value)


def mirrored(copy: Mirror) -> LocationStore:
    return LocationStore(copy["location-heads"], copy["location-weeks"])


async def test_the_changelog_read_back_gives_the_whole_record() -> None:
    heads, weeks = Table(), Table()
    store = LocationStore(heads, weeks)
    record = record_after(9)  # two weeks
    await write(store, record)
    copy = mirror()
    read(copy, "weeks", weeks.messages)
    read(copy, "heads", heads.messages)
    assert mirrored(copy).get("ter-apel") == record


async def test_a_head_read_before_its_rows_gives_the_version_before() -> None:
    heads, weeks = Table(), Table()
    store = LocationStore(heads, weeks)
    first = record_after(3)
    await write(store, first)
    copy = mirror()
    read(copy, "weeks", weeks.messages)
    read(copy, "heads", heads.messages)
    heads.messages.clear()
    weeks.messages.clear()
    second = record_after(4)
    await write(store, second)
    read(copy, "weeks", weeks.messages)  # the new rows, not yet their head
    assert mirrored(copy).get("ter-apel") == first
    read(copy, "heads", heads.messages)
    assert mirrored(copy).get("ter-apel") == second


async def test_the_newer_of_table_and_mirror_wins() -> None:
    heads, weeks = Table(), Table()
    store = LocationStore(heads, weeks)
    await write(store, record_after(3))
    copy = mirror()
    read(copy, "weeks", weeks.messages)
    read(copy, "heads", heads.messages)
    await write(store, record_after(5))  # the owner's table is ahead of what the mirror read
    assert newest(store, mirrored(copy), owned=lambda key: True)["ter-apel"] == record_after(5)
    assert newest(store, mirrored(copy), owned=lambda key: False)["ter-apel"] == record_after(5)
    behind = LocationStore(Table(), Table())  # a worker that holds nothing of it
    assert newest(behind, mirrored(copy), owned=lambda key: False)["ter-apel"] == record_after(3)
    # A copy left in a table from before a rebalance, now older than the changelog.
    read(copy, "weeks", weeks.messages)
    read(copy, "heads", heads.messages)
    stale = LocationStore(Table(), Table())
    await write(stale, record_after(2))  # its first write: seq 1, where the changelog has 2
    assert newest(stale, mirrored(copy), owned=lambda key: False)["ter-apel"] == record_after(5)


def test_a_tombstone_deletes_and_garbage_is_refused_or_no_value() -> None:
    copy = mirror()
    weeks = copy["location-weeks"]
    copy.apply("weeks", '"ter-apel|week-of-2026-11-02"', orjson.dumps({"seq": 1, "row": None}))
    assert weeks.keys() == ["ter-apel|week-of-2026-11-02"]
    copy.apply("weeks", '"ter-apel|week-of-2026-11-02"', None)
    assert weeks.keys() == []
    with pytest.raises(InvalidReport):
        copy.apply("heads", "{not json", b"{}")
    heads = copy["location-heads"]
    copy.apply("heads", '"ter-apel"', b"{not json")
    copy.apply("heads", '"budel"', orjson.dumps({"something": "else"}))
    assert heads.get("ter-apel") is None and heads.get("budel") is None
    assert heads.items() == [] and len(heads) == 0
