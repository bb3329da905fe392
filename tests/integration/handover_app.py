"""A minimal Faust worker for ``test_handover.py``: one agent reads a topic through a stream
buffer of eight records, pausing now and then, so the consumer's hand-overs often find the
buffer full and have to wait. With ``HANDOVER_PATCH=1`` the worker's consumer patch is installed
(``streams.worker.faust_patches``), otherwise Faust runs as it comes. When it has seen
``HANDOVER_COUNT`` records it prints one JSON line (the values per partition in the order read,
and how many hand-overs went through Faust's ``wait_first``) and stops.

Run by the test as a subprocess; not meant to be started by hand."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import faust

from streams.worker import faust_patches

expected = int(os.environ["HANDOVER_COUNT"])
waited = [0]
if os.environ.get("HANDOVER_PATCH") == "1":
    faust_patches.install()
    resume = faust_patches._wait_first

    async def counted(*args: Any, **kwargs: Any) -> Any:
        waited[0] += 1
        return await resume(*args, **kwargs)

    faust_patches._wait_first = counted

app = faust.App(
    os.environ["HANDOVER_APP_ID"],
    broker=f"kafka://{os.environ['HANDOVER_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ["HANDOVER_DATA_DIR"],
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    stream_buffer_maxsize=8,
)
source = app.topic(os.environ["HANDOVER_TOPIC"], key_serializer="raw", value_serializer="raw")
seen: dict[int, list[str]] = {}


@app.agent(source, concurrency=1)
async def read(stream: faust.StreamT[bytes]) -> Any:
    count = 0
    async for event in stream.events():
        seen.setdefault(event.message.partition, []).append(event.value.decode())
        count += 1
        if count % 40 == 0:
            await asyncio.sleep(0.01)  # the buffer fills meanwhile
        if count == expected:
            print(json.dumps({"seen": seen, "waited": waited[0]}), flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
        yield None


if __name__ == "__main__":
    faust.Worker(
        app, loglevel="WARNING", quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
