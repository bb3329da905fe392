"""A minimal Faust worker: the framework's own ceiling on this machine, for comparison.

Run by ``bench.throughput.run_ceiling`` as a subprocess (not meant to be started by hand). It
reads the benchmark's occupancy topic with the same Faust settings as the real worker and, per
event, does only:

* ``read``:  json.loads of the value;
* ``io``:    json.loads, one table write (a small JSON value, so one changelog message) and one
             send to another topic - the same Kafka I/O shape as ``process_reports`` with trivial
             application code.
* ``batch``: json.loads only, but reading with ``Stream.take_events`` in batches the way the real
             agents do (``streams.state.batch``): the fastest a Faust agent reads on this machine.

When it has seen BENCH_EVENTS events it prints one JSON line with the rate and stops.
Environment: BENCH_BOOTSTRAP, BENCH_TOPIC (one, or several separated by commas), BENCH_EVENTS,
BENCH_APP_ID, BENCH_MODE, BENCH_PARTITIONS, BENCH_DATA_DIR.

BENCH_CONSUMER_PATCHES=1 installs the worker's changes to Faust first
(``streams.worker.faust_patches``, among them the consumer's cheaper hand-over of a record): what
the floor would be for a Faust agent that had them. The benchmark's floor is Faust as released;
this is for comparison (docs/performance.md).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import faust

if os.environ.get("BENCH_CONSUMER_PATCHES") == "1":
    from streams.worker import faust_patches

    faust_patches.install()

bootstrap = os.environ["BENCH_BOOTSTRAP"]
topic_name = os.environ["BENCH_TOPIC"]
expected = int(os.environ["BENCH_EVENTS"])
mode = os.environ.get("BENCH_MODE", "read")
partitions = int(os.environ.get("BENCH_PARTITIONS", "4"))

app = faust.App(
    os.environ["BENCH_APP_ID"],
    broker=f"kafka://{bootstrap}",
    store="memory://",
    datadir=os.environ.get("BENCH_DATA_DIR", "/tmp/opvang-bench-ceiling"),
    web_enabled=False,
    topic_partitions=partitions,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    stream_wait_empty=False,
    producer_acks=-1,
    table_key_serializer="json",
    table_value_serializer="json",
)
source = app.topic(*topic_name.split(","), key_serializer="raw", value_serializer="raw")
sink = app.topic(
    f"{os.environ['BENCH_APP_ID']}-sink",
    partitions=partitions,
    key_serializer="raw",
    value_serializer="raw",
)
table = app.Table("ceiling-state", default=None, partitions=partitions)
state: dict[str, Any] = {"count": 0, "first": None, "first_n": 0, "done": False}


def count(n: int) -> None:
    """Count ``n`` more events; the rate runs from the end of the first call (one event, or the
    first batch) to the call that reaches ``expected``."""
    if state["first"] is None:
        state["first"], state["first_n"] = time.monotonic(), n
    state["count"] += n
    if state["count"] >= expected and not state["done"]:
        state["done"] = True
        seconds = time.monotonic() - state["first"]
        print(
            json.dumps(
                {
                    "mode": mode,
                    "events": expected,
                    "seconds_first_to_last": seconds,
                    "events_per_s": (
                        (state["count"] - state["first_n"]) / seconds if seconds > 0 else None
                    ),
                }
            ),
            flush=True,
        )
        os.kill(os.getpid(), signal.SIGTERM)


async def consume_batches(stream: faust.StreamT[bytes]) -> Any:
    async for events in stream.take_events(2000, within=0.05):
        for event in events:
            json.loads(event.value)
        count(len(events))
        yield None


@app.agent(source, concurrency=1)
async def consume(stream: faust.StreamT[bytes]) -> Any:
    if mode == "batch":
        async for _ in consume_batches(stream):
            yield None
        return
    async for event in stream.events():
        value = json.loads(event.value)
        if mode == "io":
            table[value["location_id"]] = {"date": value["date"], "occupancy": value["occupancy"]}
            await sink.send(key=event.message.key, value=event.value)
        count(1)
        yield None


if __name__ == "__main__":
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
