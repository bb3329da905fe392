"""The same reports give the same alerts whatever the interleaving of the two input topics
(issue 12's year run): here the intake reports are read days behind the morning counts, once
every location has sent its first ones, the way a worker reads a backlog whose intake topic
falls behind its occupancy topic.

On the code before the fix a province closed day D as soon as every location's morning count of
D was in (without ``expect_intake`` those count as final at once), so with the intake of D-1
still unread its 7-day flows missed days, ``breach_forecast`` fired on other dates and with
other values, and the intake read later was dropped for the closed days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest
from builders import an_intake_report, an_occupancy_report

from alerts.config import AlertingConfig
from alerts.model import IntakeReport, Location, OccupancyReport
from alerts.replay import replay

START = dt.date(2025, 1, 1)
DAYS = 60
#: Days sent in date order before the intake topic falls behind: each location's intake is known.
HEAD = 3

#: Three places in Groningen that fill and empty: the province's forecast flips now and then.
LOCATIONS = {
    location.location_id: location
    for location in (
        Location("ter-apel", "Ter Apel", "registration_centre", "GM1950", "GR", 2000, cap=2000),
        Location("zoutkamp", "Zoutkamp", "regular", "GM1966", "GR", capacity=400),
        Location("musselkanaal", "Musselkanaal", "regular", "GM1895", "GR", capacity=300),
    )
}

Report = OccupancyReport | IntakeReport


def _days() -> list[tuple[list[Report], list[Report]]]:
    """(morning counts, intake reports) per day, in date order; the same every run."""
    rng = random.Random(12)
    occupancy = {"ter-apel": 1700, "zoutkamp": 300, "musselkanaal": 220}
    days = []
    for index in range(DAYS):
        date = START + dt.timedelta(days=index)
        counts: list[Report] = []
        flows: list[Report] = []
        for lid, location in LOCATIONS.items():
            step = max(2, location.capacity // 25)
            occupancy[lid] = min(max(occupancy[lid] + rng.randint(-step, step), 0), 2100)
            counts.append(
                an_occupancy_report(
                    date, occupancy[lid], event_id=f"{lid}:{date}:occ", location_id=lid
                )
            )
            mean = max(1, location.capacity // 20)
            flows.append(
                an_intake_report(
                    date,
                    event_id=f"{lid}:{date}:intake",
                    location_id=lid,
                    arrivals=rng.randint(0, 2 * mean),
                    transfers_out=rng.randint(0, mean // 2),
                    departures=rng.randint(0, mean),
                )
            )
        days.append((counts, flows))
    return days


def _in_order(days: list[tuple[list[Report], list[Report]]]) -> list[Report]:
    return [report for counts, flows in days for report in (*counts, *flows)]


def _intake_behind(days: list[tuple[list[Report], list[Report]]], lag: int) -> list[Report]:
    """The first HEAD days in order, then the intake ``lag`` days behind the morning counts."""
    out = _in_order(days[:HEAD])
    rest = days[HEAD:]
    for index in range(len(rest) + lag):
        if index < len(rest):
            out.extend(rest[index][0])
        if 0 <= index - lag < len(rest):
            out.extend(rest[index - lag][1])
    return out


def _changes(reports: list[Report], config: AlertingConfig) -> set[tuple[object, ...]]:
    return {
        (e.alert_id, e.revision, e.status, e.event_date, e.value)
        for e in replay(LOCATIONS, reports, config).events
    }


@pytest.mark.parametrize("expect_intake", [False, True])
@pytest.mark.parametrize("lag", [1, 10, DAYS])
def test_intake_read_behind_the_morning_counts_gives_the_same_alerts(
    lag: int, expect_intake: bool
) -> None:
    config = dataclasses.replace(AlertingConfig(), expect_intake=expect_intake)
    days = _days()
    expected = _changes(_in_order(days), config)
    # The scenario means something: the province's forecast changes more than once.
    assert sum(1 for change in expected if str(change[0]).startswith("breach_forecast-gr")) >= 3
    assert _changes(_intake_behind(days, lag), config) == expected


@pytest.mark.parametrize("lag", [5, DAYS])
def test_morning_counts_read_before_any_intake_report_give_the_same_alerts(lag: int) -> None:
    # No head in order: the input's first intake report comes ``lag`` days after its first morning
    # count. The core knows intake is on its way (the input holds some) and waits for it
    # (``alerts.watermark.intake_pending``); before, it closed those days without flows.
    config = AlertingConfig()
    days = _days()
    out: list[Report] = []
    for index in range(DAYS + lag):
        if index < DAYS:
            out.extend(days[index][0])
        if 0 <= index - lag < DAYS:
            out.extend(days[index - lag][1])
    assert _changes(out, config) == _changes(_in_order(days), config)


# ------------------------------------------------------------- intake read ahead of the counts


def _centre_days(count: int) -> list[tuple[list[Report], list[Report]]]:
    """A registration centre a hundred-odd places from full whose expected arrivals (the same
    weekday over four weeks) now and then exceed its room: ``outside_risk`` changes often, and
    its value is an average over four weeks of intake history."""
    rng = random.Random(7)
    days = []
    for index in range(count):
        date = START + dt.timedelta(days=index)
        count_ = an_occupancy_report(
            date, rng.randint(1850, 1950), event_id=f"ter-apel:{date}:occ", location_id="ter-apel"
        )
        flow = an_intake_report(
            date,
            event_id=f"ter-apel:{date}:intake",
            location_id="ter-apel",
            arrivals=rng.randint(40, 260),
            transfers_out=rng.randint(0, 40),
            departures=rng.randint(0, 5),
        )
        days.append(([count_], [flow]))
    return days


@pytest.mark.parametrize("ahead", [10, 70, 160])
def test_intake_read_ahead_of_the_morning_counts_gives_the_same_alerts(ahead: int) -> None:
    # The intake topic read ``ahead`` days ahead of the occupancy topic (160: all of it first).
    # Before, a location kept its history counted back from its newest day of any kind, so
    # intake read weeks ahead pushed out the four weeks the next morning count's outside_risk
    # averages over (seen in the year run, where the worker read intake up to ~65 days ahead).
    config = AlertingConfig()
    days = _centre_days(160)
    out: list[Report] = []
    for index in range(len(days) + ahead):
        if index < len(days):
            out.extend(days[index][1])
        if 0 <= index - ahead < len(days):
            out.extend(days[index - ahead][0])
    expected = _changes(_in_order(days), config)
    assert sum(1 for change in expected if str(change[0]).startswith("outside_risk")) >= 10
    assert _changes(out, config) == expected
