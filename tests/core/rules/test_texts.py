"""Every alert text fits one SMS: at most 160 GSM-7 units (GSM 03.38), for names of 40 characters.

Each rule is rendered firing and resolved through the rule functions themselves, with realistic
(large) figures, so a longer wording or a character outside GSM-7 shows up here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from builders import TER_APEL, a_location

from alerts.capacity.location import Flows, LocationState, apply_intake, apply_occupancy
from alerts.capacity.penalties import PenaltyTally
from alerts.capacity.totals import Contribution, Totals
from alerts.config import AlertingConfig, TargetCycle
from alerts.model import NATIONAL, PROVINCE_NAMES, IntakeReport, Location, OccupancyReport
from alerts.rules import aggregate as aggregate_rules
from alerts.rules import location as location_rules
from alerts.rules.lifecycle import Finding

# GSM 03.38 default alphabet, in table order (0x00-0x7F), without 0x1B (the escape to the
# extension table). Line feed and carriage return are in it; they are spelled as escapes.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each costs two units (escape + character).
GSM_EXTENSION = "\f^{}\\[~]|€"

D = dt.date
DEFAULTS = AlertingConfig()
NAME = "Noodopvang Één Zuidwolde, Paviljoen 12-B"
DATE = D(2024, 8, 24)


def gsm_units(text: str) -> int:
    """Length in GSM-7 septets; ValueError for a character GSM-7 cannot send."""
    units = 0
    for char in text:
        if char in GSM_BASIC:
            units += 1
        elif char in GSM_EXTENSION:
            units += 2
        else:
            raise ValueError(f"not GSM-7: {char!r} in {text!r}")
    return units


def test_the_alphabet_tables() -> None:
    assert len(GSM_BASIC) == 127 and len(set(GSM_BASIC)) == 127
    assert len(GSM_EXTENSION) == 10
    assert not set(GSM_BASIC) & set(GSM_EXTENSION)
    assert len(NAME) == 40
    assert gsm_units("Ter Apel: € 5") == 14
    for bad in ("â", "ë", "ï", "ô", "’", "–", "…", "\t"):
        with pytest.raises(ValueError):
            gsm_units(bad)


# --------------------------------------------------------------------------- every rule, both ways


def location(kind: str = "registration_centre", cap: int | None = 2000) -> Location:
    return Location("x", NAME, kind, "GM1950", "GR", capacity=12000, cap=cap)


def state(*reports: OccupancyReport | IntakeReport) -> LocationState:
    result = LocationState("x")
    for report in reports:
        if isinstance(report, OccupancyReport):
            result, _ = apply_occupancy(result, report)
        else:
            result, _ = apply_intake(result, report)
    return result


def count(occupancy: int, date: dt.date = DATE, **extra: Any) -> OccupancyReport:
    return OccupancyReport(f"o-{date}", "x", date, occupancy, **extra)


def week(arrivals: int, transfers: int = 0, unplaced: int = 0) -> list[IntakeReport]:
    return [
        IntakeReport(
            f"i-{back}", "x", DATE - dt.timedelta(days=back), arrivals, transfers, 0, unplaced
        )
        for back in range(7, 0, -1)
    ]


def totals(occupancy: int, capacity: int, net_per_day: int = 0) -> Totals:
    flows = Flows(arrivals=max(0, net_per_day) * 7, departures=max(0, -net_per_day) * 7, days=7)
    return Totals(occupancy, capacity, locations=300, date=DATE, flows=flows)


def member(date: dt.date) -> Contribution:
    return Contribution("x", "NH", date, 0, 0, name=NAME, municipality_code="GM0363")


NEAR_MAX = {"ter-apel-2024-10": PenaltyTally("ter-apel-2024-10", 99, 4_950_000)}
CYCLE = TargetCycle("eerste", D(2024, 2, 1), {"ZH": 19776, "NH": 16290})


def ter_apel_named() -> Location:
    return a_location(name=NAME, capacity=2000, cap=2000)


CASES: dict[str, Callable[[], Finding | None]] = {
    "cap_exceeded firing": lambda: location_rules.cap_exceeded(
        location(), state(count(12345)), DEFAULTS
    ),
    "cap_exceeded resolved": lambda: location_rules.cap_exceeded(
        location(), state(count(1999)), DEFAULTS
    ),
    "cap_near firing (cap)": lambda: location_rules.cap_near(
        location(), state(count(1999)), DEFAULTS
    ),
    "cap_near resolved (cap)": lambda: location_rules.cap_near(
        location(), state(count(1839)), DEFAULTS
    ),
    "cap_near firing (capacity)": lambda: location_rules.cap_near(
        location(cap=None), state(count(11999)), DEFAULTS
    ),
    "cap_near resolved (capacity)": lambda: location_rules.cap_near(
        location(cap=None), state(count(10000)), DEFAULTS
    ),
    "slept_outside firing": lambda: location_rules.slept_outside(
        location(), state(count(2000, slept_outside=1234)), DEFAULTS
    ),
    "slept_outside resolved": lambda: location_rules.slept_outside(
        location(), state(count(2000)), DEFAULTS
    ),
    "without_bed firing": lambda: location_rules.without_bed(
        location(), state(count(2600, without_bed=12345)), DEFAULTS
    ),
    "without_bed resolved": lambda: location_rules.without_bed(
        location(), state(count(2000)), DEFAULTS
    ),
    "outside_risk firing (forecast)": lambda: location_rules.outside_risk(
        location(), state(*week(12345, 1234), count(11000)), DEFAULTS
    ),
    "outside_risk firing (unplaced)": lambda: location_rules.outside_risk(
        location(), state(*week(300, 100, 1234), count(11000)), DEFAULTS
    ),
    "outside_risk resolved": lambda: location_rules.outside_risk(
        location(), state(*week(300, 100), count(1000)), DEFAULTS
    ),
    "breach_forecast firing": lambda: location_rules.breach_forecast(
        location(), state(*week(1234), count(10000)), DEFAULTS
    ),
    "breach_forecast firing (full)": lambda: location_rules.breach_forecast(
        location(), state(*week(1234), count(12500)), DEFAULTS
    ),
    "breach_forecast resolved": lambda: location_rules.breach_forecast(
        location(), state(*week(10), count(1000)), DEFAULTS
    ),
    # in the band an alert holds, but it may step down a severity with this text
    "breach_forecast band (full, no longer filling)": lambda: location_rules.breach_forecast(
        location(), state(*week(0), count(12500)), DEFAULTS
    ),
    "region_capacity_low band": lambda: aggregate_rules.region_capacity_low(
        "NH", totals(97500, 99999), DEFAULTS
    ),
    "breach_forecast province firing": lambda: aggregate_rules.breach_forecast_aggregate(
        aggregate_rules.province_subject("NH"), totals(98765, 99999, 1111), DEFAULTS
    ),
    "breach_forecast province resolved": lambda: aggregate_rules.breach_forecast_aggregate(
        aggregate_rules.province_subject("NH"), totals(90000, 99999, -5), DEFAULTS
    ),
    "breach_forecast national firing": lambda: aggregate_rules.breach_forecast_aggregate(
        NATIONAL, totals(123456, 130000, 1234), DEFAULTS
    ),
    "region_capacity_low warning": lambda: aggregate_rules.region_capacity_low(
        "NH", totals(98765, 99999), DEFAULTS
    ),
    "region_capacity_low critical": lambda: aggregate_rules.region_capacity_low(
        "NH", totals(123456, 99999), DEFAULTS
    ),
    "region_capacity_low resolved": lambda: aggregate_rules.region_capacity_low(
        "NH", totals(88888, 99999), DEFAULTS
    ),
    "national_shortage firing": lambda: aggregate_rules.national_shortage(
        totals(137900, 130000), DEFAULTS
    ),
    "national_shortage resolved": lambda: aggregate_rules.national_shortage(
        totals(123456, 130000), DEFAULTS
    ),
    "spreiding_shortfall firing": lambda: aggregate_rules.spreiding_shortfall(
        "ZH", totals(8000, 11234), CYCLE
    ),
    "spreiding_shortfall resolved": lambda: aggregate_rules.spreiding_shortfall(
        "NH", totals(15000, 17234), CYCLE
    ),
    "report_missing warning": lambda: aggregate_rules.report_missing(
        member(DATE - dt.timedelta(days=1)), DATE, DEFAULTS
    ),
    "report_missing critical": lambda: aggregate_rules.report_missing(
        member(DATE - dt.timedelta(days=123)), DATE, DEFAULTS
    ),
    "report_missing resolved": lambda: aggregate_rules.report_missing(member(DATE), DATE, DEFAULTS),
    "implausible_report firing (ratio)": lambda: location_rules.implausible_report(
        location(), state(count(123456)), DEFAULTS
    ),
    "implausible_report firing (jump)": lambda: location_rules.implausible_report(
        location(), state(count(1234, D(2024, 8, 23)), count(12000)), DEFAULTS
    ),
    "implausible_report resolved": lambda: location_rules.implausible_report(
        location(), state(count(1234)), DEFAULTS
    ),
    "penalty_accrued info": lambda: location_rules.penalty_accrued(
        ter_apel_named(), state(count(2380, D(2025, 2, 19))), DEFAULTS, NEAR_MAX
    ),
    "penalty_accrued warning": lambda: location_rules.penalty_accrued(
        ter_apel_named(),
        state(count(2380, D(2026, 3, 13))),
        DEFAULTS,
        {"ter-apel-2024-10": PenaltyTally("ter-apel-2024-10", 100, 5_000_000)},
    ),
    "penalty_accrued resolved": lambda: location_rules.penalty_accrued(
        ter_apel_named(), state(count(2380, D(2024, 11, 13))), DEFAULTS, {}
    ),
}


def test_every_rule_is_rendered_both_ways() -> None:
    from alerts.catalogue import RULE_IDS

    kinds: dict[str, set[str]] = {}
    for label in CASES:
        rule, *rest = label.split()
        kind = "resolved" if "resolved" in rest else "band" if "band" in rest else "firing"
        kinds.setdefault(rule, set()).add(kind)
    assert set(kinds) == set(RULE_IDS)
    for rule, seen in kinds.items():
        assert {"firing", "resolved"} <= seen, rule


@pytest.mark.parametrize("label", sorted(CASES))
def test_summary_fits_one_sms(label: str) -> None:
    found = CASES[label]()
    assert found is not None
    assert found.rule == label.split()[0]
    if " band" in label:
        assert not found.breached and not found.cleared
    else:
        firing = "resolved" not in label
        assert found.breached is firing and found.cleared is not firing
    assert gsm_units(found.summary) <= 160, found.summary
    if found.subject.kind.value == "location":
        assert NAME in found.summary


@pytest.mark.parametrize("code", sorted(PROVINCE_NAMES))
def test_every_province_name_is_gsm(code: str) -> None:
    found = aggregate_rules.region_capacity_low(code, totals(123456, 99999), DEFAULTS)
    assert found is not None
    assert gsm_units(found.summary) <= 160


# --------------------------------------------------------------------------- exact Dutch


MONDAY = D(2024, 8, 26)


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (
            lambda: location_rules.cap_exceeded(TER_APEL, state(count(2380)), DEFAULTS),
            "Ter Apel: 2.380 personen, 380 boven de afgesproken grens van 2.000",
        ),
        (
            lambda: location_rules.cap_near(TER_APEL, state(count(1950)), DEFAULTS),
            "Ter Apel: 1.950 personen, 97% van de grens van 2.000; nog 50 plaatsen",
        ),
        (
            lambda: location_rules.cap_near(TER_APEL, state(count(1800)), DEFAULTS),
            "Ter Apel: weer onder 92% van de grens (1.800 van 2.000)",
        ),
        (
            lambda: location_rules.slept_outside(TER_APEL, state(count(2000)), DEFAULTS),
            "Ter Apel: niemand meer buiten geslapen (t/m 24 aug)",
        ),
        (
            lambda: location_rules.without_bed(
                TER_APEL, state(count(2000, without_bed=550)), DEFAULTS
            ),
            "Ter Apel: 550 personen zonder bed (stoel, sporthal of tent)",
        ),
        (
            lambda: location_rules.without_bed(TER_APEL, state(count(2000)), DEFAULTS),
            "Ter Apel: iedereen heeft weer een bed",
        ),
        (
            lambda: location_rules.outside_risk(
                TER_APEL,
                state(
                    IntakeReport("i", "x", MONDAY - dt.timedelta(days=7), 300, 50),
                    count(1800, MONDAY),
                ),
                DEFAULTS,
            ),
            "Ter Apel: ~300 aankomsten verwacht, 200 vrij en ~50 doorplaatsingen: "
            "risico op buiten slapen",
        ),
        (
            lambda: location_rules.outside_risk(
                TER_APEL,
                state(
                    IntakeReport("i", "x", MONDAY - dt.timedelta(days=7), 30), count(1800, MONDAY)
                ),
                DEFAULTS,
            ),
            "Ter Apel: geen acuut risico meer op buiten slapen",
        ),
        (
            lambda: aggregate_rules.breach_forecast_aggregate(
                NATIONAL, totals(72610, 75000, 600), DEFAULTS
            ),
            "Nederland: vol over ~4 dagen (2.390 vrij, netto +600 per dag)",
        ),
        (
            lambda: aggregate_rules.national_shortage(totals(77110, 72610), DEFAULTS),
            "Nederland: 4.500 opvangplaatsen tekort (77.110 personen, 72.610 plaatsen)",
        ),
        (
            lambda: aggregate_rules.report_missing(member(D(2024, 8, 22)), DATE, DEFAULTS),
            f"{NAME}: geen bezettingscijfer sinds 22 aug (2 dagen te laat)",
        ),
        (
            lambda: aggregate_rules.spreiding_shortfall("NH", totals(9000, 12000), CYCLE),
            "Provincie Noord-Holland: 12.000 plaatsen, 4.290 onder het Spreidingswet-doel "
            "van 16.290",
        ),
    ],
)
def test_exact_dutch(make: Callable[[], Finding | None], text: str) -> None:
    found = make()
    assert found is not None
    assert found.summary == text


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (
            lambda: location_rules.slept_outside(
                TER_APEL, state(count(2000, slept_outside=1)), DEFAULTS
            ),
            "Ter Apel: 1 persoon sliep buiten, nacht voor 24 aug",
        ),
        (
            lambda: location_rules.cap_near(TER_APEL, state(count(1999)), DEFAULTS),
            # 99,95 % reads 99 %: a percentage is cut off, never rounded up to the line.
            "Ter Apel: 1.999 personen, 99% van de grens van 2.000; nog 1 plaats",
        ),
        (
            lambda: location_rules.penalty_accrued(
                TER_APEL,
                state(count(2380, D(2024, 11, 13))),
                DEFAULTS,
                {"ter-apel-2024-10": PenaltyTally("ter-apel-2024-10", 1, 50_000)},
            ),
            "Ter Apel: dwangsom € 50.000 van max. € 5.000.000 (1 nacht boven de grens)",
        ),
    ],
)
def test_singular_dutch(make: Callable[[], Finding | None], text: str) -> None:
    found = make()
    assert found is not None
    assert found.summary == text
