"""The crash test's input: 30 reception locations and 60 days of morning counts and intake,
generated from a seed as plain JSON, in publishing order.

Deterministic: every random choice comes from one ``random.Random(seed)`` and nothing reads the
clock, so a seed always gives the same bytes (the way tools/make_scenarios.py builds the bundled
scenarios). The figures are invented but shaped to keep the rules busy, a few hundred alert
changes in all:

- two registration centres capped at 2,000 (Ter Apel, Budel) that swing around their cap, with
  nights of people sleeping outside and arrivals left without a bed (``cap_exceeded``,
  ``slept_outside``, ``without_bed``, ``outside_risk``, ``breach_forecast``);
- "tight" locations that hover around 95 % of their capacity (``cap_near`` on and off);
- two provinces filled to the brim, so that they run short now and then (``region_capacity_low``);
- one location that stops reporting for good after day 40 (``report_missing``, a warning, then
  critical);
- an intake report a day from every location, and ``aggregation.expect_intake`` on: days close
  once their flows are in, so the alerts do not depend on how far the worker happens to read one
  topic ahead of the other.

Left out on purpose: a location that misses a single day now and then. Whether that day gets a
``report_missing`` depends on how far the worker has read when the province closes the day
(docs/rules.md, "What is left to chance"): two uncrashed runs that only publish at different
moments disagree about it, so it cannot tell a crash bug from chance.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import Any

#: Reports start on a Monday well in the past: a date is never "in the future" of the Kafka
#: timestamp that carries it.
FIRST_DAY = dt.date(2025, 2, 3)
DAYS = 60

#: (location_id, name, kind, CBS municipality code, province, capacity, cap, profile)
#: Profiles: "centre" swings around its cap; "tight" hovers around 95 %; "full" is a location of
#: a province filled to the brim; "calm" stays between 70 and 90 %.
SITES: tuple[tuple[str, str, str, str, str, int, int | None, str], ...] = (
    ("ter-apel", "Ter Apel", "registration_centre", "GM1950", "GR", 2000, 2000, "centre"),
    ("budel", "Budel", "registration_centre", "GM1706", "NB", 2000, 2000, "centre"),
    ("zevenaar", "Zevenaar", "registration_centre", "GM0299", "GL", 300, None, "tight"),
    ("gr-groningen-1", "Azc Groningen", "regular", "GM0014", "GR", 600, None, "calm"),
    ("gr-stadskanaal", "Stadskanaal", "crisis", "GM0037", "GR", 120, None, "tight"),
    ("fr-leeuwarden-1", "Azc Leeuwarden", "regular", "GM0080", "FR", 500, None, "full"),
    ("fr-leeuwarden-2", "Noodopvang Leeuwarden", "emergency", "GM0080", "FR", 250, None, "full"),
    ("fr-drachten", "Azc Drachten", "regular", "GM0090", "FR", 400, None, "full"),
    ("dr-assen", "Azc Assen", "regular", "GM0106", "DR", 450, None, "calm"),
    ("dr-emmen", "Azc Emmen", "regular", "GM0114", "DR", 350, None, "tight"),
    ("ov-zwolle", "Azc Zwolle", "regular", "GM0193", "OV", 500, None, "calm"),
    ("ov-enschede", "Azc Enschede", "regular", "GM0153", "OV", 400, None, "tight"),
    ("ov-deventer", "Noodopvang Deventer", "emergency", "GM0150", "OV", 200, None, "calm"),
    ("gl-arnhem", "Azc Arnhem", "regular", "GM0202", "GL", 550, None, "calm"),
    ("gl-nijmegen", "Azc Nijmegen", "regular", "GM0268", "GL", 500, None, "tight"),
    ("gl-apeldoorn", "Azc Apeldoorn", "regular", "GM0200", "GL", 400, None, "calm"),
    ("ut-utrecht", "Azc Utrecht", "regular", "GM0344", "UT", 600, None, "full"),
    ("ut-amersfoort", "Azc Amersfoort", "regular", "GM0307", "UT", 450, None, "full"),
    ("ut-utrecht-2", "Noodopvang Utrecht", "emergency", "GM0344", "UT", 200, None, "full"),
    ("nh-amsterdam", "Azc Amsterdam", "regular", "GM0363", "NH", 700, None, "calm"),
    ("nh-haarlem", "Azc Haarlem", "regular", "GM0392", "NH", 400, None, "tight"),
    ("nh-alkmaar", "Noodopvang Alkmaar", "emergency", "GM0361", "NH", 250, None, "calm"),
    ("zh-rotterdam", "Azc Rotterdam", "regular", "GM0599", "ZH", 700, None, "calm"),
    ("zh-den-haag", "Azc Den Haag", "regular", "GM0518", "ZH", 600, None, "tight"),
    ("zh-leiden", "Azc Leiden", "regular", "GM0546", "ZH", 300, None, "calm"),
    ("nb-eindhoven", "Azc Eindhoven", "regular", "GM0772", "NB", 500, None, "calm"),
    ("nb-tilburg", "Azc Tilburg", "regular", "GM0855", "NB", 450, None, "tight"),
    ("lb-maastricht", "Azc Maastricht", "regular", "GM0935", "LB", 500, None, "calm"),
    ("lb-venlo", "Azc Venlo", "regular", "GM0983", "LB", 400, None, "tight"),
    ("nh-oekraine", "Opvang Oekraïners Amsterdam", "ukrainian", "GM0363", "NH", 300, None, "calm"),
)

#: Stops reporting for good after this day (day numbers from 0).
STOPS = ("lb-maastricht", 40)


@dataclass(frozen=True)
class Record:
    """One message to publish: the topic's short name ("locations", "occupancy", "intake"),
    the key and the JSON value."""

    topic: str
    key: str
    value: dict[str, Any]

    def encoded(self) -> bytes:
        return json.dumps(self.value, ensure_ascii=False).encode()


@dataclass(frozen=True)
class CrashInput:
    seed: int
    locations: tuple[Record, ...]
    #: Reports in publishing order, one list per day (morning counts first, then intake).
    days: tuple[tuple[Record, ...], ...]

    @property
    def reports(self) -> list[Record]:
        return [r for day in self.days for r in day]


def _walk(rng: random.Random, low: float, high: float, start: float, step: float) -> list[float]:
    """A random walk kept between ``low`` and ``high`` (reflected at the edges)."""
    values, value = [], start
    for _ in range(DAYS):
        value += rng.gauss(0.0, step)
        if value > high:
            value = 2 * high - value
        if value < low:
            value = 2 * low - value
        values.append(value)
    return values


def _centre(rng: random.Random, cap: int) -> tuple[list[int], list[int], list[int]]:
    """Occupancy, slept outside and unplaced (next evening) of a registration centre: calm weeks
    just under the cap and waves of a few days above it with people outside."""
    occupancy, outside = [], []
    wave = 0
    for _ in range(DAYS):
        if wave == 0 and rng.random() < 0.12:
            wave = rng.randint(2, 6)
        if wave > 0:
            wave -= 1
            over = rng.randint(10, 160)
            occupancy.append(cap + over)
            outside.append(rng.choice((0, rng.randint(5, 120), rng.randint(20, 300))))
        else:
            occupancy.append(cap - rng.randint(5, 140))
            outside.append(0)
    unplaced = [min(outside[i + 1], 150) if i + 1 < DAYS else 0 for i in range(DAYS)]
    return occupancy, outside, unplaced


def generate(seed: int) -> CrashInput:
    rng = random.Random(seed)
    locations: list[Record] = []
    occupancy: dict[str, list[int]] = {}
    outside: dict[str, list[int]] = {}
    unplaced: dict[str, list[int]] = {}
    for lid, name, kind, code, province, capacity, cap, profile in SITES:
        value: dict[str, Any] = {
            "location_id": lid,
            "name": name,
            "kind": kind,
            "municipality_code": code,
            "province": province,
            "capacity": capacity,
        }
        if cap is not None:
            value["cap"] = cap
        locations.append(Record("locations", lid, value))
        if profile == "centre":
            occupancy[lid], outside[lid], unplaced[lid] = _centre(rng, cap or capacity)
            continue
        low, high, start, step = {
            "tight": (0.88, 0.99, 0.94, 0.02),
            "full": (0.95, 1.03, 0.985, 0.012),
            "calm": (0.70, 0.90, 0.80, 0.02),
        }[profile]
        occupancy[lid] = [round(u * capacity) for u in _walk(rng, low, high, start, step)]
        outside[lid] = [0] * DAYS
        unplaced[lid] = [0] * DAYS

    days: list[tuple[Record, ...]] = []
    for index in range(DAYS):
        date = (FIRST_DAY + dt.timedelta(days=index)).isoformat()
        counts: list[Record] = []
        intake: list[Record] = []
        for lid, _, kind, _, _, capacity, cap, _ in SITES:
            if lid == STOPS[0] and index > STOPS[1]:
                continue
            count = occupancy[lid][index]
            limit = cap if cap is not None else capacity
            report: dict[str, Any] = {
                "event_id": f"occ-{lid}-{date}",
                "location_id": lid,
                "date": date,
                "occupancy": count,
            }
            if outside[lid][index]:
                report["slept_outside"] = outside[lid][index]
            if kind == "registration_centre" and count > limit:
                report["without_bed"] = min(count - limit, 120)
            counts.append(Record("occupancy", lid, report))
            following = occupancy[lid][index + 1] if index + 1 < DAYS else count
            scale = capacity / 100.0
            arrivals = max(0, round(scale * rng.uniform(2.0, 9.0)))
            departures = max(0, round(scale * rng.uniform(0.2, 1.5)))
            transfers = max(0, arrivals - departures - (following - count))
            flows: dict[str, Any] = {
                "event_id": f"int-{lid}-{date}",
                "location_id": lid,
                "date": date,
                "arrivals": arrivals,
                "transfers_out": transfers,
                "departures": departures,
            }
            if unplaced[lid][index]:
                flows["unplaced"] = unplaced[lid][index]
            intake.append(Record("intake", lid, flows))
        days.append((*counts, *intake))
    return CrashInput(seed, tuple(locations), tuple(days))


#: The alerting file: built-in rules, days closed once the intake is in, one receiver for every
#: alert change, by signed webhook (Standard Webhooks), retried every second while it refuses.
def alerting_yaml(url: str, secret_env: str) -> str:
    retry = "[" + ", ".join(["1"] * 20) + "]"
    return (
        "aggregation:\n"
        "  expect_intake: true\n"
        "receivers:\n"
        "  - name: crash-hook\n"
        f"    retry: {retry}\n"
        "    webhook:\n"
        f"      url: {url}\n"
        f"      secret_env: {secret_env}\n"
    )
