"""OPVANG_REPLICATION_FACTOR reaches Faust: its topics and every table's changelog."""

from __future__ import annotations

import pytest

from streams.settings import Settings, load_alerting_config
from streams.worker.app import build_worker


@pytest.mark.parametrize(("copies", "insync"), [(1, None), (3, "2")])
def test_changelogs_get_the_replication_settings(copies: int, insync: str | None) -> None:
    built = build_worker(Settings(replication_factor=copies), load_alerting_config(None))
    assert built.app.conf.topic_replication_factor == copies
    tables = list(built.app.tables.values())
    assert tables
    for table in tables:
        config = table.changelog_topic.config or {}
        assert config.get("min.insync.replicas") == insync, table.name
        assert config["max.message.bytes"]  # the changelog's own settings are kept
