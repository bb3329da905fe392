"""Worker settings from the environment: what is accepted, and what a mistake says."""

from __future__ import annotations

import pytest

from alerts.errors import ConfigError
from streams.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.bootstrap, settings.topic_prefix, settings.web_port) == (None, "opvang.", 6066)
    assert settings.worker_id is None  # a new group member at every start
    assert settings.app_id == "opvangwacht-opvang"


def test_worker_id_makes_a_static_member() -> None:
    assert Settings.from_env({"OPVANG_WORKER_ID": "worker-1"}).worker_id == "worker-1"
    assert Settings.from_env({"OPVANG_WORKER_ID": ""}).worker_id is None


def test_pagerduty_webhook_secrets_are_a_list_and_never_shown() -> None:
    assert Settings.from_env({}).pagerduty_webhook_secrets == ()
    settings = Settings.from_env({"OPVANG_PAGERDUTY_WEBHOOK_SECRET": " one-secret , ,two-secret"})
    assert settings.pagerduty_webhook_secrets == ("one-secret", "two-secret")
    assert "one-secret" not in repr(settings)


def test_replication_factor_and_min_insync_replicas() -> None:
    single = Settings.from_env({})
    assert (single.replication_factor, single.min_insync_replicas) == (1, None)
    cluster = Settings.from_env({"OPVANG_REPLICATION_FACTOR": "3"})
    assert (cluster.replication_factor, cluster.min_insync_replicas) == (3, 2)


def test_topics_get_the_replication_factor() -> None:
    from streams.topics import topic_specs

    settings = Settings.from_env({"OPVANG_REPLICATION_FACTOR": "3"})
    spec = topic_specs(settings)[0]
    topic = spec.to_new_topic(settings.replication_factor, settings.min_insync_replicas)
    assert topic.replication_factor == 3
    assert topic.topic_configs["min.insync.replicas"] == "2"
    assert "min.insync.replicas" not in spec.to_new_topic(1, None).topic_configs


def test_the_status_page_address_is_read_as_given() -> None:
    assert Settings.from_env({}).status_url is None
    url = "https://status.opvang.example.nl:8443/opvang/"
    assert Settings.from_env({"OPVANG_STATUS_URL": f" {url} "}).status_url == url


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("OPVANG_WORKER_ID", "worker 1", "OPVANG_WORKER_ID may hold"),
        ("OPVANG_WORKER_ID", "x" * 201, "1 to 200"),
        ("OPVANG_TOPIC_PREFIX", "opvang/", "OPVANG_TOPIC_PREFIX may hold"),
        ("OPVANG_WEB_PORT", "70000", "OPVANG_WEB_PORT must be a port number"),
        ("OPVANG_PARTITIONS", "0", "OPVANG_PARTITIONS must be a whole number"),
        ("OPVANG_REPLICATION_FACTOR", "0", "OPVANG_REPLICATION_FACTOR must be a whole number"),
        ("OPVANG_REPLICATION_FACTOR", "three", "OPVANG_REPLICATION_FACTOR must be a whole number"),
        ("OPVANG_STATUS_URL", "status.example.nl", "OPVANG_STATUS_URL must be"),
        ("OPVANG_STATUS_URL", "https://status.example.nl/#top", "OPVANG_STATUS_URL must be"),
        ("OPVANG_STATUS_URL", "https://x.nl/?a=1", "OPVANG_STATUS_URL must be"),
        ("OPVANG_STATUS_URL", "https://x.nl/" + "a" * 100, "at most 100"),
        ("OPVANG_STATUS_URL", "javascript:alert(1)", "OPVANG_STATUS_URL must be"),
    ],
)
def test_a_wrong_value_names_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({name: value})


def test_every_variable_the_settings_read_is_described_and_in_worker_help() -> None:
    import re
    import subprocess
    import sys
    from pathlib import Path

    from streams import settings

    source = Path(settings.__file__).read_text(encoding="utf-8")
    read = set(re.findall(r'env\.get\("(OPVANG_[A-Z_]+)"', source))
    assert read == set(settings.VARIABLES)
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in read), result.stdout
