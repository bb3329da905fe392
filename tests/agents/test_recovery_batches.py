"""What a state table does with a batch of changelog events during recovery."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from alerts.capacity.location import DayRecord
from streams.settings import Settings, load_alerting_config
from streams.state.locations import WeekRow
from streams.worker.app import build_worker


def event(key: str, value: dict[str, Any] | None) -> Any:
    """A changelog event as recovery hands it over: the key and value already decoded from JSON,
    and the raw message value None for a delete."""
    return SimpleNamespace(key=key, value=value, message=SimpleNamespace(value=value, partition=0))


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
