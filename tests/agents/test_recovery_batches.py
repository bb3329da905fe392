"""What a state table does with a batch of changelog events during recovery."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
from faust.types.tuples import Message

from alerts import engine
from alerts.capacity.location import DayRecord
from streams.settings import Settings, load_alerting_config
from streams.state.locations import LocationHead, WeekRow
from streams.worker.app import build_worker


def event(key: str, value: dict[str, Any] | None) -> Any:
    """A changelog event as recovery hands it over: the key decoded from JSON, the value the
    message's bytes as they are (None for a delete)."""
    raw = orjson.dumps(value) if value is not None else None
    return SimpleNamespace(key=key, value=raw, message=SimpleNamespace(value=raw, partition=0))


def week(*dates: str) -> dict[str, Any]:
    return {"days": [{"date": d, "occupancy": 100} for d in dates]}


def test_only_the_newest_event_of_a_key_is_applied(monkeypatch: Any) -> None:
    worker = build_worker(Settings(), load_alerting_config(None))
    worker.app.finalize()
    table = worker.ctx.tables.locations.rows
    table.data.clear()
    decoded: list[int] = []
    from_dict = WeekRow.from_dict

    def counting(data: Any) -> WeekRow:
        decoded.append(len(data["days"]))
        return from_dict(data)

    monkeypatch.setattr(WeekRow, "from_dict", counting)
    table.apply_changelog_batch(
        [
            event("a|week-of-2026-11-23", week("2026-11-23")),
            event("b|week-of-2026-11-23", week("2026-11-23")),
            event("a|week-of-2026-11-23", week("2026-11-23", "2026-11-24")),
            event("b|week-of-2026-11-23", None),
            event("a|week-of-2026-11-23", week("2026-11-23", "2026-11-24", "2026-11-25")),
            event("b|week-of-2026-11-23", week("2026-11-24")),  # written again after its delete
        ]
    )
    assert decoded == [3, 1]  # the superseded versions were never turned into records
    assert [d.date.isoformat() for d in table.data["a|week-of-2026-11-23"].row.days] == [
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
    ]
    assert isinstance(table.data["b|week-of-2026-11-23"].row.days[0], DayRecord)
    table.apply_changelog_batch([event("a|week-of-2026-11-23", None)])
    assert "a|week-of-2026-11-23" not in table.data
    table.data.clear()


async def test_the_state_tables_read_their_changelog_as_bytes_and_write_records() -> None:
    """Recovery must not decode a value on arrival: Faust's buffers would hold thousands of
    decoded values at once (about 80 MB of a restart after the year), superseded ones included.
    The bytes become a record when applied; writes still go through the record codec."""
    worker = build_worker(Settings(), load_alerting_config(None))
    worker.app.finalize()
    tables = worker.ctx.tables
    raw = orjson.dumps(_head_dict())
    for table in (
        tables.locations.heads,
        tables.locations.rows,
        tables.provinces.heads,
        tables.provinces.rows,
        tables.nation.heads,
        tables.nation.rows,
    ):
        topic = table.changelog_topic
        message = Message(topic.get_topic_name(), 0, 0, 0.0, 0, None, b'"k"', raw, None)
        decoded = await topic.decode(message, propagate=True)
        assert decoded.key == "k"
        assert decoded.value == raw  # the bytes, not a dict
        assert table.value_serializer.startswith("opvang-")  # writes: the record codec


def test_a_value_that_is_not_json_is_no_value_and_recovery_goes_on() -> None:
    worker = build_worker(Settings(), load_alerting_config(None))
    worker.app.finalize()
    table = worker.ctx.tables.locations.heads
    table.data.clear()
    table.apply_changelog_batch(
        [
            SimpleNamespace(
                key="x", value=b"{not json", message=SimpleNamespace(value=b"{", partition=0)
            ),
            event("y", _head_dict()),
        ]
    )
    assert table.data.get("x") is None
    assert table.data["y"] == LocationHead.from_dict(_head_dict())
    table.data.clear()


def _head_dict() -> dict[str, Any]:
    return LocationHead(engine.LocationRecord.new("ter-apel")).to_dict()
