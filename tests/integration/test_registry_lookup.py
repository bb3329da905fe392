"""The location registry on the real broker: an unknown location costs a report about a
millisecond, not the half second a request for end offsets waited behind the follow consumer's
held fetch; a location published a moment before its report is still found; and a location
record nested 10,000 deep is dead-lettered while the loop goes on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid

import pytest
from e2e_support import produce

from alerts.errors import InvalidReport
from streams.state.registry import LocationRegistry

pytestmark = pytest.mark.integration


def location(location_id: str) -> bytes:
    return json.dumps(
        {
            "location_id": location_id,
            "name": location_id,
            "kind": "regular",
            "municipality_code": "GM1950",
            "province": "GR",
            "capacity": 100,
        }
    ).encode()


async def test_unknown_locations_are_cheap_and_new_ones_are_found(kafka_bootstrap: str) -> None:
    topic = f"locations-{uuid.uuid4().hex[:8]}"
    await produce(
        kafka_bootstrap,
        [(topic, "a", location("a")), (topic, "b", b"[" * 10_000 + b"]" * 10_000)],
    )
    dead: list[tuple[int, str]] = []

    async def dead_letter(
        t: str, p: int, offset: int, key: bytes | None, error: InvalidReport, v: bytes | None
    ) -> None:
        dead.append((offset, error.reason))

    registry = LocationRegistry()
    task = asyncio.create_task(registry.follow(kafka_bootstrap, topic, dead_letter))
    try:
        await asyncio.wait_for(registry.ready.wait(), timeout=30)
        assert registry.get("a") is not None
        assert dead == [(1, "invalid_json")]
        # Reports sent before the registry last looked: no look at all.
        old = time.time() - 60
        started = time.perf_counter()
        for _ in range(1000):
            assert await registry.lookup("nergens", timestamp=old) is None
        assert time.perf_counter() - started < 0.5
        # Reports sent just now: a look each, on a connection no fetch holds up.
        started = time.perf_counter()
        for _ in range(20):
            assert await registry.lookup("nergens", timestamp=time.time()) is None
        per_report = (time.perf_counter() - started) / 20
        assert per_report < 0.1, f"{per_report * 1000:.0f} ms per unknown location"
        # A location published a moment before its first report is known when it is judged.
        await produce(kafka_bootstrap, [(topic, "c", location("c"))])
        found = await registry.lookup("c", timestamp=time.time())
        assert found is not None and found.location_id == "c"
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
