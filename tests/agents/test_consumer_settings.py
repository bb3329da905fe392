"""The worker's Kafka consumer as Faust builds it, with what the worker changes on it."""

from __future__ import annotations

import math

from mode.utils.queues import ThrowableQueue

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


def test_a_poll_always_fits_the_buffer_above_faust_s_pressure_mark() -> None:
    """A poll's records are put into the agents' buffers one by one, and a put into a full buffer
    holds up every agent (faust.transport.conductor). Faust stops fetching a partition once its
    buffer passes the queue's pressure mark; the records of a poll must fit above that mark."""
    app = build_worker(Settings(), load_alerting_config(None)).app
    maxsize, poll = app.conf.stream_buffer_maxsize, app.conf.broker_max_poll_records
    # The mark as mode's queue computes it (ThrowableQueue.pressure_high_size).
    mark = math.floor(maxsize / ThrowableQueue.pressure_high_ratio)
    assert poll is not None
    assert poll <= maxsize - mark
    assert app.conf.producer_linger > 0


async def test_the_consumer_hands_out_at_most_poll_records_at_a_time() -> None:
    worker = build_worker(Settings(), load_alerting_config(None))
    worker.app.finalize()
    consumer = worker.app.consumer._thread._create_worker_consumer(worker.app.transport)
    assert consumer._max_poll_records == worker.app.conf.broker_max_poll_records
    await consumer.stop()
