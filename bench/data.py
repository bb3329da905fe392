"""Synthetic input for the default run: reference locations and occupancy reports, in date order."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

PROVINCES = ("GR", "FR", "DR", "OV", "FL", "GL", "UT", "NH", "ZH", "ZE", "NB", "LB")
# kind -> (weight, capacity range)
KINDS: dict[str, tuple[int, tuple[int, int]]] = {
    "regular": (55, (150, 900)),
    "emergency": (12, (50, 400)),
    "crisis": (8, (40, 300)),
    "ukrainian": (15, (20, 500)),
    "night_shelter": (3, (20, 200)),
    "waiting_room": (4, (50, 300)),
    "registration_centre": (3, (300, 1500)),
}
CAPPED_ID = "bench-ter-apel"
CAP = 2000


@dataclass
class Dataset:
    locations: list[dict[str, Any]]
    reports: list[tuple[str, dict[str, Any]]]  # (key, value) in publishing (date) order
    last_date: dict[str, dt.date] = field(default_factory=dict)
    last_occupancy: dict[str, int] = field(default_factory=dict)
    capped: list[str] = field(default_factory=list)
    over_cap_reports: int = 0


def make_dataset(n_events: int, n_locations: int, n_capped: int, seed: int) -> Dataset:
    rng = random.Random(seed)
    kinds = list(KINDS)
    weights = [KINDS[k][0] for k in kinds]
    locations: list[dict[str, Any]] = []
    capped: list[str] = []
    for i in range(n_locations):
        province = PROVINCES[i % len(PROVINCES)]
        if i < n_capped:
            location_id = CAPPED_ID if i == 0 else f"bench-capped-{i:03d}"
            loc = {
                "location_id": location_id,
                "name": "Ter Apel (bench)" if i == 0 else f"Capped location {i}",
                "kind": "registration_centre",
                "municipality_code": "GM1950" if i == 0 else f"GM{1000 + i:04d}",
                "province": "GR" if i == 0 else province,
                "capacity": CAP,
                "cap": CAP,
                "cap_source": "bench: synthetic cap",
            }
            capped.append(location_id)
        else:
            kind = rng.choices(kinds, weights)[0]
            low, high = KINDS[kind][1]
            loc = {
                "location_id": f"bench-{province.lower()}-{i:04d}",
                "name": f"Locatie {i} ({province})",
                "kind": kind,
                "municipality_code": f"GM{(i * 37) % 9000 + 1000:04d}",
                "province": province,
                "capacity": rng.randint(low, high) // 10 * 10,
                "cap": None,
            }
        locations.append(loc)

    days = math.ceil(n_events / max(n_locations, 1))
    start = dt.date(2024, 1, 1)
    occupancy = {
        loc["location_id"]: (
            CAP - 100 if loc.get("cap") else int(loc["capacity"] * rng.uniform(0.6, 0.95))
        )
        for loc in locations
    }
    reports: list[tuple[str, dict[str, Any]]] = []
    data = Dataset(locations, reports, capped=capped)
    for d in range(days):
        date = start + dt.timedelta(days=d)
        iso = date.isoformat()
        for loc in locations:
            if len(reports) >= n_events:
                break
            lid = loc["location_id"]
            capacity = int(loc["capacity"])
            if loc.get("cap"):
                # A random walk around the cap: crosses it now and then, both ways.
                occ = min(max(occupancy[lid] + rng.randint(-60, 60), CAP - 300), CAP + 300)
            else:
                step = max(1, capacity // 30)
                occ = min(max(occupancy[lid] + rng.randint(-step, step), 0), int(capacity * 1.1))
            occupancy[lid] = occ
            value: dict[str, Any] = {
                "event_id": f"{lid}:{iso}:occ",
                "location_id": lid,
                "date": iso,
                "occupancy": occ,
                "without_bed": max(0, occ - capacity),
                "slept_outside": rng.randint(0, 40) if loc.get("cap") and occ > CAP else 0,
                "reported_at": f"{iso}T0{rng.randint(6, 9)}:{rng.randint(0, 59):02d}:00+01:00",
            }
            if loc.get("cap") and occ > CAP:
                data.over_cap_reports += 1
            reports.append((lid, value))
            data.last_date[lid] = date
            data.last_occupancy[lid] = occ
    return data
