"""The tests exercise the installed wheel, not the source tree, and the wheel carries its data."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_packages_are_imported_from_the_installed_wheel() -> None:
    import alerts
    import streams

    for module in (alerts, streams):
        path = Path(module.__file__ or "").resolve()
        source = ROOT / module.__name__
        assert not path.is_relative_to(source), f"{module.__name__} came from the work tree: {path}"
        assert "site-packages" in path.parts, path


def test_the_wheel_ships_data_files_and_the_console_script(tmp_path: Path) -> None:
    files = {str(f) for f in importlib.metadata.files("opvangwacht") or []}
    for expected in (
        "streams/kafka/pom.xml",
        "streams/kafka/log4j2.xml",
        "streams/data/locations.json",
        "streams/data/provinces.json",
        "streams/data/scenarios/ter-apel-demo.jsonl",
        "streams/data/scenarios/ter-apel-2022-08.jsonl",
        "streams/data/scenarios/shortage-2026.jsonl",
        "streams/web/index.html",
        "alerts/py.typed",
    ):
        assert expected in files, expected
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert any(ep.name == "opvangwacht" and ep.value == "streams.cli.main:main" for ep in scripts)
    # The command works from a directory that has no source tree in it.
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("worker", "kafka", "replay", "demo", "load-locations"):
        assert command in result.stdout


def test_the_wheel_carries_the_full_eupl_text_it_declares() -> None:
    """pyproject declares EUPL-1.2; LICENSE holds the licence's own English text (from the SPDX
    licence list) and the installed wheel's metadata names both."""
    metadata = importlib.metadata.metadata("opvangwacht")
    assert metadata["License-Expression"] == "EUPL-1.2"
    assert metadata.get_all("License-File") == ["LICENSE"]
    files = importlib.metadata.files("opvangwacht") or []
    (shipped,) = [f for f in files if f.name == "LICENSE"]
    text = shipped.read_text(encoding="utf-8")
    assert text == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith(
        "EUROPEAN UNION PUBLIC LICENCE v. 1.2\nEUPL © the European Union 2007, 2016"
    )
    # The whole licence, not a notice: its last article and the appendix of compatible licences.
    for part in ("15.Applicable Law", "Appendix", "Compatible Licences", "LiLiQ-R"):
        assert part in text, part
    assert len(text) > 13_000
