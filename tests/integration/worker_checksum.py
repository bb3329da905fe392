"""The run the checksum tests share (test_year_checksum, test_intake_skew_worker): a real worker
(the benchmark's, ``bench.worker``) takes the benchmark's input on topics of its own, and the
checksum of the alert changes it published must be the decision core's (``bench.checksum``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the benchmark is not part of the installed package
    sys.path.insert(0, str(REPO))

from bench.checksum import AlertChecksum, checksum, read_alert_changes  # noqa: E402
from bench.topics import (  # noqa: E402
    create_topics,
    delete_topics,
    produce_locations,
    produce_messages,
    wait_drained,
    worker_source_topics,
)
from bench.worker import Worker  # noqa: E402
from streams.settings import Settings  # noqa: E402

#: ``(topic, key, value)`` as the benchmark publishes it.
Message = tuple[str, str, dict[str, Any]]

#: Partitions of the run's topics, and the worker's.
PARTITIONS = 4


async def assert_worker_gives_checksum(
    bootstrap: str,
    prefix: str,
    locations: list[dict[str, Any]],
    core: AlertChecksum,
    log_path: Path,
    *,
    backlog: Sequence[Message],
    later: Sequence[Sequence[Message]] = (),
    timeout: float,
    stall: float,
) -> None:
    """Make the topics of ``prefix``, publish ``locations`` and ``backlog``, start a worker and
    wait until it has committed everything; then publish each batch of ``later`` in turn and
    wait again. The checksum of the worker's alerts topic must be ``core``. ``timeout`` and
    ``stall`` bound each wait (``bench.topics.wait_drained``). The worker is stopped and the
    run's topics deleted at the end."""
    app_id = Settings(topic_prefix=prefix).app_id
    await create_topics(bootstrap, prefix, PARTITIONS)
    topics = worker_source_topics(prefix)
    worker: Worker | None = None
    try:
        await produce_locations(bootstrap, prefix, locations)
        await produce_messages(bootstrap, iter(backlog), len(backlog))
        worker = Worker(bootstrap, prefix, PARTITIONS, log_path, "info")
        for batch in (None, *later):
            if batch is not None:
                await produce_messages(bootstrap, iter(batch), len(batch))
            lag, _ = await wait_drained(bootstrap, app_id, topics, timeout=timeout, stall=stall)
            assert lag == 0, f"{lag} messages not committed\n{worker.log_tail()}"
        worked = checksum(await read_alert_changes(bootstrap, f"{prefix}alerts"))
        # Messages of their own: pytest rewrites the assertions of test modules, not of helpers.
        assert (worked.changes, worked.sha256) == (core.changes, core.sha256), (
            f"worker {worked}, core {core}\n{worker.log_tail()}"
        )
    finally:
        if worker is not None:
            worker.shut_down()
        await delete_topics(bootstrap, prefix, app_id)
