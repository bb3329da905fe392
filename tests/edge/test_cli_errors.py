"""Everyday mistakes at the command line end in one line that says what to do, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize("args", [["load-locations"], ["replay", "ter-apel-2022-08"]])
def test_an_unreachable_broker_is_one_line(args: list[str]) -> None:
    port = _closed_port()
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, "OPVANG_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("opvangwacht:")]
    assert lines == [
        f"opvangwacht: no Kafka broker answers at 127.0.0.1:{port}: start one with "
        "`opvangwacht kafka start`, or set OPVANG_KAFKA_BOOTSTRAP to one that runs"
    ], result.stderr


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, "OPVANG_KAFKA_BOOTSTRAP": f"127.0.0.1:{_closed_port()}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("opvangwacht:")]
    return line


def test_a_broken_scenario_line_names_the_file_and_line(tmp_path: Path) -> None:
    scenario = tmp_path / "s.jsonl"
    scenario.write_text('{"type": "occupancy", "location_id": "x", "date": "2026-01-01"}\n{bad\n')
    assert _one_line(_run("replay", str(scenario))).startswith(
        f"opvangwacht: {scenario}:2: not JSON"
    )


def test_a_bad_csv_cell_names_the_line_and_column(tmp_path: Path) -> None:
    scenario = tmp_path / "s.csv"
    scenario.write_text("type,location_id,date,occupancy\noccupancy,x,2026-01-01,veel\n")
    assert _one_line(_run("replay", str(scenario))) == (
        f"opvangwacht: {scenario}:2: column 'occupancy' must be a whole number, got 'veel'"
    )


def test_a_directory_or_garbage_as_locations_file(tmp_path: Path) -> None:
    assert "is a directory" in _one_line(_run("replay", str(tmp_path)))
    assert "is a directory" in _one_line(_run("load-locations", str(tmp_path)))
    garbage = tmp_path / "locations.json"
    garbage.write_text('{"locations": [{"name": "zonder id"}]}')
    assert _one_line(_run("load-locations", str(garbage))) == (
        f"opvangwacht: {garbage}: location 1 has no 'location_id'"
    )
    garbage.write_text("[1, 2")
    assert _one_line(_run("load-locations", str(garbage))).startswith(
        f"opvangwacht: {garbage}:1: not JSON"
    )


def test_the_web_port_in_use_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    """Something else already listens on the worker's port: one line, exit code 1, before the
    worker touches Kafka (the broker address below answers nobody)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", "worker"],
            env={
                **os.environ,
                "OPVANG_KAFKA_BOOTSTRAP": f"127.0.0.1:{_closed_port()}",
                "OPVANG_WEB_HOST": "127.0.0.1",
                "OPVANG_WEB_PORT": str(port),
                "OPVANG_DATA_DIR": str(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"opvangwacht: port {port} on 127.0.0.1 (OPVANG_WEB_HOST:OPVANG_WEB_PORT) is already in "
        "use: stop what listens there, or set OPVANG_WEB_PORT to a free port"
    ]


def test_a_free_web_port_is_no_problem() -> None:
    from streams.cli.main import web_port_problem

    port = _closed_port()
    assert web_port_problem("127.0.0.1", port) is None
    assert "cannot be opened" in (web_port_problem("no-such-host.invalid", port) or "")


def test_a_bad_sources_file_stops_the_worker_before_it_starts(tmp_path: Path) -> None:
    bad = tmp_path / "sources.yml"
    bad.write_text("sources:\n  - name: coa\n    token_sha256: geheim\n", encoding="utf-8")
    env = {**os.environ, "OPVANG_KAFKA_BOOTSTRAP": f"127.0.0.1:{_closed_port()}"}
    for path in (bad, tmp_path / "missing.yml", tmp_path):
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", "worker"],
            env={**env, "OPVANG_SOURCES": str(path)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        line = _one_line(result)
        assert line.startswith(f"opvangwacht: configuration error: {path}: "), line
    assert "opvangwacht source token" in _one_line(
        subprocess.run(
            [sys.executable, "-m", "streams.cli", "worker"],
            env={**env, "OPVANG_SOURCES": str(bad)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    )
