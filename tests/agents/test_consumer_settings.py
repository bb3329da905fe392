"""The worker's Kafka consumer as Faust builds it, with what the worker changes on it."""

from __future__ import annotations

from streams.settings import Settings, load_alerting_config
from streams.worker import faust_patches
from streams.worker.app import build_worker


async def test_the_consumer_fetch_wait_is_short() -> None:
    """Faust holds fetches for 1.5 s; the worker's consumer waits at most FETCH_MAX_WAIT_MS, so
    partitions resumed after a recovery are fetched at once (docs/performance.md)."""
    worker = build_worker(Settings(), load_alerting_config(None))
    worker.app.finalize()
    thread = worker.app.consumer._thread
    consumer = thread._create_worker_consumer(worker.app.transport)
    assert faust_patches.FETCH_MAX_WAIT_MS == 100
    assert consumer._fetch_max_wait_ms == faust_patches.FETCH_MAX_WAIT_MS
    # Everything else stays as Faust sets it.
    assert consumer._group_id == worker.app.conf.id
    assert consumer._max_partition_fetch_bytes == worker.app.conf.consumer_max_fetch_size
    await consumer.stop()  # never started: only closes its client
