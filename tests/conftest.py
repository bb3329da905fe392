"""Shared fixtures: the real Kafka broker for integration tests.

The broker is the embedded one (``opvangwacht kafka start``), started here when it is not running
and stopped again at the end if this session started it; OPVANG_KAFKA_BOOTSTRAP points the tests
at an existing broker instead. Each test module gets its own topic prefix, so tests never see each
other's records and can run against a broker that already holds data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    external = os.environ.get("OPVANG_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    from streams import broker

    status = broker.status()
    started = False
    if not status.running:
        status = broker.start(progress=lambda line: print(line))
        started = True
    try:
        yield status.bootstrap
    finally:
        if started:
            broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}."
