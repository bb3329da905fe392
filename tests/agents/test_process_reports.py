"""Agent tests: the real Faust agents of a worker built by the composition root
(``build_worker``) with a recording edge, no broker.

The worker's sends go to recording topics; the tables are real Faust tables (memory store) whose
changelog writes are recorded too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from builders import a_location
from fakes.worker import Recorder, RecordingTopic, a_worker

from alerts.capacity.totals import Contribution
from alerts.config import AlertingConfig
from streams.logging import merge_report
from streams.messages import ContributionBundle, Mark, encode_province_message
from streams.records import encode
from streams.settings import Settings
from streams.state.progress import partition_of
from streams.worker.app import Worker

TER_APEL = a_location(cap_source="afspraak")


@pytest.fixture
def built() -> Iterator[tuple[Worker, Recorder]]:
    yield a_worker(locations=(TER_APEL,))


@pytest.fixture
def worker(built: tuple[Worker, Recorder]) -> Worker:
    return built[0]


@pytest.fixture
def topics(built: tuple[Worker, Recorder]) -> dict[str, RecordingTopic]:
    return built[1].topics


def occupancy(event_id: str, date: str, count: int, location: str = "ter-apel") -> bytes:
    body = {"event_id": event_id, "location_id": location, "date": date, "occupancy": count}
    return json.dumps(body).encode()


async def test_cap_exceeded_fires_and_resolves(
    worker: Worker, topics: dict[str, RecordingTopic]
) -> None:
    async with worker.ingest.agent.test_context() as agent:
        for n, (date, count) in enumerate(
            [("2022-08-18", 1960), ("2022-08-19", 2040), ("2022-08-20", 2380), ("2022-08-21", 1990)]
        ):
            await agent.put(occupancy(f"e{n}", date, count), key=b"ter-apel")

    alerts = [value for _, value in topics["alerts"].sent if value["rule"] == "cap_exceeded"]
    assert [(a["status"], a["event_date"], a["value"], a["revision"]) for a in alerts] == [
        ("firing", "2022-08-19", 2040, 1),
        ("resolved", "2022-08-21", 1990, 2),
    ]
    assert alerts[0]["alert_id"] == alerts[1]["alert_id"]
    assert (
        alerts[0]["summary"] == "Ter Apel: 2.040 personen, 40 boven de afgesproken grens van 2.000"
    )
    # Every applied report moves the province picture. Contributions go in bundles, one
    # message per province partition, and the input marks (how far this partition has been
    # read) ride in them after their items, or alone when nothing is pending; each mark goes to
    # every province partition.
    province = topics["province"]
    every = worker.ctx.settings.partitions
    # Per province partition, what its agent applies, in order.
    applied: dict[int, list[tuple[str, dict[str, Any]]]] = {p: [] for p in range(every)}
    for (_, value), partition in zip(province.sent, province.partitions, strict=True):
        assert partition is not None
        applied[partition].extend(("item", item) for item in value.get("items", ()))
        mark = value if value["type"] == "mark" else value.get("mark")
        if mark is not None:
            applied[partition].append(("mark", mark))
    flat = [entry for partition in range(every) for entry in applied[partition]]
    shares = [item for kind, item in flat if kind == "item" and item["province"] == "GR"]
    assert len(shares) == 4
    assert shares[-1]["occupancy"] == 1990
    dates = ["2022-08-18", "2022-08-19", "2022-08-20", "2022-08-21"]
    for partition in range(every):
        assert [m["date"] for kind, m in applied[partition] if kind == "mark"] == dates
    # A mark shares its message with the items before it: one message per partition and mark.
    assert len(province.sent) == every * len(dates)
    # A mark promises the province that everything up to its date is in: no contribution of
    # such a date may come after it on its partition.
    for entries in applied.values():
        for index, (kind, value) in enumerate(entries):
            if kind == "mark":
                later = [i for k, i in entries[index + 1 :] if k == "item"]
                assert all(i["date"] > value["date"] for i in later), (value, later)
    # Each alert change is written to the audit trail with the event itself.
    changes = [e["event"] for _, e in topics["audit"].sent if e["type"] == "change"]
    assert changes == [value for _, value in topics["alerts"].sent]
    stored = worker.ctx.tables.locations["ter-apel"]
    assert stored.state.occupancy == 1990


async def test_bad_input_goes_to_dead_letter_and_the_agent_goes_on(
    worker: Worker, topics: dict[str, RecordingTopic]
) -> None:
    async with worker.ingest.agent.test_context() as agent:
        await agent.put(b"{not json", key=b"ter-apel")
        await agent.put(occupancy("u1", "2022-08-19", 10, location="nergens"), key=b"nergens")
        await agent.put(
            json.dumps(
                {"event_id": "n", "location_id": "ter-apel", "date": "2022-08-19", "occupancy": -5}
            ).encode(),
            key=b"ter-apel",
        )
        await agent.put(occupancy("ok", "2022-08-19", 2100), key=b"ter-apel")

    reasons = [value["reason"] for _, value in topics["deadletter"].sent]
    assert reasons == ["invalid_json", "unknown_location", "out_of_range"]
    assert topics["deadletter"].sent[0][1]["payload"] == "{not json"
    assert [(a["rule"], a["status"]) for _, a in topics["alerts"].sent] == [
        ("cap_exceeded", "firing")
    ]


async def test_log_lines_written_while_a_report_is_handled_name_it(worker: Worker) -> None:
    """A line logged while a report is handled (here: the alert it fires) carries the report's
    event_id and location_id (the worker's processor chain adds them: streams.logging); a line
    about the next record, one that cannot be read, carries neither."""
    with structlog.testing.capture_logs(processors=[merge_report]) as logs:
        async with worker.ingest.agent.test_context() as agent:
            await agent.put(occupancy("e-fires", "2022-08-19", 2100), key=b"ter-apel")
            await agent.put(b"{not json", key=b"ter-apel")
            await agent.put(occupancy("e-quiet", "2022-08-20", 2120), key=b"ter-apel")
    alerts = [line for line in logs if line["event"] == "alert"]
    assert [(line["event_id"], line["location_id"]) for line in alerts] == [("e-fires", "ter-apel")]
    dead = [line for line in logs if line["event"] == "dead letter"]
    assert len(dead) == 1
    assert "event_id" not in dead[0] and "location_id" not in dead[0]
    after: dict[str, object] = {}
    merge_report(None, "info", after)
    assert after == {}


async def test_a_repeated_event_id_changes_nothing(
    worker: Worker, topics: dict[str, RecordingTopic]
) -> None:
    async with worker.ingest.agent.test_context() as agent:
        await agent.put(occupancy("same", "2022-08-19", 2100), key=b"ter-apel")
        await agent.put(occupancy("same", "2022-08-19", 2100), key=b"ter-apel")
        await agent.put(occupancy("same", "2022-08-19", 2100), key=b"ter-apel")
    assert [a["rule"] for _, a in topics["alerts"].sent] == ["cap_exceeded"]
    bundles = [value for key, value in topics["province"].sent if key == b"GR"]
    assert sum(len(b["items"]) for b in bundles) == 1


async def test_configured_inhibition_holds_back_the_target_while_its_source_fires() -> None:
    raw = {
        "route": {"receiver": "coa-ops"},
        "receivers": [{"name": "coa-ops", "webhook": {"url": "https://ops.example.nl/hook"}}],
        "inhibit_rules": [
            {
                "source_matchers": {"rule": "cap_exceeded"},
                "target_matchers": {"rule": "without_bed"},
                "equal": ["location_id"],
            }
        ],
    }
    worker, recorder = a_worker(AlertingConfig.from_mapping(raw, {}), (TER_APEL,))
    topics = recorder.topics
    report = {"location_id": "ter-apel", "occupancy": 2100}
    async with worker.ingest.agent.test_context() as agent:
        for n, (date, without_bed) in enumerate(
            [("2022-08-19", 0), ("2022-08-20", 40), ("2022-08-21", 0), ("2022-08-22", 0)]
        ):
            body = {**report, "event_id": f"i{n}", "date": date, "without_bed": without_bed}
            if n >= 2:
                body["occupancy"] = 1990  # cap_exceeded resolves
            if n == 3:
                body["without_bed"] = 25  # without_bed fires again, nothing inhibits it now
            await agent.put(json.dumps(body).encode(), key=b"ter-apel")

    routed = [
        (e["revision"], e["action"], e["reason"])
        for key, e in topics["audit"].sent
        if e["type"] == "routed" and key is not None and key.startswith(b"without_bed")
    ]
    assert [action for _, action, _ in routed] == ["inhibited", "send", "send"]
    sent = [value["event"]["rule"] for _, value in topics["notifications"].sent]
    assert sent.count("without_bed") == 2  # the resolve and the second firing
    assert "cap_exceeded" in sent


def _event(topic: str, offset: int, value: bytes, partition: int = 0) -> Any:
    message = SimpleNamespace(
        topic=topic, partition=partition, offset=offset, timestamp=None, key=b"GR", value=value
    )
    return SimpleNamespace(message=message)


def _share(location_id: str, day: int) -> Contribution:
    return Contribution(location_id, "GR", dt.date(2022, 8, day), 100, 200, name=location_id)


async def test_every_contribution_of_a_bundle_counts_and_a_bundle_read_again_none(
    worker: Worker,
) -> None:
    """A bundle carries a whole batch's contributions to one province, all at one offset: each of
    them is applied (the offset marks the province only once the message is done), and the same
    message read again after a restart changes nothing."""
    topic = worker.ctx.topics.province.get_topic_name()
    stage, runner = worker.aggregation, worker.ctx.runner
    bundle = encode_province_message(
        ContributionBundle((_share("a", 1), _share("b", 1), _share("c", 1)))
    )
    await runner.run_batch(
        stage.provinces_cursor, [_event(topic, 0, bundle)], stage.aggregate_provinces
    )
    record = worker.ctx.tables.provinces.get("GR")
    assert record is not None and set(record.members) == {"a", "b", "c"}
    # Read again from offset 0 (nothing was committed to a consumer group here): skipped.
    stage.provinces_cursor.reset()
    again = encode_province_message(ContributionBundle((_share("d", 1),)))
    await runner.run_batch(
        stage.provinces_cursor, [_event(topic, 0, again)], stage.aggregate_provinces
    )
    record = worker.ctx.tables.provinces.get("GR")
    assert record is not None and set(record.members) == {"a", "b", "c"}


async def test_a_report_read_again_is_skipped_and_one_on_another_partition_is_not(
    worker: Worker, topics: dict[str, RecordingTopic]
) -> None:
    """After a restart the report agent may read from an earlier offset than its state reflects:
    those reports are recognised by offset and change nothing. A producer that keys by something
    else than the location_id puts one location on several partitions; offsets are per partition,
    so a lower offset on another partition is a new report, not a re-read one."""
    topic = worker.ctx.settings.topic("occupancy")
    stage, runner, locations = worker.ingest, worker.ctx.runner, worker.ctx.tables.locations
    first = [
        _event(topic, 0, occupancy("e1", "2022-08-19", 2100)),
        _event(topic, 1, occupancy("e2", "2022-08-20", 2200)),
    ]
    await runner.run_batch(stage.cursor, first, stage.ingest)
    assert cap_exceeded(topics) == ["firing"]
    assert events(worker, topic) == {"applied": 2}
    stage.cursor.reset()  # a restart: read again from the start of the partition
    await runner.run_batch(stage.cursor, first, stage.ingest)
    assert cap_exceeded(topics) == ["firing"]
    assert events(worker, topic) == {"applied": 2, "reread": 2}
    assert locations["ter-apel"].state.occupancy == 2200
    elsewhere = [_event(topic, 0, occupancy("e3", "2022-08-21", 1900), partition=1)]
    await runner.run_batch(stage.cursor, elsewhere, stage.ingest)
    assert locations["ter-apel"].state.occupancy == 1900
    assert cap_exceeded(topics) == ["firing", "resolved"]


def events(worker: Worker, topic: str) -> dict[str, float]:
    """``opvang_events_total`` of ``topic`` by outcome, as a scrape reads it (the series the
    worker starts at zero left out)."""
    return {
        sample.labels["outcome"]: sample.value
        for metric in worker.prometheus.collect()
        if metric.name == "opvang_events"
        for sample in metric.samples
        if sample.name == "opvang_events_total" and sample.labels["topic"] == topic and sample.value
    }


def cap_exceeded(topics: dict[str, RecordingTopic]) -> list[str]:
    return [a["status"] for _, a in topics["alerts"].sent if a["rule"] == "cap_exceeded"]


async def test_a_mark_in_a_bundle_does_what_the_bundle_then_the_mark_did() -> None:
    """The report agent puts an input mark in the same message as the contributions before it
    (one message per province partition instead of a bundle per province and a mark). The
    province agent must come to exactly what the two messages gave: the same province records,
    national shares and alert changes; and the combined message read again changes nothing."""
    topic_name = Settings().topic("internal.province-contributions")
    partition = partition_of("GR", Settings().partitions)
    days = range(1, 11)

    def shares(day: int) -> tuple[Contribution, ...]:
        # Full on some days and "c" silent for a while, so the province rules have something
        # to say.
        crowded = 200 if day % 3 == 0 else 100
        names = ("a", "b") if 4 <= day <= 7 else ("a", "b", "c")
        return tuple(
            Contribution(name, "GR", dt.date(2022, 8, day), crowded, 200, name=name)
            for name in names
        )

    def mark(day: int) -> Mark:
        return Mark(0, dt.date(2022, 8, day))

    separate = [
        encode_province_message(message)
        for day in days
        for message in (ContributionBundle(shares(day)), mark(day))
    ]
    combined = [encode_province_message(ContributionBundle(shares(day), mark(day))) for day in days]

    async def run(values: list[bytes]) -> tuple[Worker, Recorder]:
        worker, recorder = a_worker()
        stage, runner = worker.aggregation, worker.ctx.runner
        events = [_event(topic_name, offset, v, partition) for offset, v in enumerate(values)]
        for start in range(0, len(events), 3):  # a few batches
            await runner.run_batch(
                stage.provinces_cursor, events[start : start + 3], stage.aggregate_provinces
            )
        return worker, recorder

    old, old_sent = await run(separate)
    new, new_sent = await run(combined)
    national = [value for _, value in new_sent.other.sent]
    assert any(value.get("type") != "mark" for value in national), national  # shares went out
    assert national == [value for _, value in old_sent.other.sent]
    assert new_sent.topics["alerts"].sent == old_sent.topics["alerts"].sent
    assert new_sent.topics["alerts"].sent, "the crowded days raised no province alert"
    assert new.ctx.tables.provinces.get("GR") == old.ctx.tables.provinces.get("GR")

    # Read again from offset 0, as after a crash before the commit: nothing changes. (The
    # marks are forwarded to the nation again, as they always were: it keeps the highest.)
    before = new.ctx.tables.provinces.get("GR")
    sent_before = len(new_sent.topics["alerts"].sent)
    national_before = len(new_sent.other.sent)
    stage = new.aggregation
    stage.provinces_cursor.reset()
    events = [_event(topic_name, offset, v, partition) for offset, v in enumerate(combined)]
    await new.ctx.runner.run_batch(stage.provinces_cursor, events, stage.aggregate_provinces)
    assert new.ctx.tables.provinces.get("GR") == before
    assert len(new_sent.topics["alerts"].sent) == sent_before
    again = [value for _, value in new_sent.other.sent[national_before:]]
    assert again and all(value.get("type") == "mark" for value in again), again


async def test_a_province_partition_forwards_its_progress_only_when_it_moves() -> None:
    """With two input partitions, a province partition's progress (the lower of their marks)
    moves on every other mark; the marks that leave it where it was are not forwarded to the
    nation. The nation, fed what was forwarded, ends exactly where it ends when it is also fed a
    repeat of every forward (what the province used to send)."""
    settings = Settings()
    province_topic = settings.topic("internal.province-contributions")
    national_topic = settings.topic("internal.national-contributions")
    partition = partition_of("GR", settings.partitions)
    values = []
    for day in range(1, 11):
        full = 200 if day % 3 == 0 else 100
        items = tuple(
            Contribution(name, "GR", dt.date(2022, 8, day), full, 200, name=name)
            for name in ("a", "b")
        )
        values.append(ContributionBundle(items, Mark(0, dt.date(2022, 8, day))))
        values.append(Mark(1, dt.date(2022, 8, day)))
    worker, recorder = a_worker()
    stage = worker.aggregation
    events = [
        _event(province_topic, offset, encode_province_message(v), partition)
        for offset, v in enumerate(values)
    ]
    await worker.ctx.runner.run_batch(stage.provinces_cursor, events, stage.aggregate_provinces)
    national = [value for _, value in recorder.other.sent]
    forwarded = [v["date"] for v in national if v.get("type") == "mark"]
    assert forwarded == [f"2022-08-{day:02d}" for day in range(1, 11)]  # one per day, not two

    async def nation(messages: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
        worker, recorder = a_worker()
        stage = worker.aggregation
        # Every province partition must have marked before the nation closes a day: the
        # others say they are at the newest day.
        others = [
            _event(national_topic, n, encode(_mark_of(p, "2022-08-10")), 0)
            for n, p in enumerate(p for p in range(settings.partitions) if p != partition)
        ]
        tail = [
            _event(national_topic, len(others) + n, encode(value), 0)
            for n, value in enumerate(messages)
        ]
        await worker.ctx.runner.run_batch(
            stage.nation_cursor, others + tail, stage.aggregate_national
        )
        return worker.ctx.tables.nation.get("NL"), recorder.topics["alerts"].sent

    repeated = [
        copy
        for value in national
        for copy in ([value, value] if value.get("type") == "mark" else [value])
    ]
    record, alerts = await nation(national)
    assert record is not None and record.closed is not None
    assert (record, alerts) == await nation(repeated)


def _mark_of(source: int, date: str) -> dict[str, Any]:
    return {"type": "mark", "source": source, "date": date}
