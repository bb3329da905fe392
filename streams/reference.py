"""Reference data shipped with the package: provinces with Spreidingswet targets, municipalities,
locations. Read from ``streams/data/`` and turned into domain values."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alerts.config import SpreidingTargets, TargetCycle

__all__ = [
    "MunicipalityList",
    "data_path",
    "load_municipalities",
    "load_provinces",
    "load_targets",
    "municipality_list",
]


def data_path(*parts: str) -> Path:
    return Path(str(resources.files("streams").joinpath("data", *parts)))


def _json(name: str) -> Any:
    return json.loads(data_path(name).read_text(encoding="utf-8"))


def load_provinces() -> list[dict[str, Any]]:
    return list(_json("provinces.json")["provinces"])


def load_municipalities() -> list[dict[str, Any]]:
    """Every Dutch municipality, as ``{"code": "GM1950", "name": "Westerwolde", "province": "GR"}``
    (where the list comes from and which year it is: ``municipality_list()``)."""
    return list(_json("municipalities.json")["municipalities"])


@dataclass(frozen=True, slots=True)
class MunicipalityList:
    """The bundled municipality list with what it is: the classification year, the number of
    municipalities CBS counts for that year, and where the list comes from (see
    ``streams/data/README.md``)."""

    year: int
    count: int
    source: dict[str, str]
    municipalities: tuple[dict[str, Any], ...]


def municipality_list() -> MunicipalityList:
    data = _json("municipalities.json")
    return MunicipalityList(
        year=int(data["year"]),
        count=int(data["count"]),
        source=dict(data["source"]),
        municipalities=tuple(data["municipalities"]),
    )


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
