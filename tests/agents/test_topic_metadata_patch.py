"""The wrapper of Faust's ``Producer.create_topic`` (streams.worker.faust_patches): once Faust has
created a topic, the producer's client tracks it, so the metadata updates of the next topics ask
for the worker's topics instead of the whole cluster; never before the creation, when a metadata
request naming the topic could have the broker create it with one partition. Faust's method is
replaced by a recording stand-in here; the year benchmark measures the real one
(docs/performance.md, issue 12)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import faust.transport.drivers.aiokafka as faust_aiokafka
import pytest

from streams.settings import Settings, load_alerting_config
from streams.worker import faust_patches
from streams.worker.app import build_worker


class Client:
    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.tracked: set[str] = set()

    async def add_topic(self, topic: str) -> bool:
        self.steps.append(f"track {topic}")
        self.tracked.add(topic)
        return True


def a_producer(client: Client, *, declare: bool = True) -> Any:
    return SimpleNamespace(
        _producer=SimpleNamespace(client=client),
        app=SimpleNamespace(conf=SimpleNamespace(topic_allow_declare=declare)),
    )


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    recorded: list[str] = []

    async def create(self: Any, topic: str, partitions: int, *args: Any, **kwargs: Any) -> None:
        assert topic not in self._producer.client.tracked, "tracked before it was created"
        recorded.append(f"create {topic}/{partitions}")

    monkeypatch.setattr(faust_patches, "_create_topic", create)
    return recorded


async def test_the_topic_is_tracked_once_faust_has_created_it(steps: list[str]) -> None:
    await faust_patches._create_topic_tracked(a_producer(Client(steps)), "opvang.alerts", 4, 1)
    assert steps == ["create opvang.alerts/4", "track opvang.alerts"]


async def test_a_worker_that_may_not_declare_topics_tracks_nothing(steps: list[str]) -> None:
    producer = a_producer(Client(steps), declare=False)
    await faust_patches._create_topic_tracked(producer, "opvang.alerts", 4, 1)
    assert steps == ["create opvang.alerts/4"]


def test_the_worker_installs_it() -> None:
    build_worker(Settings(), load_alerting_config(None))
    assert faust_aiokafka.Producer.create_topic is faust_patches._create_topic_tracked
