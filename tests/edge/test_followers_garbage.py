"""The followers of the silences and audit topics: any bytes are skipped with a warning (and
counted), never raised out of the follow loop. The loop runs on a fake consumer, no broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator

import pytest
import structlog
from fakes.kafka import FakeLog
from prometheus_client import CollectorRegistry, Counter

from streams.state import follow
from streams.state.audit import AuditLog
from streams.state.silences import SilenceBook

GARBAGE: list[bytes] = [
    b"",
    b"\xff\xfe\x00",
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"1" * 5000,
    b'{"type": "\\ud800"}',
    b"NaN",
    b"[1, 2]",
    b'"text"',
    b'{"provider_ids": 5}',
    b'{"provider_id": {"a": 1}}',
    b'{"type": "change", "event": "x"}',
    b'{"type": "change", "event": {"status": "firing"}}',
]
#: Good audit entries, bad silences.
BAD_SILENCES = [
    b'{"matchers": {"a": "b"}}',
    b'{"matchers": ["a=' + b"b" * 20_000 + b'"], "starts_at": "x"}',
]

SILENCE = {
    "matchers": ["team=noord"],
    "starts_at": "2026-03-02T08:00:00+01:00",
    "ends_at": "2026-03-03T08:00:00+01:00",
    "author": "Jan",
    "comment": "onderhoud",
}


@pytest.fixture
def counted() -> Iterator[tuple[Counter, CollectorRegistry]]:
    registry = CollectorRegistry()
    yield Counter("skipped", "skipped records", ["topic", "reason"], registry=registry), registry


def _skipped(counter: Counter) -> follow.Skipped:
    return lambda topic, reason: counter.labels(topic, reason).inc()


@pytest.mark.parametrize("raw", GARBAGE, ids=range(len(GARBAGE)))
def test_the_audit_log_skips_garbage(
    raw: bytes, counted: tuple[Counter, CollectorRegistry]
) -> None:
    audit = AuditLog()
    counter, registry = counted
    with structlog.testing.capture_logs() as logs:
        applied = follow.take("opvang.audit", b"a1", raw, audit.apply, skipped=_skipped(counter))
    assert applied is False
    assert audit.history("a1") == []
    assert [e["event"] for e in logs] == ["record skipped"]
    assert logs[0]["reason"] in {"invalid_json", "schema"}
    assert len(logs[0]["detail"]) <= 300
    assert (
        registry.get_sample_value(
            "skipped_total", {"topic": "opvang.audit", "reason": logs[0]["reason"]}
        )
        == 1
    )


@pytest.mark.parametrize("raw", GARBAGE + BAD_SILENCES, ids=range(len(GARBAGE) + 2))
def test_the_silence_book_skips_garbage_and_ends_the_silence_of_that_key(raw: bytes) -> None:
    book = SilenceBook()
    book.apply("api-1", json.dumps(SILENCE).encode())
    assert len(book.active()) == 1
    with structlog.testing.capture_logs() as logs:
        assert follow.take("opvang.silences", b"api-1", raw, book.apply) is False
    assert book.active() == ()  # unreadable: never silence by accident
    assert [e["event"] for e in logs] == ["record skipped"]


def test_good_records_still_apply() -> None:
    book, audit = SilenceBook(), AuditLog()
    assert follow.take("s", b"api-1", json.dumps(SILENCE).encode(), book.apply)
    assert follow.take("a", b"a1", b'{"type": "ack", "by": "Jan"}', audit.apply)
    assert [s.silence_id for s in book.active()] == ["api-1"]
    assert audit.history("a1") == [{"type": "ack", "by": "Jan"}]
    assert follow.take("s", b"api-1", None, book.apply)  # a tombstone
    assert book.active() == ()


@pytest.mark.parametrize("key", [None, b"k" * 1025])
def test_a_record_without_a_usable_key_is_skipped(key: bytes | None) -> None:
    audit = AuditLog()
    with structlog.testing.capture_logs() as logs:
        assert follow.take("a", key, b'{"type": "ack"}', audit.apply) is False
    assert logs[0]["reason"] == "schema"


def test_a_failing_apply_or_counter_is_no_reason_to_stop() -> None:
    def broken(key: str, value: bytes | None) -> None:
        raise ZeroDivisionError("a bug")

    def broken_counter(topic: str, reason: str) -> None:
        raise RuntimeError("no metric")

    with structlog.testing.capture_logs() as logs:
        assert follow.take("t", b"k", b"{}", broken, skipped=broken_counter) is False
    assert logs[0]["reason"] == "internal"
    assert "ZeroDivisionError" in logs[0]["detail"]


# --------------------------------------------------------------------------- the loop itself


@pytest.fixture
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> FakeLog:
    log = FakeLog()
    log.append("t", b"a1", b'{"type": "ack", "by": "Jan", "n": 0}')
    log.extend("t", [(b"a1", raw) for raw in GARBAGE])
    log.append("t", b"a1", b'{"type": "ack", "by": "Piet", "n": 1}')
    monkeypatch.setattr(follow, "AIOKafkaConsumer", log.consumer)
    return log


async def test_garbage_on_the_topic_never_stops_the_loop(
    fake_kafka: FakeLog, counted: tuple[Counter, CollectorRegistry]
) -> None:
    audit = AuditLog()
    counter, registry = counted
    task = asyncio.create_task(audit.follow("fake:9092", "t", skipped=_skipped(counter)))
    try:
        await asyncio.wait_for(audit.ready.wait(), timeout=5)
        assert [e["n"] for e in audit.history("a1")] == [0, 1]
        # ...and it goes on following.
        fake_kafka.append("t", b"a1", b"\x00garbage")
        fake_kafka.append("t", b"a1", b'{"type": "ack", "n": 2}')
        for _ in range(100):
            if len(audit.history("a1")) == 3:
                break
            await asyncio.sleep(0.01)
        assert [e["n"] for e in audit.history("a1")] == [0, 1, 2]
        assert not task.done()
        total = sum(
            registry.get_sample_value("skipped_total", {"topic": "t", "reason": reason}) or 0
            for reason in ("invalid_json", "schema")
        )
        assert total == len(GARBAGE) + 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_silence_book_follows_past_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    log = FakeLog()
    log.extend("s", [(b"api-1", raw) for raw in GARBAGE + BAD_SILENCES])
    log.append("s", b"api-2", json.dumps(SILENCE).encode())
    monkeypatch.setattr(follow, "AIOKafkaConsumer", log.consumer)
    book = SilenceBook()
    task = asyncio.create_task(book.follow("fake:9092", "s"))
    try:
        for _ in range(200):
            if book.active():
                break
            await asyncio.sleep(0.01)
        assert [s.silence_id for s in book.active()] == ["api-2"]
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
