"""The worker's Kafka consumer as Faust builds it, with what the worker changes on it."""

from __future__ import annotations

from streams.settings import Settings, load_alerting_config
from streams.worker import faust_patches
from streams.worker.app import CONSUMER_FETCH_BYTES, build_worker


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


async def test_a_poll_holds_a_quarter_megabyte_of_a_partition() -> None:
    """Faust fetches a megabyte of each partition; the worker a quarter, so a backlog on the report
    topics no longer starves the other agents for a whole poll (docs/performance.md)."""
    worker = build_worker(Settings(), load_alerting_config(None))
    worker.app.finalize()
    consumer = worker.app.consumer._thread._create_worker_consumer(worker.app.transport)
    assert CONSUMER_FETCH_BYTES == 256 * 1024
    assert consumer._max_partition_fetch_bytes == CONSUMER_FETCH_BYTES
    await consumer.stop()
