"""What a worker built by the composition root exports besides the pipeline and the picture."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from prometheus_client import generate_latest

from streams.settings import Settings, load_alerting_config
from streams.worker.app import build_worker


def test_the_worker_exports_its_version_and_its_process() -> None:
    worker = build_worker(Settings(), load_alerting_config(None))
    text = generate_latest(worker.prometheus).decode()
    version = importlib.metadata.version("opvangwacht")
    assert f'opvangwacht_build_info{{version="{version}"}} 1.0' in text
    assert "process_resident_memory_bytes" in text


def test_the_command_says_its_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"opvangwacht {importlib.metadata.version('opvangwacht')}"
