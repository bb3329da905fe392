"""The topics a test session made on the broker, deleted when the session ends (the
``kafka_bootstrap`` fixture), so that a developer's long-running broker does not fill up with
every run's topics.

A test's worker (``e2e_support.WorkerProcess``) names its topics with the test's prefix, and Faust
names its changelog topics after the application id (``opvangwacht-<prefix as a slug>-``). Only
prefixes of the tests' own form, a name and a random hex part (``page-1f3a9c2e.``), are
remembered: deleting what starts with one cannot touch another session's topics on a shared
broker, nor a developer's own (``opvang.``).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import Settings

#: A prefix as the tests make them: ``f"page-{uuid.uuid4().hex[:8]}."``.
TEST_PREFIX = re.compile(r"[a-z0-9-]+-[0-9a-f]{8,}\.")

#: Prefixes used in this session, per bootstrap.
_used: dict[str, set[str]] = {}


def remember(bootstrap: str, prefix: str) -> None:
    """Delete the topics of ``prefix`` on ``bootstrap`` when the session ends (a prefix not of
    the tests' form is left alone)."""
    if TEST_PREFIX.fullmatch(prefix):
        _used.setdefault(bootstrap, set()).add(prefix)


async def fresh_topic(bootstrap: str, name: str, partitions: int) -> str:
    """A new topic ``<name>-<hex>.reports`` with ``partitions`` partitions, its prefix
    remembered (deleted when the session ends); its full name."""
    prefix = f"{name}-{uuid.uuid4().hex[:8]}."
    remember(bootstrap, prefix)
    topic = prefix + "reports"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return topic


def remembered(bootstrap: str) -> set[str]:
    return set(_used.get(bootstrap, ()))


def owned_by(topic: str, prefixes: Iterable[str]) -> bool:
    """Whether ``topic`` is one a worker with one of ``prefixes`` makes: named with the prefix,
    or with the application id the prefix gives (Faust's changelog and repartition topics)."""
    return any(
        topic.startswith(prefix) or topic.startswith(Settings(topic_prefix=prefix).app_id + "-")
        for prefix in prefixes
    )


async def delete_topics_of(bootstrap: str, prefixes: Iterable[str]) -> list[str]:
    """Delete every topic on ``bootstrap`` of one of ``prefixes`` (:func:`owned_by`); the names
    deleted, sorted."""
    wanted = [p for p in prefixes if TEST_PREFIX.fullmatch(p)]
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if owned_by(t, wanted))
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


def delete_session_topics(bootstrap: str) -> str | None:
    """Delete the topics of every prefix remembered for ``bootstrap``; a line to print when that
    failed (the tests have passed or failed by then: a broker gone away is no reason to fail)."""
    prefixes = remembered(bootstrap)
    if not prefixes:
        return None
    try:
        asyncio.run(asyncio.wait_for(delete_topics_of(bootstrap, prefixes), 60))
    except Exception as exc:
        return f"the test topics on {bootstrap} were not deleted ({type(exc).__name__}: {exc})"
    _used.pop(bootstrap, None)
    return None
