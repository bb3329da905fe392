"""The embedded broker manager without a JVM: version pinning, state dir, safe stop."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest

from streams.dev import broker, kafka_install

REPO = Path(__file__).resolve().parents[2]
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _pom_kafka_version() -> str:
    pom = resources.files("streams") / "kafka" / "pom.xml"
    root = ET.fromstring(pom.read_text(encoding="utf-8"))
    version = root.findtext("m:properties/m:kafka.version", namespaces=POM_NS)
    assert version is not None, "pom.xml has no <kafka.version> property"
    return version.strip()


def test_kafka_version_matches_the_pom() -> None:
    assert _pom_kafka_version() == kafka_install.KAFKA_VERSION


def test_package_data_ships_pom_and_log4j_config() -> None:
    kafka = resources.files("streams") / "kafka"
    assert (kafka / "pom.xml").is_file()
    log4j = (kafka / "log4j2.xml").read_text(encoding="utf-8")
    assert "server.log" in log4j
    ET.fromstring(log4j)  # well-formed XML


def test_state_dir_from_opvang_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPVANG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert broker.default_state_dir() == (tmp_path / "state").resolve()


def test_state_dir_from_xdg_state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPVANG_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert broker.default_state_dir() == tmp_path / "xdg" / "opvangwacht"


def test_relative_xdg_state_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPVANG_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")
    assert broker.default_state_dir() == Path.home() / ".local" / "state" / "opvangwacht"


def test_default_state_dir_is_outside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPVANG_STATE_DIR", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.chdir(REPO)
    state = broker.default_state_dir()
    assert state == Path.home() / ".local" / "state" / "opvangwacht"
    assert state.is_absolute()
    assert not state.resolve().is_relative_to(REPO)


def test_status_of_an_empty_state_dir(tmp_path: Path) -> None:
    result = broker.status(tmp_path)
    assert not result.running
    assert result.pid is None
    assert result.state_dir == tmp_path.resolve()
    assert result.kafka_version == kafka_install.KAFKA_VERSION


def test_stop_without_pid_file_is_a_no_op(tmp_path: Path) -> None:
    result = broker.stop(tmp_path)
    assert not result.running
    assert result.pid is None
    assert not (tmp_path / "kafka.pid").exists()


def test_stop_on_a_missing_state_dir_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "never-started"
    assert not broker.stop(missing).running
    assert not missing.exists()


def test_stop_never_signals_a_process_that_is_not_our_broker(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "kafka.pid").write_text(f"{sleeper.pid}\n")
        assert not broker.status(tmp_path).running

        result = broker.stop(tmp_path, timeout=1.0)

        assert sleeper.poll() is None, "stop() signalled a process that is not Kafka"
        assert not result.running
        assert "stale" in result.detail
        assert not (tmp_path / "kafka.pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stop_ignores_a_pid_file_with_garbage(tmp_path: Path) -> None:
    (tmp_path / "kafka.pid").write_text("not a pid\n")
    assert not broker.stop(tmp_path).running
    assert not (tmp_path / "kafka.pid").exists()


def test_wait_until_ready_gives_up_with_advice() -> None:
    with pytest.raises(kafka_install.BrokerError, match="opvangwacht kafka start"):
        broker.wait_until_ready("localhost:1", timeout=0.5)
