"""The worker judges "the whole input is past a day" by every input partition that holds records
on the broker, read or not (``streams.worker.roster``): the real agents of a worker built by the
composition root, with a fake of our broker reader that says which partitions hold records.

Before, a province closed days against the partitions that had marked so far, and a morning count
counted as final while no intake report had been read: when Faust read some partitions (or the
occupancy topic) long before the others, the worker's alerts differed from the core's on the same
reports (the year benchmark under another fetch order: ``report_missing`` for every location of
the unread partition, province totals without them).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from builders import a_location
from fakes.worker import a_worker
from faust.types import TP

from alerts.capacity.totals import Contribution
from streams.messages import ContributionBundle, Mark, encode_province_message
from streams.state.progress import partition_of
from streams.worker.app import Worker

DAY = dt.date(2022, 8, 1)
#: The next offset on the province topic, per worker.
_offsets: dict[int, int] = {}


class Broker:
    """Our reader's view of the broker: these topic partitions hold records."""

    def __init__(self, filled: Iterable[TP]) -> None:
        self.filled = set(filled)

    async def earliest(self, topic: str, partition: int) -> int:
        return 0

    async def ends(self, tps: Iterable[TP]) -> dict[TP, int]:
        return {tp: (10 if tp in self.filled else 0) for tp in tps}

    async def beginnings(self, tps: Iterable[TP]) -> dict[TP, int]:
        return dict.fromkeys(tps, 0)

    async def read(self, topic: str, partition: int, start: int, stop: int) -> list[Any]:
        raise AssertionError("nothing to read back here")


def _event(topic: str, partition: int, offset: int, value: bytes, key: bytes = b"k") -> Any:
    message = SimpleNamespace(
        topic=topic, partition=partition, offset=offset, timestamp=None, key=key, value=value
    )
    return SimpleNamespace(message=message)


def _share(location_id: str, day: int) -> Contribution:
    return Contribution(
        location_id, "GR", DAY + dt.timedelta(days=day), 100, 200, name=location_id, final=True
    )


async def _province_input(worker: Worker, messages: list[bytes]) -> None:
    topic = worker.ctx.topics.province.get_topic_name()
    stage = worker.aggregation
    home = partition_of("GR", worker.ctx.settings.partitions)  # where Groningen's days are kept
    start = _offsets.setdefault(id(worker), 0)
    events = [_event(topic, home, start + n, value) for n, value in enumerate(messages)]
    _offsets[id(worker)] = start + len(messages)
    await worker.ctx.runner.run_batch(stage.provinces_cursor, events, stage.aggregate_provinces)


def _days_of_two_locations() -> list[bytes]:
    shares = [_share(lid, day) for day in range(6) for lid in ("a", "b")]
    return [encode_province_message(ContributionBundle(tuple(shares)))]


def _with(filled_occupancy: Iterable[int]) -> Worker:
    worker, _ = a_worker(reader=Broker(()))
    occupancy = worker.ctx.settings.topic("occupancy")
    worker.ctx.roster._reader = Broker(TP(occupancy, p) for p in filled_occupancy)
    return worker


async def test_a_province_waits_for_an_input_partition_that_holds_records_but_has_not_marked() -> (
    None
):
    worker = _with(filled_occupancy=(0, 1))
    late = DAY + dt.timedelta(days=5)
    await _province_input(
        worker, [*_days_of_two_locations(), encode_province_message(Mark(0, late))]
    )
    record = worker.ctx.tables.provinces.get("GR")
    assert record is not None and record.closed is None  # partition 1 holds records, unread
    await _province_input(worker, [encode_province_message(Mark(1, late))])
    record = worker.ctx.tables.provinces.get("GR")
    assert record is not None and record.closed is not None


async def test_an_empty_input_partition_holds_nothing_back() -> None:
    worker = _with(filled_occupancy=(0,))
    late = DAY + dt.timedelta(days=5)
    await _province_input(
        worker, [*_days_of_two_locations(), encode_province_message(Mark(0, late))]
    )
    record = worker.ctx.tables.provinces.get("GR")
    assert record is not None and record.closed is not None


def _occupancy(event_id: str, day: int) -> bytes:
    date = (DAY + dt.timedelta(days=day)).isoformat()
    body = {"event_id": event_id, "location_id": "ter-apel", "date": date, "occupancy": 1500}
    return json.dumps(body).encode()


def _intake(event_id: str, day: int) -> bytes:
    date = (DAY + dt.timedelta(days=day)).isoformat()
    body = {"event_id": event_id, "location_id": "ter-apel", "date": date, "arrivals": 5}
    return json.dumps(body).encode()


async def _reports(filled_intake: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three days of morning counts of Ter Apel on input partition 0, before any intake report;
    the contributions and marks the report agent sent."""
    worker, recorder = a_worker(locations=(a_location(),), reader=Broker(()))
    intake = worker.ctx.settings.topic("intake")
    worker.ctx.roster._reader = Broker([TP(intake, 0)] if filled_intake else [])
    topic = worker.ctx.settings.topic("occupancy")
    events = [_event(topic, 0, day, _occupancy(f"occ-{day}", day)) for day in range(3)]
    await worker.ctx.runner.run_batch(worker.ingest.cursor, events, worker.ingest.ingest)
    sent = recorder.topics["province"].sent
    shares = [item for _, m in sent if m.get("type") == "contributions" for item in m["items"]]
    marks = [m for key, m in sent if key == b"__mark__"]
    return shares, marks


async def test_morning_counts_wait_for_intake_that_is_on_the_broker_but_not_read_yet() -> None:
    shares, marks = await _reports(filled_intake=True)
    assert shares and not any(share.get("final", True) for share in shares)
    assert marks == []


async def test_without_intake_on_the_broker_morning_counts_are_final_at_once() -> None:
    shares, marks = await _reports(filled_intake=False)
    assert shares and all(share.get("final", True) for share in shares)
    assert marks
