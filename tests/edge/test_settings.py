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


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("OPVANG_WORKER_ID", "worker 1", "OPVANG_WORKER_ID may hold"),
        ("OPVANG_WORKER_ID", "x" * 201, "1 to 200"),
        ("OPVANG_TOPIC_PREFIX", "opvang/", "OPVANG_TOPIC_PREFIX may hold"),
        ("OPVANG_WEB_PORT", "70000", "OPVANG_WEB_PORT must be a port number"),
        ("OPVANG_PARTITIONS", "0", "OPVANG_PARTITIONS must be a whole number"),
    ],
)
def test_a_wrong_value_names_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({name: value})
