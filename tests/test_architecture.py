"""The house rules that keep the decision core pure, checked on every test run.

import-linter enforces the import direction (contracts in pyproject.toml); the AST scan below
catches what imports alone cannot: the core reading a clock, the environment, or files.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "alerts"

# Calls that would make a decision depend on when or where it runs.
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("os", "getenv"),
    ("random", "random"),
}
FORBIDDEN_NAMES = {"environ", "open"}


def core_files() -> list[Path]:
    return [p for p in CORE.rglob("*.py") if "notify" not in p.relative_to(CORE).parts]


def impurities(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_CALLS or node.attr == "environ":
                found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and (
            isinstance(node.value, ast.Attribute)
            and (node.value.attr, node.attr) in FORBIDDEN_CALLS
        ):
            found.append(f"...{node.value.attr}.{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"{node.id} (line {node.lineno})")
    return found


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run(
        [lint, str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    expected = len(contracts["tool"]["importlinter"]["contracts"])
    assert f"{expected} kept, 0 broken" in result.stdout


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_reads_no_clock_environment_or_files(path: Path) -> None:
    assert impurities(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import datetime\nx = datetime.datetime.now()",
        "import datetime as dt\nx = dt.date.today()",
        "import time\nx = time.time()",
        "import os\nx = os.environ['A']",
        "x = open('f')",
    ],
)
def test_the_scan_catches_impure_code(snippet: str) -> None:
    assert impurities(snippet) != []
