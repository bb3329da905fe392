"""Everyday mistakes at the command line end in one line that says what to do, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

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
