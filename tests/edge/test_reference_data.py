"""The bundled reference data (``streams/data``): the municipality list against itself, against the
provinces and against the bundled locations. Where the list comes from: ``streams/data/README.md``.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from streams.reference import data_path, load_municipalities, load_provinces, municipality_list

# CBS: 342 municipalities on 1 January 2023, 2024 and 2025.
YEAR = 2025
COUNT = 342
# Municipalities per province in that classification (they add up to 342).
PER_PROVINCE = {
    "GR": 10,
    "FR": 18,
    "DR": 12,
    "OV": 25,
    "FL": 6,
    "GL": 51,
    "UT": 26,
    "NH": 44,
    "ZH": 50,
    "ZE": 13,
    "NB": 56,
    "LB": 31,
}
CODE = re.compile(r"^GM\d{4}$")

MUNICIPALITIES = load_municipalities()
BY_CODE = {m["code"]: m for m in MUNICIPALITIES}


def _locations() -> list[dict[str, object]]:
    return list(json.loads(data_path("locations.json").read_text("utf-8"))["locations"])


def test_the_list_is_the_documented_year_and_count() -> None:
    meta = municipality_list()
    assert (meta.year, meta.count) == (YEAR, COUNT)
    assert len(MUNICIPALITIES) == COUNT
    assert list(meta.municipalities) == MUNICIPALITIES
    assert sum(PER_PROVINCE.values()) == COUNT


def test_the_source_is_recorded() -> None:
    source = municipality_list().source
    assert "minvws/nl-covid19-data-dashboard" in source["list"]
    assert "bea1ba8d067fba926d93d161639938edf4d49fae" in source["list"]
    assert "EUPL-1.2" in source["licence"]
    assert source["province"]


def test_every_entry_has_exactly_code_name_and_province() -> None:
    for m in MUNICIPALITIES:
        assert set(m) == {"code", "name", "province"}, m
        assert isinstance(m["name"], str) and m["name"].strip() == m["name"] != "", m


def test_codes_are_well_formed_and_unique() -> None:
    codes = [m["code"] for m in MUNICIPALITIES]
    assert all(CODE.match(c) for c in codes), [c for c in codes if not CODE.match(c)]
    assert len(set(codes)) == len(codes)


def test_names_are_unique() -> None:
    names = Counter(m["name"] for m in MUNICIPALITIES)
    assert [n for n, k in names.items() if k > 1] == []


def test_every_municipality_is_in_one_of_the_twelve_provinces() -> None:
    provinces = {p["code"] for p in load_provinces()}
    assert provinces == set(PER_PROVINCE)
    assert {m["province"] for m in MUNICIPALITIES} <= provinces


def test_every_province_has_its_municipalities() -> None:
    counts = Counter(m["province"] for m in MUNICIPALITIES)
    assert all(counts[p] >= 1 for p in PER_PROVINCE)
    assert dict(counts) == PER_PROVINCE


def test_every_bundled_location_is_in_a_listed_municipality_of_its_province() -> None:
    locations = _locations()
    assert locations
    for loc in locations:
        m = BY_CODE.get(str(loc["municipality_code"]))
        assert m is not None, loc["location_id"]
        assert m["province"] == loc["province"], (loc["location_id"], m)


@pytest.mark.parametrize(
    ("code", "name", "province"),
    [
        ("GM1950", "Westerwolde", "GR"),  # Ter Apel
        ("GM1979", "Eemsdelta", "GR"),  # 2021
        ("GM1980", "Dijk en Waard", "NH"),  # 2022
        ("GM1982", "Land van Cuijk", "NB"),  # 2022
        ("GM1991", "Maashorst", "NB"),  # 2022
        ("GM1992", "Voorne aan Zee", "ZH"),  # 2023
        ("GM1961", "Vijfheerenlanden", "UT"),  # 2019, moved from ZH to UT
        ("GM0363", "Amsterdam", "NH"),
        ("GM0518", "'s-Gravenhage", "ZH"),
        ("GM1900", "Súdwest-Fryslân", "FR"),
        ("GM0893", "Bergen (L.)", "LB"),
        ("GM0373", "Bergen (NH.)", "NH"),
    ],
)
def test_known_municipalities(code: str, name: str, province: str) -> None:
    assert BY_CODE[code] == {"code": code, "name": name, "province": province}


@pytest.mark.parametrize(
    "code",
    [
        "GM0457",  # Weesp, into Amsterdam 24 March 2022
        "GM0370",  # Beemster, into Purmerend 2022
        "GM0398",  # Heerhugowaard, into Dijk en Waard 2022
        "GM0416",  # Langedijk, into Dijk en Waard 2022
        "GM0756",  # Boxmeer, into Land van Cuijk 2022
        "GM0856",  # Uden, into Maashorst 2022
        "GM0501",  # Brielle, into Voorne aan Zee 2023
        "GM0530",  # Hellevoetsluis, into Voorne aan Zee 2023
        "GM0614",  # Westvoorne, into Voorne aan Zee 2023
    ],
)
def test_merged_municipalities_are_gone(code: str) -> None:
    assert code not in BY_CODE
