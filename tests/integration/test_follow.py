"""Following a small topic outside any consumer group (the audit trail, silences): ``ready`` says
when everything that was on the topic at the start has been applied."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from e2e_support import produce

from streams.state.audit import AuditLog
from streams.state.follow import follow_topic

pytestmark = pytest.mark.integration


async def test_ready_comes_after_everything_already_on_the_topic(kafka_bootstrap: str) -> None:
    topic = f"follow-{uuid.uuid4().hex[:8]}"
    await produce(kafka_bootstrap, [(topic, f"k{n % 7}", str(n).encode()) for n in range(500)])
    seen: list[tuple[str, bytes | None]] = []
    ready = asyncio.Event()
    task = asyncio.create_task(
        follow_topic(kafka_bootstrap, topic, lambda k, v: seen.append((k, v)), ready)
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
        assert [int(v or b"-1") for _, v in seen[:500]] == list(range(500))
        # ...and it keeps following what comes after.
        await produce(kafka_bootstrap, [(topic, "k0", b"500")])
        for _ in range(100):
            if len(seen) > 500:
                break
            await asyncio.sleep(0.1)
        assert seen[500:] == [("k0", b"500")]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_audit_log_is_ready_once_the_trail_is_read(kafka_bootstrap: str) -> None:
    topic = f"audit-{uuid.uuid4().hex[:8]}"
    entries = [(topic, "alert-1", b'{"type": "change", "n": %d}' % n) for n in range(50)]
    await produce(kafka_bootstrap, entries)
    log = AuditLog()
    assert not log.ready.is_set()
    task = asyncio.create_task(log.follow(kafka_bootstrap, topic))
    try:
        await asyncio.wait_for(log.ready.wait(), timeout=30)
        assert [e["n"] for e in log.history("alert-1")] == list(range(50))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
