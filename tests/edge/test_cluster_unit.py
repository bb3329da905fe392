"""The local three-node cluster without a JVM: ports, node config, status and stop of nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.cli.main import main
from streams.dev import broker, cluster, kafka_install


def test_nodes_share_one_quorum_and_keep_three_copies(tmp_path: Path) -> None:
    settings = cluster._node_settings(2, 19092)
    text = broker._server_properties(tmp_path, 19093, 19096, settings)
    lines = dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    assert lines["node.id"] == "2"
    assert lines["process.roles"] == "broker,controller"
    assert lines["controller.quorum.voters"] == (
        "1@localhost:19095,2@localhost:19096,3@localhost:19097"
    )
    assert lines["listeners"] == "PLAINTEXT://localhost:19093,CONTROLLER://localhost:19096"
    assert lines["default.replication.factor"] == "3"
    assert lines["min.insync.replicas"] == "2"
    assert lines["offsets.topic.replication.factor"] == "3"
    assert cluster.bootstrap_of(19092) == "localhost:19092,localhost:19093,localhost:19094"


def test_base_port_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPVANG_KAFKA_PORT", raising=False)
    assert cluster.default_base_port() == 9092
    monkeypatch.setenv("OPVANG_KAFKA_PORT", "19092")
    assert cluster.default_base_port() == 19092
    monkeypatch.setenv("OPVANG_KAFKA_PORT", "nine")
    with pytest.raises(kafka_install.BrokerError, match="OPVANG_KAFKA_PORT must be a port"):
        cluster.default_base_port()


def test_status_and_stop_of_a_cluster_never_started(tmp_path: Path) -> None:
    assert not cluster.status(tmp_path).running
    assert cluster.status(tmp_path).nodes == ()
    assert cluster.stop(tmp_path).nodes == ()
    assert not (tmp_path / "cluster").exists()


def test_cli_refuses_other_broker_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kafka", "status", "--brokers", "2"]) == 2
    assert "--brokers takes 1 or 3" in capsys.readouterr().err


def test_cli_status_of_a_cluster_never_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPVANG_STATE_DIR", str(tmp_path))
    assert main(["kafka", "status", "--brokers", "3"]) == 3
    assert "0 of 0 nodes running" in capsys.readouterr().out
