"""A worker built by the composition root with no broker behind it, for the agent tests.

Its edge records every send by topic; the cursors start every partition at offset 0 with nothing
to read back; there is no consumer group to commit to; a batch that cannot be written raises
instead of stopping the process. The tables are the real Faust tables (memory store), their
changelog writes recorded.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.config import AlertingConfig
from alerts.model import Location
from streams.settings import Settings, load_alerting_config
from streams.worker.app import Worker, build_worker
from streams.worker.runner import Edge

__all__ = ["Recorder", "RecordingTopic", "a_worker"]


class RecordingTopic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, dict[str, Any]]] = []
        #: The partition each of ``sent`` was sent to (None: left to the partitioner).
        self.partitions: list[int | None] = []

    async def __call__(
        self, key: bytes | None = None, value: Any = None, partition: int | None = None
    ) -> None:
        if isinstance(value, bytes):
            self.sent.append((key, json.loads(value)))
            self.partitions.append(partition)


class Recorder:
    """The edge's ``send``: every message by the short name of its topic."""

    def __init__(self, settings: Settings) -> None:
        self.by_name = {
            settings.topic("alerts"): "alerts",
            settings.topic("internal.province-contributions"): "province",
            settings.topic("deadletter"): "deadletter",
            settings.topic("audit"): "audit",
            settings.topic("notifications"): "notifications",
        }
        self.topics = {name: RecordingTopic() for name in self.by_name.values()}
        self.other = RecordingTopic()

    async def send(
        self, topic: Any, key: bytes | None, value: bytes | None, partition: int | None
    ) -> None:
        name = self.by_name.get(topic.get_topic_name())
        await (self.topics[name] if name else self.other)(key=key, value=value, partition=partition)


class NoHoles:
    """No broker: nothing to read back, and no partition known to hold records (the agents then
    judge days by the partitions that have marked, and never wait for intake)."""

    async def earliest(self, topic: str, partition: int) -> int:
        return 0

    async def ends(self, tps: Any) -> dict[Any, int]:
        return {}

    async def beginnings(self, tps: Any) -> dict[Any, int]:
        return {}

    async def read(self, topic: str, partition: int, start: int, stop: int) -> list[Any]:
        raise AssertionError(f"no hole expected in {topic}[{partition}] {start}..{stop}")


async def _no_consumer_group(app: Any, offsets: Any) -> None:
    return None


def _reraise(exc: BaseException) -> None:
    raise exc


def a_worker(
    config: AlertingConfig | None = None,
    locations: tuple[Location, ...] = (),
    reader: Any = None,
) -> tuple[Worker, Recorder]:
    """A worker with no broker: the sends recorded, the cursors start every partition at offset
    0 with nothing to read back, no consumer group to commit to, and a batch that cannot be
    written raises instead of stopping the process. ``reader``: the broker as the worker reads it
    straight (default: nothing on it)."""
    settings = Settings()
    recorder = Recorder(settings)
    edge = Edge(
        send=recorder.send,
        commit=_no_consumer_group,
        reader=reader if reader is not None else NoHoles(),
        assignment=lambda: None,
        fatal=_reraise,
    )
    built = build_worker(settings, config or load_alerting_config(None), edge=edge)
    built.app.finalize()
    built.app.flow_control.resume()
    registry = built.ctx.registry
    for location in locations:
        registry._locations[location.location_id] = location
    registry.ready.set()
    for table in built.app.tables.values():
        table.changelog_topic.send = RecordingTopic()  # no changelog writes, only a record
    return built, recorder
