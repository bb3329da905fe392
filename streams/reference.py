"""Reference data shipped with the package: provinces with Spreidingswet targets, municipalities,
locations. Read from ``streams/data/`` and turned into domain values."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any

from alerts.config import SpreidingTargets, TargetCycle

__all__ = ["data_path", "load_municipalities", "load_provinces", "load_targets"]


def data_path(*parts: str) -> Path:
    return Path(str(resources.files("streams").joinpath("data", *parts)))


def _json(name: str) -> Any:
    return json.loads(data_path(name).read_text(encoding="utf-8"))


def load_provinces() -> list[dict[str, Any]]:
    return list(_json("provinces.json")["provinces"])


def load_municipalities() -> list[dict[str, Any]]:
    return list(_json("municipalities.json")["municipalities"])


def load_targets() -> SpreidingTargets:
    data = _json("provinces.json")
    cycles = []
    for cycle in data["cycles"]:
        name = cycle["cycle"]
        cycles.append(
            TargetCycle(
                name=name,
                in_force=dt.date.fromisoformat(cycle["in_force"]),
                targets={p["code"]: int(p["targets"][name]) for p in data["provinces"]},
                assumed=bool(cycle.get("assumed", False)),
            )
        )
    return SpreidingTargets(tuple(cycles))
