"""The programs some tests need (Prometheus, promtool, amtool, Chromium), and the one way a test
asks for one: :func:`require` gives its path, skips with the install line on a developer's
machine, and fails under CI, where a test that did not run must never pass."""

from __future__ import annotations

import os
import shutil

import pytest

#: Programs some tests need, and the Debian package that brings each.
TOOLS = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "chromium": "chromium",
}


def require(binary: str, package: str | None = None) -> str:
    """The path of ``binary``; without it, skip (fail when ``CI`` is set)."""
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} not found: apt-get install {package or TOOLS.get(binary, binary)}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so this is not skipped)")
        pytest.skip(message)
    return path
