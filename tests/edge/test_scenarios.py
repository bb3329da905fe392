"""The bundled long scenarios: they parse, every record is valid on the wire, they are what
tools/make_scenarios.py writes, and they tell the story they claim to tell."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streams.cli.publish import InputRecord, bundled_path, load_locations_file, read_scenario
from streams.records import intake_to_domain, location_to_domain, occupancy_to_domain

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "tools" / "make_scenarios.py"
SCENARIOS = ("ter-apel-2022-08", "shortage-2026")
PROVINCES = ("GR", "FR", "DR", "OV", "FL", "GL", "UT", "NH", "ZH", "ZE", "NB", "LB")

#: People who slept outside at Ter Apel, by the date of the morning count (night D-1 -> D), as
#: the shared domain facts report them (only the nights with a published figure).
SOURCED_OUTSIDE = {
    "2022-08-13": 40,
    "2022-08-18": 70,
    "2022-08-19": 300,
    "2022-08-20": 250,
    "2022-08-21": 300,
    "2022-08-22": 400,
    "2022-08-23": 400,
    "2022-08-24": 700,
    "2022-08-25": 700,
    "2022-08-27": 250,
    "2022-08-28": 300,
    "2022-08-30": 10,
    "2022-09-09": 300,
}

DECODERS: dict[str, Callable[[bytes], Any]] = {
    "locations": location_to_domain,
    "occupancy": occupancy_to_domain,
    "intake": intake_to_domain,
}


def scenario(name: str) -> list[InputRecord]:
    return read_scenario(bundled_path("scenarios", f"{name}.jsonl"))


def of(records: list[InputRecord], topic: str) -> list[dict[str, Any]]:
    return [r.value for r in records if r.topic == topic]


def known_locations(records: list[InputRecord]) -> dict[str, dict[str, Any]]:
    found = {r.key: r.value for r in load_locations_file()}
    found.update({r.key: r.value for r in records if r.topic == "locations"})
    return found


@pytest.fixture(scope="module")
def ter_apel() -> list[InputRecord]:
    return scenario("ter-apel-2022-08")


@pytest.fixture(scope="module")
def shortage() -> list[InputRecord]:
    return scenario("shortage-2026")


# ---------------------------------------------------------------- both files


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_record_is_valid_on_the_wire(name: str) -> None:
    records = scenario(name)
    assert records
    for record in records:
        decoded = DECODERS[record.topic](json.dumps(record.value).encode("utf-8"))
        assert decoded.location_id == record.key


@pytest.mark.parametrize("name", SCENARIOS)
def test_event_ids_are_unique(name: str) -> None:
    records = scenario(name)
    counts = Counter(r.value["event_id"] for r in records if r.topic != "locations")
    assert [event_id for event_id, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_location_used_is_defined(name: str) -> None:
    records = scenario(name)
    known = known_locations(records)
    used = {r.key for r in records if r.topic != "locations"}
    assert used - set(known) == set()


@pytest.mark.parametrize("name", SCENARIOS)
def test_one_report_of_each_kind_per_location_and_day(name: str) -> None:
    records = scenario(name)
    for topic in ("occupancy", "intake"):
        per_location: dict[str, list[str]] = defaultdict(list)
        for value in of(records, topic):
            per_location[value["location_id"]].append(value["date"])
        for location_id, dates in per_location.items():
            assert len(dates) == len(set(dates)), (topic, location_id)
            first, last = dt.date.fromisoformat(min(dates)), dt.date.fromisoformat(max(dates))
            assert len(dates) == (last - first).days + 1, f"{topic} {location_id}: a day is missing"


@pytest.mark.parametrize("name", SCENARIOS)
def test_files_are_small_and_start_with_comments(name: str) -> None:
    path = bundled_path("scenarios", f"{name}.jsonl")
    assert path.stat().st_size < 8 * 1024 * 1024
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("//")


def test_the_generator_check_passes() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- Ter Apel, August 2022


def test_ter_apel_2022_covers_1_august_to_12_september(ter_apel: list[InputRecord]) -> None:
    assert of(ter_apel, "locations") == []  # the bundled location is used, not redefined
    assert {r.key for r in ter_apel} == {"ter-apel"}
    for topic in ("occupancy", "intake"):
        dates = sorted(v["date"] for v in of(ter_apel, topic))
        assert (dates[0], dates[-1], len(dates)) == ("2022-08-01", "2022-09-12", 43)
    assert all(v["event_id"].startswith("ta22-occ-") for v in of(ter_apel, "occupancy"))
    assert all(v["event_id"].startswith("ta22-int-") for v in of(ter_apel, "intake"))


def test_ter_apel_2022_follows_the_sourced_nights(ter_apel: list[InputRecord]) -> None:
    outside = {v["date"]: v.get("slept_outside", 0) for v in of(ter_apel, "occupancy")}
    for date, count in SOURCED_OUTSIDE.items():
        assert outside[date] == count, date
    assert outside["2022-08-14"] > 200  # "more than 200"
    assert all(outside[f"2022-09-0{day}"] == 0 for day in range(1, 8))
    assert all(outside[f"2022-08-{day:02d}"] == 0 for day in range(1, 13))


def test_ter_apel_2022_is_full_while_people_sleep_outside(ter_apel: list[InputRecord]) -> None:
    for value in of(ter_apel, "occupancy"):
        if value.get("slept_outside", 0) > 0:
            assert 2000 < value["occupancy"] <= 2100, value["date"]
            assert value["without_bed"] > 0
        else:
            assert value["occupancy"] <= 2000
            assert value.get("without_bed", 0) == 0


def test_ter_apel_2022_intake(ter_apel: list[InputRecord]) -> None:
    outside = {v["date"]: v.get("slept_outside", 0) for v in of(ter_apel, "occupancy")}
    intake = {v["date"]: v for v in of(ter_apel, "intake")}
    for date, value in intake.items():
        day = dt.date.fromisoformat(date)
        assert 150 <= value["arrivals"] <= 300
        assert value["departures"] < 20
        following = (day + dt.timedelta(days=1)).isoformat()
        if outside.get(following, 0) > 0:
            assert value["unplaced"] > 0, date
    # Monday and Tuesday busier than the weekend.
    by_weekday: dict[int, list[int]] = defaultdict(list)
    for date, value in intake.items():
        by_weekday[dt.date.fromisoformat(date).weekday()].append(value["arrivals"])
    mean = {k: sum(v) / len(v) for k, v in by_weekday.items()}
    assert min(mean[0], mean[1]) > max(mean[5], mean[6])
    # A backlog while the crisis grows: fewer moved on than arrived from 13 to 25 August.
    crisis = [intake[f"2022-08-{day}"] for day in range(13, 26)]
    assert sum(v["transfers_out"] for v in crisis) < sum(v["arrivals"] for v in crisis)


# ---------------------------------------------------------------- the 2026 shortage


def national_free(records: list[InputRecord], date: str) -> int:
    known = known_locations(records)
    total = 0
    for value in of(records, "occupancy"):
        if value["date"] == date:
            capacity = value.get("capacity", known[value["location_id"]]["capacity"])
            total += capacity - value["occupancy"]
    return total


def test_shortage_2026_runs_through_the_ministers_figures(shortage: list[InputRecord]) -> None:
    assert -5000 <= national_free(shortage, "2026-03-31") <= -4000
    assert -8400 <= national_free(shortage, "2026-08-31") <= -7400


def test_shortage_2026_locations(shortage: list[InputRecord]) -> None:
    synthetic = of(shortage, "locations")
    per_province = Counter(loc["province"] for loc in synthetic)
    assert set(per_province) == set(PROVINCES)
    assert all(2 <= n <= 4 for n in per_province.values())
    assert all(loc["location_id"].startswith("s26-") for loc in synthetic)
    assert all("synthetisch" in loc["name"] for loc in synthetic)
    assert "ter-apel" not in {loc["location_id"] for loc in synthetic}
    assert "ter-apel" in {r.key for r in shortage if r.topic == "occupancy"}
    total = sum(loc["capacity"] for loc in synthetic) + 2000
    assert 65_000 <= total <= 75_000


def test_shortage_2026_daily_from_march_to_august(shortage: list[InputRecord]) -> None:
    dates = {v["date"] for v in of(shortage, "occupancy")}
    assert (min(dates), max(dates), len(dates)) == ("2026-03-01", "2026-08-31", 184)
    locations = {r.key for r in shortage if r.topic == "occupancy"}
    assert len(of(shortage, "occupancy")) == len(locations) * 184
    assert len(of(shortage, "intake")) == len(locations) * 184


def test_shortage_2026_flows_match_the_counts(shortage: list[InputRecord]) -> None:
    """Each day's intake leads from that morning's count to the next one."""
    occupancy = {(v["location_id"], v["date"]): v["occupancy"] for v in of(shortage, "occupancy")}
    for value in of(shortage, "intake"):
        following = (dt.date.fromisoformat(value["date"]) + dt.timedelta(days=1)).isoformat()
        if (value["location_id"], following) not in occupancy:
            continue
        net = value["arrivals"] - value["transfers_out"] - value["departures"]
        change = (
            occupancy[(value["location_id"], following)]
            - occupancy[(value["location_id"], value["date"])]
        )
        assert net == change, (value["location_id"], value["date"])


def test_shortage_2026_ter_apel_mostly_over_its_cap(shortage: list[InputRecord]) -> None:
    counts = [v["occupancy"] for v in of(shortage, "occupancy") if v["location_id"] == "ter-apel"]
    # The fine of EUR 50,000 a night reaches its EUR 5 million maximum after 100 nights.
    assert sum(1 for n in counts if n > 2000) >= 100
    assert sum(1 for n in counts if n <= 2000) > 0


def test_shortage_2026_provinces_go_short_at_different_times(
    shortage: list[InputRecord],
) -> None:
    known = known_locations(shortage)
    free: dict[tuple[str, str], int] = defaultdict(int)
    for value in of(shortage, "occupancy"):
        location = known[value["location_id"]]
        free[(location["province"], value["date"])] += location["capacity"] - value["occupancy"]
    first_negative = {
        code: min((date for (p, date), n in free.items() if p == code and n < 0), default=None)
        for code in PROVINCES
    }
    assert first_negative["FL"] is None
    assert len({date for date in first_negative.values() if date is not None}) >= 5
    assert free[("FR", "2026-03-01")] > 0 and free[("FR", "2026-08-31")] < 0
