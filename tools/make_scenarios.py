#!/usr/bin/env python3
"""Write the bundled long scenarios in streams/data/scenarios/.

    python tools/make_scenarios.py           # regenerate both files in place
    python tools/make_scenarios.py --check   # exit 1 when a file on disk differs

Standard library only and deterministic: every random choice comes from a seeded
``random.Random`` and nothing reads the clock, so the same code always writes the same bytes.

* ``ter-apel-2022-08.jsonl``: Ter Apel from 1 Aug to 12 Sep 2022, built on the night-by-night
  table of people sleeping outside in /work/shared/domain-facts.md (copied into ``OUTSIDE_2022``
  below with a source per night). Everything else in that file is a modelling choice.
* ``shortage-2026.jsonl``: synthetic reception locations at real municipalities in all twelve
  provinces plus the bundled Ter Apel, daily from 1 Mar to 31 Aug 2026, with a national shortfall
  that runs through the two figures of the minister's letter (VNG, 30 March 2026): about 4,500
  places short at the end of March, about 7,900 towards the end of the summer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "streams" / "data"
SCENARIOS = DATA / "scenarios"

Record = dict[str, Any]

# ------------------------------------------------------------------ shared helpers


def days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def interpolate(anchors: Sequence[tuple[dt.date, float]], day: dt.date) -> float:
    """Straight lines between (date, value) anchors; flat before the first and after the last."""
    if day <= anchors[0][0]:
        return anchors[0][1]
    for (d0, v0), (d1, v1) in itertools.pairwise(anchors):
        if d0 <= day <= d1:
            return v0 + (v1 - v0) * (day - d0).days / (d1 - d0).days
    return anchors[-1][1]


def bundled_location(location_id: str) -> Record:
    data = json.loads((DATA / "locations.json").read_text(encoding="utf-8"))
    return next(item for item in data["locations"] if item["location_id"] == location_id)


def first_cycle_targets() -> dict[str, int]:
    data = json.loads((DATA / "provinces.json").read_text(encoding="utf-8"))
    return {p["code"]: int(p["targets"]["first"]) for p in data["provinces"]}


def render(comments: Sequence[str], records: Sequence[Record]) -> str:
    lines = [f"// {text}" if text else "//" for text in comments]
    lines += [json.dumps(record, ensure_ascii=False) for record in records]
    return "\n".join(lines) + "\n"


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# ------------------------------------------------------------------ Ter Apel, August 2022

#: Morning count date -> (people who slept outside the night before, where the figure comes from).
#: The night "12->13 Aug" is the count dated 13 Aug. "ASSUMED" marks a choice, not a report.
OUTSIDE_2022: dict[dt.date, tuple[int, str]] = {
    d("2022-08-13"): (40, "~40, pledgetimes (COA)"),
    d("2022-08-14"): (210, "'more than 200', nu.nl 6218603; 210 ASSUMED"),
    d("2022-08-15"): (100, "not reported; ASSUMED 100 (midpoint of 50-150)"),
    d("2022-08-16"): (100, "not reported; ASSUMED 100 (midpoint of 50-150)"),
    d("2022-08-17"): (100, "not reported; ASSUMED 100 (midpoint of 50-150)"),
    d("2022-08-18"): (70, "70, rd.nl 987054"),
    d("2022-08-19"): (300, "~300, nu.nl 6218603"),
    d("2022-08-20"): (250, "~250, nltimes.nl 2022-08-21"),
    d("2022-08-21"): (300, "~300, nieuws.nl 2022-08-21"),
    d("2022-08-22"): (400, "~400, nu.nl 6219009"),
    d("2022-08-23"): (400, "~400, nd.nl 1138336"),
    d("2022-08-24"): (700, "~700 (record), NRC 2022-08-25"),
    d("2022-08-25"): (700, "~700, rtvdrenthe.nl 14911199"),
    d("2022-08-26"): (500, "not reported; ASSUMED ~500"),
    d("2022-08-27"): (250, "~250, nltimes.nl 2022-08-28"),
    d("2022-08-28"): (300, "~300, nltimes.nl 2022-08-28"),
    d("2022-08-29"): (35, "'far fewer'; ASSUMED 35 (midpoint of 20-50)"),
    d("2022-08-30"): (10, "~10, ed.nl"),
    **{
        day: (0, "nobody outside (nights 30 Aug to 7 Sep), ed.nl / nu.nl")
        for day in days(d("2022-08-31"), d("2022-09-08"))
    },
    d("2022-09-09"): (300, "~300, nu.nl 6222970"),
    d("2022-09-10"): (200, "not in the table; ASSUMED tapering after 9 Sep"),
    d("2022-09-11"): (150, "not in the table; ASSUMED tapering after 9 Sep"),
    d("2022-09-12"): (100, "not in the table; ASSUMED tapering after 9 Sep"),
}

TA22_FIRST = d("2022-08-01")
TA22_LAST = d("2022-09-12")
#: Arrivals by weekday (Monday first): Mondays and Tuesdays busiest, weekends quieter (sourced
#: shape, nltimes.nl 2022-08-21 / nd.nl 1125225); the numbers themselves are ASSUMED.
TA22_ARRIVALS = (250, 245, 225, 215, 210, 195, 190)


def ter_apel_2022() -> str:
    rng = random.Random(20220813)
    location = bundled_location("ter-apel")
    cap = int(location["cap"])
    occupancy: dict[dt.date, int] = {}
    without_bed: dict[dt.date, int] = {}
    outside: dict[dt.date, int] = {}
    for day in days(TA22_FIRST, TA22_LAST):
        out = OUTSIDE_2022.get(day, (0, ""))[0]
        outside[day] = out
        if day < d("2022-08-13"):
            # Filling up: about 1,900 on 1 Aug to about 2,000 on 12 Aug, still at most the cap.
            rising = 1900 + 95 * (day - TA22_FIRST).days / 11
            occupancy[day] = min(cap, round(rising) + rng.randint(-4, 4))
        elif out > 0:
            # Beds full, the overflow on chairs and in the sports hall: 2,000 to 2,100.
            occupancy[day] = min(cap + 100, cap + round(out * 0.15) + rng.randint(1, 8))
        else:
            # The quiet stretch: just under the cap.
            occupancy[day] = 1950 + rng.randint(-10, 10)
        without_bed[day] = min(300, round(out * 0.4))

    records: list[Record] = []
    all_days = list(days(TA22_FIRST, TA22_LAST))
    for index, day in enumerate(all_days):
        records.append(
            {
                "type": "occupancy",
                "event_id": f"ta22-occ-{day.isoformat()}",
                "location_id": "ter-apel",
                "date": day.isoformat(),
                "occupancy": occupancy[day],
                "without_bed": without_bed[day],
                "slept_outside": outside[day],
            }
        )
        arrivals = TA22_ARRIVALS[day.weekday()] + rng.randint(-10, 10)
        departures = rng.randint(4, 12)
        following = all_days[index + 1] if index + 1 < len(all_days) else None
        if following is not None:
            present_change = (occupancy[following] + outside[following]) - (
                occupancy[day] + outside[day]
            )
            next_outside = outside[following]
        else:
            present_change, next_outside = 0, outside[day]
        transfers = arrivals - departures - present_change
        transfers = max(round(0.6 * arrivals), min(round(1.3 * arrivals), transfers))
        records.append(
            {
                "type": "intake",
                "event_id": f"ta22-int-{day.isoformat()}",
                "location_id": "ter-apel",
                "date": day.isoformat(),
                "arrivals": arrivals,
                "transfers_out": transfers,
                "departures": departures,
                "unplaced": min(arrivals, next_outside),
            }
        )

    comments = [
        "ter-apel-2022-08: Ter Apel (bundled location 'ter-apel', cap 2,000), 1 Aug - 12 Sep 2022.",
        "Generated by tools/make_scenarios.py; edit that script, not this file.",
        "A morning count dated D is the night D-1 -> D: the night 12->13 Aug is date 2022-08-13.",
        "",
        "slept_outside: SOURCED night by night (shared domain facts, table 'August 2022'):",
        *(
            f"  {day.isoformat()}: {count} - {source}"
            for day, (count, source) in sorted(OUTSIDE_2022.items())
        ),
        "  before 2022-08-13: 0 (ASSUMED; the table starts with the night 12->13 Aug)",
        "occupancy: ASSUMED (inside occupancy was not published): about 1,900 on 1 Aug rising to",
        "  about 2,000 on 12 Aug; 2,000-2,100 on nights with people outside; 1,940-1,960 when",
        "  nobody was outside.",
        "without_bed: ASSUMED: 40% of that night's outside count, at most 300; 0 otherwise.",
        "arrivals: ~190-250 a day, Monday and Tuesday busiest, weekends quieter. The shape is",
        "  SOURCED (200-300 a day in May 2022, volkskrant.nl / nd.nl 1125225; busy Mon/Tue,",
        "  nltimes.nl 2022-08-21); the numbers are ASSUMED.",
        "transfers_out: ASSUMED: arrivals - departures - the change in people present (inside plus",
        "  outside) to the next morning, kept between 60% and 130% of arrivals: lower than",
        "  arrivals while the backlog grows, higher while it is cleared.",
        "departures: ASSUMED 4-12 a day.",
        "unplaced: ASSUMED: the next night's outside count, at most that day's arrivals.",
    ]
    return render(comments, records)


# ------------------------------------------------------------------ shortage 2026

S26_FIRST = d("2026-03-01")
S26_LAST = d("2026-08-31")

#: National free places (capacity - occupancy) of all locations in the scenario. 31 March and
#: 31 August follow the minister's letter (VNG, 30 March 2026); 1 March is ASSUMED.
NATIONAL_FREE = (
    (d("2026-03-01"), -3500),
    (d("2026-03-31"), -4500),
    (d("2026-08-31"), -7900),
)

#: Per province: capacity of the synthetic locations as a share of the first-cycle Spreidingswet
#: target (Groningen's share comes on top of Ter Apel), and free places on the dates of
#: NATIONAL_FREE. All ASSUMED. Groningen, Drenthe and Flevoland reach their target, the others
#: fall short. Overijssel is at zero from the start, Noord-Brabant goes below zero in March,
#: Fryslan in May, Zeeland and Limburg in June, Drenthe in July; Flevoland gets low (under 2 %)
#: but stays above zero. ``None``: a
#: balancing province, see BALANCING.
PROVINCES: dict[str, tuple[float, tuple[int, int, int] | None]] = {
    "GR": (0.37, (30, 10, -100)),
    "FR": (0.85, (150, 90, -250)),
    "DR": (1.02, (200, 160, -60)),
    "OV": (0.70, (0, -60, -350)),
    "FL": (1.05, (120, 100, 20)),
    "GL": (0.72, None),
    "UT": (0.65, None),
    "NH": (0.66, None),
    "ZH": (0.60, None),
    "ZE": (0.85, (110, 80, -120)),
    "NB": (0.78, (100, -150, -600)),
    "LB": (0.85, (300, 220, -200)),
}
#: The provinces that are short from the start: on each date of NATIONAL_FREE they share what
#: the national figure leaves after the others and Ter Apel, in proportion to their capacity.
BALANCING = ("GL", "UT", "NH", "ZH")

#: Synthetic locations: (province, municipality, CBS code, kind, share of the province's places).
#: The municipality codes are the real CBS codes; the locations themselves are invented.
SITES: tuple[tuple[str, str, str, str, float], ...] = (
    ("GR", "Groningen", "GM0014", "regular", 0.6),
    ("GR", "Groningen", "GM0014", "emergency", 0.4),
    ("FR", "Leeuwarden", "GM0080", "regular", 0.45),
    ("FR", "Smallingerland", "GM0090", "regular", 0.35),
    ("FR", "Leeuwarden", "GM0080", "emergency", 0.2),
    ("DR", "Assen", "GM0106", "regular", 0.45),
    ("DR", "Emmen", "GM0114", "regular", 0.35),
    ("DR", "Assen", "GM0106", "emergency", 0.2),
    ("OV", "Zwolle", "GM0193", "regular", 0.4),
    ("OV", "Enschede", "GM0153", "regular", 0.35),
    ("OV", "Deventer", "GM0150", "emergency", 0.25),
    ("FL", "Lelystad", "GM0995", "regular", 0.6),
    ("FL", "Almere", "GM0034", "emergency", 0.4),
    ("GL", "Arnhem", "GM0202", "regular", 0.3),
    ("GL", "Nijmegen", "GM0268", "regular", 0.3),
    ("GL", "Apeldoorn", "GM0200", "regular", 0.25),
    ("GL", "Arnhem", "GM0202", "emergency", 0.15),
    ("UT", "Utrecht", "GM0344", "regular", 0.45),
    ("UT", "Amersfoort", "GM0307", "regular", 0.35),
    ("UT", "Utrecht", "GM0344", "emergency", 0.2),
    ("NH", "Amsterdam", "GM0363", "regular", 0.35),
    ("NH", "Haarlem", "GM0392", "regular", 0.25),
    ("NH", "Zaanstad", "GM0479", "regular", 0.2),
    ("NH", "Alkmaar", "GM0361", "emergency", 0.2),
    ("ZH", "Rotterdam", "GM0599", "regular", 0.35),
    ("ZH", "Den Haag", "GM0518", "regular", 0.3),
    ("ZH", "Leiden", "GM0546", "regular", 0.15),
    ("ZH", "Dordrecht", "GM0505", "emergency", 0.2),
    ("ZE", "Middelburg", "GM0687", "regular", 0.6),
    ("ZE", "Vlissingen", "GM0718", "emergency", 0.4),
    ("NB", "'s-Hertogenbosch", "GM0796", "regular", 0.3),
    ("NB", "Eindhoven", "GM0772", "regular", 0.3),
    ("NB", "Tilburg", "GM0855", "regular", 0.25),
    ("NB", "'s-Hertogenbosch", "GM0796", "emergency", 0.15),
    ("LB", "Maastricht", "GM0935", "regular", 0.45),
    ("LB", "Venlo", "GM0983", "regular", 0.35),
    ("LB", "Heerlen", "GM0917", "emergency", 0.2),
)

#: Ter Apel's morning count, ASSUMED: mostly above the 2,000 cap, with three stretches below it.
TER_APEL_2026 = (
    (d("2026-03-01"), 1990.0),
    (d("2026-03-08"), 2040.0),
    (d("2026-03-31"), 2080.0),
    (d("2026-04-14"), 1985.0),
    (d("2026-04-26"), 1950.0),
    (d("2026-05-08"), 2080.0),
    (d("2026-06-15"), 2150.0),
    (d("2026-06-28"), 1985.0),
    (d("2026-07-10"), 1950.0),
    (d("2026-07-25"), 2100.0),
    (d("2026-08-31"), 2250.0),
)
#: Ter Apel arrivals by weekday (Monday first), ASSUMED; the busy Monday/Tuesday shape is sourced.
TER_APEL_ARRIVALS = (230, 220, 195, 185, 180, 150, 145)
#: Weekday factor for arrivals at an ordinary location (transfers in from the central reception).
WEEKDAY = (1.25, 1.2, 1.0, 1.0, 0.95, 0.8, 0.8)


def _sites() -> list[Record]:
    """The synthetic location records, capacities rounded to tens."""
    targets = first_cycle_targets()
    ids: dict[str, int] = {}
    result = []
    for province, town, code, kind, share in SITES:
        ids[province] = ids.get(province, 0) + 1
        word = "Azc" if kind == "regular" else "Noodopvang"
        places = PROVINCES[province][0] * targets[province]
        result.append(
            {
                "type": "location",
                "location_id": f"s26-{province.lower()}-{ids[province]:02d}",
                "name": f"{word} {town} (synthetisch)",
                "kind": kind,
                "municipality_code": code,
                "province": province,
                "capacity": int(round(places * share / 10.0) * 10),
                "cap": None,
                "note": "synthetic location at a real municipality; capacity ASSUMED",
            }
        )
    return result


def _split(total: int, weights: Sequence[float], offsets: Sequence[float]) -> list[int]:
    """Whole numbers in proportion to ``weights``, shifted by ``offsets`` (which should add up to
    about zero), that add up to exactly ``total``."""
    raw = [total * w / sum(weights) + o for w, o in zip(weights, offsets, strict=True)]
    parts = [round(x) for x in raw]
    parts[max(range(len(parts)), key=lambda i: weights[i])] += total - sum(parts)
    return parts


def shortage_2026() -> str:
    rng = random.Random(20260326)
    ter_apel = bundled_location("ter-apel")
    ta_capacity = int(ter_apel["capacity"])
    locations = _sites()
    all_days = list(days(S26_FIRST, S26_LAST))

    # Ter Apel's count: the assumed curve and a little day-to-day noise.
    ta_occ = {day: round(interpolate(TER_APEL_2026, day)) + rng.randint(-3, 3) for day in all_days}

    by_province: dict[str, list[Record]] = {}
    for loc in locations:
        by_province.setdefault(loc["province"], []).append(loc)
    capacity = {code: sum(loc["capacity"] for loc in locs) for code, locs in by_province.items()}

    # Free places per province on the anchor dates; the balancing provinces take what is left of
    # the national figure, so the nation meets it exactly on those dates.
    anchors: dict[str, list[tuple[dt.date, float]]] = {code: [] for code in PROVINCES}
    balancing_capacity = sum(capacity[code] for code in BALANCING)
    for index, (day, national) in enumerate(NATIONAL_FREE):
        rest = national - (ta_capacity - ta_occ[day])
        for code, (_, planned) in PROVINCES.items():
            if planned is not None:
                anchors[code].append((day, float(planned[index])))
                rest -= planned[index]
        for code in BALANCING:
            anchors[code].append((day, rest * capacity[code] / balancing_capacity))
    # Between the anchors: straight lines, rounded; the rounding error of the balancing
    # provinces goes to the last of them so the anchor dates come out exact.
    free: dict[str, dict[dt.date, int]] = {code: {} for code in PROVINCES}
    for day in all_days:
        values = {code: interpolate(anchors[code], day) for code in PROVINCES}
        rounded = {code: round(value) for code, value in values.items()}
        rounded[BALANCING[-1]] += round(sum(values.values())) - sum(rounded.values())
        for code, value in rounded.items():
            free[code][day] = value

    # Location counts: the province's occupancy split by capacity, each site a fixed few places
    # fuller or emptier than the average (constant, so it does not disturb the daily flows).
    offsets: dict[str, list[float]] = {}
    for code, locs in by_province.items():
        raw = [rng.uniform(-0.01, 0.01) * loc["capacity"] for loc in locs]
        offsets[code] = [value - sum(raw) / len(raw) for value in raw]
    occupancy: dict[str, dict[dt.date, int]] = {loc["location_id"]: {} for loc in locations}
    for day in all_days:
        for code, locs in by_province.items():
            total = capacity[code] - free[code][day]
            parts = _split(total, [loc["capacity"] for loc in locs], offsets[code])
            for loc, part in zip(locs, parts, strict=True):
                occupancy[loc["location_id"]][day] = part

    records: list[Record] = [dict(loc) for loc in locations]
    for index, day in enumerate(all_days):
        following = all_days[index + 1] if index + 1 < len(all_days) else None
        # Ter Apel
        ta_over = max(0, ta_occ[day] - int(ter_apel["cap"]))
        records.append(
            {
                "type": "occupancy",
                "event_id": f"s26-occ-ter-apel-{day.isoformat()}",
                "location_id": "ter-apel",
                "date": day.isoformat(),
                "occupancy": ta_occ[day],
                "without_bed": ta_over,
            }
        )
        arrivals = TER_APEL_ARRIVALS[day.weekday()] + rng.randint(-15, 15)
        departures = rng.randint(3, 10)
        change = ta_occ[following] - ta_occ[day] if following else 0
        transfers = arrivals - departures - change
        if transfers < 0:
            arrivals -= transfers
            transfers = 0
        records.append(_intake("ter-apel", day, arrivals, transfers, departures))
        # The synthetic locations
        for loc in locations:
            lid = loc["location_id"]
            records.append(
                {
                    "type": "occupancy",
                    "event_id": f"s26-occ-{lid[4:]}-{day.isoformat()}",
                    "location_id": lid,
                    "date": day.isoformat(),
                    "occupancy": occupancy[lid][day],
                }
            )
            scale = loc["capacity"] / 1000.0
            arrivals = round(3.5 * scale * WEEKDAY[day.weekday()] + rng.uniform(-1.0, 1.0))
            transfers = round(0.6 * scale * rng.random())
            change = occupancy[lid][following] - occupancy[lid][day] if following else 0
            departures = arrivals - transfers - change
            if departures < 0:
                arrivals -= departures
                departures = 0
            records.append(_intake(lid, day, max(0, arrivals), transfers, departures))

    total_capacity = ta_capacity + sum(capacity.values())
    comments = [
        "shortage-2026: the national shortfall of 2026, synthetic locations, 1 Mar - 31 Aug 2026.",
        "Generated by tools/make_scenarios.py; edit that script, not this file.",
        "",
        "SOURCED: only the national shortfall endpoints and the Spreidingswet targets.",
        "  About 4,500 places short at the end of March 2026, about 7,900 towards the end of the",
        "  summer: the minister of Asylum and Migration (26 March), quoted in the VNG letter to",
        "  all municipalities of 30 March 2026. Here national free places (capacity - occupancy,",
        "  summed over every location in this file) are exactly -4,500 on 2026-03-31 and",
        "  -7,900 on 2026-08-31.",
        "  Spreidingswet first-cycle targets per province: streams/data/provinces.json.",
        "",
        "ASSUMED: everything else.",
        "  Locations 's26-*' are SYNTHETIC: invented reception locations placed at real",
        "  municipalities (real CBS codes). Ter Apel is the bundled location 'ter-apel'.",
        f"  Capacity: {total_capacity:,} places in total, per province a share of its first-cycle",
        "  target (Groningen, Drenthe and Flevoland reach their target, the others fall short).",
        "  National free places on 1 Mar: -3,500; straight lines between 1 Mar, 31 Mar, 31 Aug.",
        "  Provinces go below zero at different times (Overijssel at once, Noord-Brabant in March,",
        "  Fryslan in May, Zeeland and Limburg in June, Drenthe in July; Flevoland stays just",
        "  above zero); Gelderland, Utrecht, Noord-Holland and Zuid-Holland are short throughout.",
        "  Ter Apel: mostly above its cap of 2,000 (up to about 2,250), three stretches below;",
        "  without_bed = everyone above 2,000; nobody outside.",
        "  Intake: daily arrivals / transfers_out / departures per location that add up exactly",
        "  to the change in the next morning's count (arrivals - transfers_out - departures =",
        "  tomorrow's occupancy - today's); Ter Apel's arrivals peak on Mondays and Tuesdays.",
    ]
    return render(comments, records)


def _intake(
    location_id: str, day: dt.date, arrivals: int, transfers: int, departures: int
) -> Record:
    short = "ter-apel" if location_id == "ter-apel" else location_id[4:]
    return {
        "type": "intake",
        "event_id": f"s26-int-{short}-{day.isoformat()}",
        "location_id": location_id,
        "date": day.isoformat(),
        "arrivals": arrivals,
        "transfers_out": transfers,
        "departures": departures,
    }


# ------------------------------------------------------------------ command line

OUTPUTS = {
    "ter-apel-2022-08.jsonl": ter_apel_2022,
    "shortage-2026.jsonl": shortage_2026,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a file on disk differs; write nothing"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, build in OUTPUTS.items():
        path = SCENARIOS / name
        text = build()
        if args.check:
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != text:
                stale.append(name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)} ({len(text.encode('utf-8')):,} bytes)")
    if stale:
        print(
            f"out of date: {', '.join(stale)} (run: python tools/make_scenarios.py)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
