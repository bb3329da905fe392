"""``opvangwacht config check [FILE]``: exit 0 and the route tree for a valid file, exit 2 and
one line naming the file, the line and what is wrong for a broken one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tooling import require

ROOT = Path(__file__).resolve().parents[2]

VALID = """\
receivers:
  - name: ops
    webhook:
      url: https://ops.example.nl/hook
      secret_env: OPV_TEST_UNSET_SECRET
  - name: pager
    pagerduty:
      routing_key_env: OPV_TEST_UNSET_KEY
route:
  receiver: ops
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['rule=~"cap_.*"', 'location_id!="x"']
      routes:
        - matchers: ['province="GR"']
          receiver: ops
"""


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "config", "check", *args],
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_valid_file_prints_the_route_tree_as_amtool_does(tmp_path: Path) -> None:
    path = tmp_path / "alerting.yml"
    path.write_text(VALID)
    result = _run(str(path))
    assert result.returncode == 0, result.stderr
    tree = result.stdout.split("\n\n")[0].splitlines()[1:]
    assert tree == [
        "Routing tree:",
        ".",
        "└── default-route  receiver: ops",
        '    ├── {severity="critical"}  continue: true  receiver: pager',
        '    └── {rule=~"cap_.*",location_id!="x"}  receiver: ops',
        '        └── {province="GR"}  receiver: ops',
    ]
    assert "OPV_TEST_UNSET_SECRET" in result.stderr  # told, but not an error


def test_the_tree_has_the_shape_amtool_gives_the_same_routes(tmp_path: Path) -> None:
    """The same tree written as Alertmanager configuration: the real amtool draws it alike."""
    amtool = require("amtool", "prometheus-alertmanager")
    am = tmp_path / "alertmanager.yml"
    am.write_text(
        "route:\n  receiver: ops\n  routes:\n"
        "    - matchers: ['severity=\"critical\"']\n      receiver: pager\n      continue: true\n"
        "    - matchers: ['rule=~\"cap_.*\"', 'location_id!=\"x\"']\n      routes:\n"
        "        - matchers: ['province=\"GR\"']\n          receiver: ops\n"
        "receivers:\n  - name: ops\n  - name: pager\n"
    )
    theirs = subprocess.run(
        [amtool, "config", "routes", f"--config.file={am}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.splitlines()
    ours_path = tmp_path / "alerting.yml"
    ours_path.write_text(VALID)
    ours = _run(str(ours_path)).stdout.split("\n\n")[0].splitlines()[1:]
    # amtool sorts a route's matchers by label name; the worker keeps them as written.
    assert [line for line in theirs if line] == [
        line.replace('rule=~"cap_.*",location_id!="x"', 'location_id!="x",rule=~"cap_.*"')
        for line in ours
    ]


def test_the_bundled_file_is_valid() -> None:
    result = _run(str(ROOT / "deploy" / "config" / "alerting.yml"))
    assert result.returncode == 0, result.stderr
    assert "└── default-route" in result.stdout


def test_without_a_file_it_checks_opvang_config(tmp_path: Path) -> None:
    path = tmp_path / "a.yml"
    path.write_text("rules:\n  cap_neer: {}\n")
    result = _run(env={"OPVANG_CONFIG": str(path)})
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"opvangwacht: {path}:2: rules.cap_neer:")


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("rules:\n  cap_near: {ratio: 0.9}\n  cap_neer: {}\n", 3, "unknown rule id"),
        ("rules: {}\nroutez: {}\n", 2, "unknown top-level key(s): routez"),
        (VALID.replace("receiver: pager", "receiver: pagr"), 13, "no receiver named 'pagr'"),
        (VALID.replace("cap_.*", "cap_(.*"), 15, "bad regular expression"),
        ("receivers:\n  - name: a\n    webhook: {url: x\nroute: 1\n", 4, "not valid YAML"),
        (VALID.replace("https://ops.example.nl/hook", "ftp://x"), 4, "webhook.url must be a URL"),
        (VALID.replace("    pagerduty:\n", "    pagerduty:\n      colour: red\n"), 8, "colour"),
        (
            VALID.replace("  routes:\n    - matchers: ['sev", "  routs:\n    - matchers: ['sev"),
            11,
            "unknown key(s) routs",
        ),
    ],
)
def test_a_broken_file_is_one_line_with_its_line(
    tmp_path: Path, text: str, where: int, what: str
) -> None:
    path = tmp_path / "alerting.yml"
    path.write_text(text)
    result = _run(str(path))
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"opvangwacht: {path}:{where}: "), line
    assert what in line


@pytest.mark.parametrize("name", ["missing.yml", "."])
def test_no_file_or_a_directory_is_one_line(tmp_path: Path, name: str) -> None:
    result = _run(str(tmp_path / name))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("opvangwacht: ") and str(tmp_path) in line
