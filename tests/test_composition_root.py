"""The worker's house rules: one composition root, stages that do not know each other.

Read from the source with ``ast``: what creates Faust apps, topics and tables; what each stage
imports; and that the import contract of pyproject.toml names every module it must.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STREAMS = ROOT / "streams"
WORKER = STREAMS / "worker"
ROOT_MODULE = WORKER / "app.py"

#: Calls that make a Faust app, a table or a topic.
CREATING = {"App", "Table", "GlobalTable", "SetTable", "SetGlobalTable"}
#: The worker's stages: each registers on the app it is given and imports no other stage.
STAGES = ("ingest", "aggregate", "route", "deliver", "escalate", "views", "actions", "melden")


def _creations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr, owner = node.func.attr, node.func.value
        if attr in CREATING:
            found.append(f"{attr} (line {node.lineno})")
        elif attr == "topic" and isinstance(owner, ast.Name) and owner.id == "app":
            found.append(f"app.topic (line {node.lineno})")
    return found


def test_only_the_composition_root_creates_apps_topics_and_tables() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted(STREAMS.rglob("*.py"))
        if path != ROOT_MODULE and (found := _creations(path))
    }
    assert offenders == {}
    assert _creations(ROOT_MODULE), "the check must see what app.py creates"


def test_the_check_sees_a_module_level_app(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text("import faust\napp = faust.App('x')\nt = app.topic('y')\n")
    assert _creations(stray) == ["App (line 2)", "app.topic (line 3)"]


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_other_stage(stage: str) -> None:
    imported = _imported(WORKER / f"{stage}.py")
    others = {f"streams.worker.{name}" for name in STAGES if name != stage}
    assert imported & (others | {"streams.worker.app"}) == set()


def test_the_import_contract_names_every_module_outside_the_worker() -> None:
    """The contract "Only the command line and the dev tools build a worker" lists its source
    modules by name: a new module of streams/ must be added there."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c.get("forbidden_modules") == ["streams.worker"]]
    exempt = {"cli", "dev", "worker", "data", "kafka", "__pycache__"}
    present = {
        f"streams.{p.stem}"
        for p in STREAMS.iterdir()
        if p.name not in exempt and (p.suffix == ".py" or p.is_dir()) and p.stem != "__init__"
    }
    assert present == set(contract["source_modules"])
