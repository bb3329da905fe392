"""The end of a test session deletes the topics of its workers' prefixes (``tests/run_topics.py``),
and nothing else: not another prefix's, not a developer's own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest
import run_topics
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from e2e_support import list_topics

from streams.settings import Settings


@pytest.mark.parametrize(
    ("prefix", "kept"),
    [
        ("page-1f3a9c2e.", True),
        ("test-0123456789.", True),
        ("opvang.", False),  # the default: a developer's own topics
        ("", False),
        ("page.", False),
        ("page-1f3a.", False),  # too little chance in it
    ],
)
def test_only_the_tests_own_prefixes_are_remembered(prefix: str, kept: bool) -> None:
    bootstrap = f"remember-{uuid.uuid4().hex}:9092"
    run_topics.remember(bootstrap, prefix)
    assert (prefix in run_topics.remembered(bootstrap)) is kept


def test_a_topic_belongs_to_its_prefix_and_to_the_app_id_it_gives() -> None:
    prefix = "page-1f3a9c2e."
    app_id = Settings(topic_prefix=prefix).app_id
    assert run_topics.owned_by("page-1f3a9c2e.alerts", [prefix])
    assert run_topics.owned_by(f"{app_id}-capacity-changelog", [prefix])
    assert not run_topics.owned_by("page-1f3a9c2f.alerts", [prefix])
    assert not run_topics.owned_by("opvang.alerts", [prefix])
    assert not run_topics.owned_by(f"{app_id}x-capacity-changelog", [prefix])


@pytest.mark.integration
async def test_the_topics_of_a_prefix_are_deleted_and_no_others(kafka_bootstrap: str) -> None:
    ours = f"cleanup-{uuid.uuid4().hex[:8]}."
    other = f"cleanup-{uuid.uuid4().hex[:8]}."
    app_id = Settings(topic_prefix=ours).app_id
    gone = [f"{ours}alerts", f"{app_id}-capacity-changelog"]
    kept = [f"{other}alerts", f"{Settings(topic_prefix=other).app_id}-capacity-changelog"]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1) for name in gone + kept])
        await _until(kafka_bootstrap, lambda topics: set(gone + kept) <= topics)
        assert await run_topics.delete_topics_of(kafka_bootstrap, [ours]) == sorted(gone)
        topics = await _until(kafka_bootstrap, lambda topics: not set(gone) & topics)
        assert set(kept) <= topics
    finally:
        await admin.delete_topics(kept)
        await admin.close()


async def _until(bootstrap: str, holds: Callable[[set[str]], bool]) -> set[str]:
    """The broker's topics once ``holds`` them (30 s at most: creating and deleting are
    asynchronous on the broker)."""
    deadline = time.monotonic() + 30
    while not holds(topics := await list_topics(bootstrap)):
        assert time.monotonic() < deadline, sorted(t for t in topics if "cleanup" in t)
        await asyncio.sleep(0.2)
    return topics
