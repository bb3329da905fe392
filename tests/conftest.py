"""Shared fixtures: the real Kafka broker for integration tests.

The broker is the embedded one (``opvangwacht kafka start``), started here when it is not running
and stopped again at the end if this session started it; OPVANG_KAFKA_BOOTSTRAP points the tests
at an existing broker instead. Each test module gets its own topic prefix, so tests never see each
other's records and can run against a broker that already holds data; the topics of those
prefixes are deleted when the session ends (``run_topics``).
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import run_topics
from tooling import TOOLS


def _missing_tools() -> dict[str, str]:
    return {tool: package for tool, package in TOOLS.items() if shutil.which(tool) is None}


def _install_hint(missing: dict[str, str]) -> str:
    packages = " ".join(sorted(set(missing.values())))
    return (
        f"missing {', '.join(sorted(missing))}: the tests that need them skip here. "
        f"Install with: sudo apt-get install {packages}"
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    missing = _missing_tools()
    return [_install_hint(missing)] if missing else []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    missing = _missing_tools()
    if missing and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line(_install_hint(missing), yellow=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI a skipped test is a failed one: CI must never pass by not running a test."""
    outcome: Any = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which counts as a failure: {reason}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The broker's address. At the end of the session the topics its tests' workers made are
    deleted (``run_topics``), before a broker this session started is stopped."""
    external = os.environ.get("OPVANG_KAFKA_BOOTSTRAP")
    if external:
        try:
            yield external
        finally:
            _delete_session_topics(external)
        return
    from streams.dev import broker

    status = broker.status()
    started = False
    if not status.running:
        status = broker.start(progress=lambda line: print(line))
        started = True
    try:
        yield status.bootstrap
    finally:
        _delete_session_topics(status.bootstrap)
        if started:
            broker.stop()


def _delete_session_topics(bootstrap: str) -> None:
    problem = run_topics.delete_session_topics(bootstrap)
    if problem:
        warnings.warn(problem, stacklevel=1)


@pytest.fixture
def topic_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}."
