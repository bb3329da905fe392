"""streams.state.registry: a bad location record is dead-lettered while the last good version stays;
nothing stops the follow loop; an unknown location costs no more than a schema error.

The follow loop runs on tests/fakes/kafka.py's in-memory log, no broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes.kafka import FakeLog, Record

from alerts.errors import InvalidReport
from streams.state import registry as registry_module
from streams.state.registry import LocationRegistry

TOPIC = "opvang.locations"


def location(location_id: str = "ter-apel", capacity: int = 2000, **extra: Any) -> bytes:
    body = {
        "location_id": location_id,
        "name": location_id.replace("-", " ").title(),
        "kind": "regular",
        "municipality_code": "GM1950",
        "province": "GR",
        "capacity": capacity,
        **extra,
    }
    return json.dumps(body).encode()


BAD_VERSIONS: list[bytes] = [
    b"[" * 10_000 + b"]" * 10_000,
    b'{"location_id": "ter-apel", "capacity": ' + b"9" * 5000 + b"}",
    b'{"location_id": "ter-apel", "name": "\\ud800"}',
    b"\xff\xfe",
    b"",
    b"null",
    b'"ter-apel"',
    location(capacity=-1),
    location(capacity=True),  # type: ignore[arg-type]
    location(kind="hotel"),
    location(name="x" * 1_000_000),
    location("zoutkamp"),  # valid, but under another location's key
]


class DeadLetters:
    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[tuple[str, int, int, bytes | None, str, bytes | None]] = []
        self.fail = fail

    async def __call__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        error: InvalidReport,
        value: bytes | None,
    ) -> None:
        self.sent.append((topic, partition, offset, key, error.reason, value))
        if self.fail:
            raise RuntimeError("the dead-letter topic is gone")


# --------------------------------------------------------------------------- apply and handle


@pytest.mark.parametrize("bad", BAD_VERSIONS, ids=range(len(BAD_VERSIONS)))
async def test_a_bad_version_is_dead_lettered_and_the_last_good_one_stays(bad: bytes) -> None:
    registry, dead = LocationRegistry(), DeadLetters()
    await registry.handle(Record(TOPIC, 0, 0, b"ter-apel", location(capacity=1800)), dead)
    await registry.handle(Record(TOPIC, 0, 1, b"ter-apel", bad), dead)
    kept = registry.get("ter-apel")
    assert kept is not None and kept.capacity == 1800
    assert len(registry) == 1
    assert [(d[2], d[3], d[5]) for d in dead.sent] == [(1, b"ter-apel", bad)]
    assert dead.sent[0][4] in {"invalid_json", "schema", "out_of_range"}


async def test_a_tombstone_still_removes_a_location() -> None:
    registry, dead = LocationRegistry(), DeadLetters()
    await registry.handle(Record(TOPIC, 0, 0, b"ter-apel", location()), dead)
    await registry.handle(Record(TOPIC, 0, 1, b"ter-apel", None), dead)
    assert registry.get("ter-apel") is None
    assert dead.sent == []


async def test_a_failing_dead_letter_callback_is_contained() -> None:
    registry, dead = LocationRegistry(), DeadLetters(fail=True)
    await registry.handle(Record(TOPIC, 0, 0, b"x", b"{"), dead)  # raises nothing
    assert len(dead.sent) == 1


async def test_an_unexpected_error_is_an_internal_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(raw: bytes | None) -> Any:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(registry_module, "location_to_domain", broken)
    registry, dead = LocationRegistry(), DeadLetters()
    await registry.handle(Record(TOPIC, 0, 4, b"x", location()), dead)
    assert [d[4] for d in dead.sent] == ["internal"]


def test_apply_wants_the_key_to_be_the_location_id() -> None:
    registry = LocationRegistry()
    registry.apply(b"ter-apel", location())
    with pytest.raises(InvalidReport) as caught:
        registry.apply(b"ter-apel", location("zoutkamp"))
    assert caught.value.reason == "schema"
    assert registry.get("zoutkamp") is None
    registry.apply(None, location("zoutkamp"))  # no key to check against (never on compaction)
    assert registry.get("zoutkamp") is not None


# --------------------------------------------------------------------------- the follow loop


@contextlib.asynccontextmanager
async def following(
    log: FakeLog, registry: LocationRegistry, dead: DeadLetters
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(registry.follow("fake:9092", TOPIC, dead, poll_ms=10))
    try:
        await asyncio.wait_for(registry.ready.wait(), timeout=5)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> FakeLog:
    log = FakeLog()
    monkeypatch.setattr(registry_module, "AIOKafkaConsumer", log.consumer)
    return log


@pytest.mark.parametrize("fail", [False, True], ids=["dead-letters", "dead-letters-fail"])
async def test_garbage_on_the_topic_never_stops_the_loop(log: FakeLog, fail: bool) -> None:
    log.append(TOPIC, b"ter-apel", location(capacity=1800))
    log.extend(TOPIC, [(b"ter-apel", bad) for bad in BAD_VERSIONS])
    log.append(TOPIC, b"zoutkamp", location("zoutkamp"))
    registry, dead = LocationRegistry(), DeadLetters(fail=fail)
    async with following(log, registry, dead) as task:
        assert sorted(loc.location_id for loc in registry.all()) == ["ter-apel", "zoutkamp"]
        ter_apel = registry.get("ter-apel")
        assert ter_apel is not None and ter_apel.capacity == 1800
        assert [d[5] for d in dead.sent] == BAD_VERSIONS
        # It goes on following: a new good version, more garbage, a tombstone.
        log.append(TOPIC, b"ter-apel", location(capacity=2100))
        log.append(TOPIC, b"ter-apel", b"[" * 5000)
        log.append(TOPIC, b"zoutkamp", None)
        for _ in range(200):
            if registry.get("zoutkamp") is None:
                break
            await asyncio.sleep(0.01)
        ter_apel = registry.get("ter-apel")
        assert ter_apel is not None and ter_apel.capacity == 2100
        assert registry.get("zoutkamp") is None
        assert not task.done()


# --------------------------------------------------------------------------- unknown locations


async def test_an_unknown_location_in_an_older_report_costs_no_look(log: FakeLog) -> None:
    log.append(TOPIC, b"ter-apel", location())
    registry = LocationRegistry()
    async with following(log, registry, DeadLetters()):
        offsets = log.consumers[1]
        offsets.end_offsets_delay = 0.5  # what a look used to cost
        sent = time.time() - 5
        started = time.perf_counter()
        for _ in range(1000):
            assert await registry.lookup("nergens", timestamp=sent) is None
        assert time.perf_counter() - started < 0.5
        assert registry.looks == 0
        assert await registry.lookup("ter-apel", timestamp=None) is not None
        assert registry.looks == 0


async def test_a_location_published_just_before_its_report_is_found(log: FakeLog) -> None:
    registry = LocationRegistry()
    async with following(log, registry, DeadLetters()):
        log.append(TOPIC, b"nieuw", location("nieuw"))  # the loop has not seen it yet
        found = await registry.lookup("nieuw", timestamp=time.time())
        assert found is not None and found.location_id == "nieuw"
        assert registry.looks == 1


async def test_a_report_newer_than_the_last_look_looks_once(log: FakeLog) -> None:
    registry = LocationRegistry()
    async with following(log, registry, DeadLetters()):
        now = time.time()
        assert await registry.lookup("nergens", timestamp=now) is None
        assert registry.looks == 1
        # The look began after the report was sent: the same report again costs nothing...
        assert await registry.lookup("nergens", timestamp=now - 2) is None
        assert registry.looks == 1
        # ...and neither does any report older than it.
        for _ in range(100):
            await registry.lookup("nergens", timestamp=now - 10)
        assert registry.looks == 1


async def test_lookups_at_the_same_moment_share_a_look(log: FakeLog) -> None:
    registry = LocationRegistry()
    async with following(log, registry, DeadLetters()):
        log.consumers[1].end_offsets_delay = 0.05
        found = await asyncio.gather(
            *(registry.lookup(f"nergens-{n}", timestamp=time.time() + 60) for n in range(20))
        )
        assert found == [None] * 20
        assert registry.looks <= 2


async def test_a_broker_that_does_not_answer_costs_at_most_the_timeout(log: FakeLog) -> None:
    registry = LocationRegistry(timeout=0.1)
    async with following(log, registry, DeadLetters()):
        log.consumers[1].end_offsets_delay = 30
        started = time.perf_counter()
        assert await registry.lookup("nergens") is None
        assert time.perf_counter() - started < 1


async def test_a_failing_look_is_no_error(log: FakeLog) -> None:
    registry = LocationRegistry()
    async with following(log, registry, DeadLetters()):

        async def broken(partitions: Any) -> Any:
            raise ConnectionError("broker gone")

        log.consumers[1].end_offsets = broken  # type: ignore[method-assign]
        assert await registry.lookup("nergens") is None


async def test_without_following_a_lookup_is_a_dictionary_lookup() -> None:
    registry = LocationRegistry()
    registry.apply(b"ter-apel", location())
    assert await registry.lookup("ter-apel") is not None
    assert await registry.lookup("nergens", timestamp=time.time()) is None
    await registry.caught_up(timeout=0.1)
