"""The fine counter (dwangsom) for Ter Apel and the penalty_accrued alert.

Defaults (domain facts): EUR 15,000 a night above 2,000 from the night to 22 Feb 2024, at most
EUR 1.5 million (100 nights); then EUR 50,000 a night from 13 Nov 2024, at most EUR 5 million.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

import pytest
from builders import BUDEL, TER_APEL, a_location

from alerts.capacity.location import Applied, LocationState, apply_occupancy
from alerts.capacity.penalties import DEFAULT_SCHEMES, PenaltyScheme, PenaltyTally, accrue
from alerts.config import AlertingConfig
from alerts.engine import LocationRecord, on_occupancy
from alerts.model import AlertEvent, Location, OccupancyReport
from alerts.rules import location as location_rules

D = dt.date
DEFAULTS = AlertingConfig()
FIRST, SECOND = "ter-apel-2024-01", "ter-apel-2024-10"
FIRST_NIGHT = D(2024, 2, 22)


def nights(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range(count)]


def count(
    dates: Iterable[dt.date],
    *,
    over_cap: bool = True,
    tallies: Mapping[str, PenaltyTally] | None = None,
    location_id: str = "ter-apel",
) -> dict[str, PenaltyTally]:
    result = dict(tallies or {})
    for date in dates:
        result = accrue(
            result, DEFAULT_SCHEMES, location_id=location_id, date=date, over_cap=over_cap
        )
    return result


def test_default_schemes_are_the_two_court_orders() -> None:
    assert [
        (s.name, s.location_id, s.amount_per_night, s.first_night, s.maximum)
        for s in DEFAULT_SCHEMES
    ] == [
        (FIRST, "ter-apel", 15_000, D(2024, 2, 22), 1_500_000),
        (SECOND, "ter-apel", 50_000, D(2024, 11, 13), 5_000_000),
    ]
    assert DEFAULTS.penalties == DEFAULT_SCHEMES


@pytest.mark.parametrize(
    ("dates", "over_cap", "first", "second"),
    [
        # the night before the first night does not count
        ([D(2024, 2, 21)], True, (0, 0, None), (0, 0, None)),
        ([D(2024, 2, 22)], True, (1, 15_000, D(2024, 2, 22)), (0, 0, None)),
        ([D(2024, 2, 22)], False, (0, 0, None), (0, 0, None)),
        # 100 nights reach the maximum; nights keep counting, the amount stops
        (nights(FIRST_NIGHT, 99), True, (99, 1_485_000, D(2024, 5, 30)), (0, 0, None)),
        (nights(FIRST_NIGHT, 100), True, (100, 1_500_000, D(2024, 5, 31)), (0, 0, None)),
        (nights(FIRST_NIGHT, 101), True, (101, 1_500_000, D(2024, 6, 1)), (0, 0, None)),
        # the second order from 13 Nov 2024; the first keeps counting nights at its maximum
        ([D(2024, 11, 12)], True, (1, 15_000, D(2024, 11, 12)), (0, 0, None)),
        (
            [D(2024, 11, 12), D(2024, 11, 13)],
            True,
            (2, 30_000, D(2024, 11, 13)),
            (1, 50_000, D(2024, 11, 13)),
        ),
        (
            nights(D(2024, 11, 13), 100),
            True,
            (100, 1_500_000, D(2025, 2, 20)),
            (100, 5_000_000, D(2025, 2, 20)),
        ),
        (
            nights(D(2024, 11, 13), 105),
            True,
            (105, 1_500_000, D(2025, 2, 25)),
            (105, 5_000_000, D(2025, 2, 25)),
        ),
    ],
)
def test_accrue(
    dates: list[dt.date],
    over_cap: bool,
    first: tuple[int, int, dt.date | None],
    second: tuple[int, int, dt.date | None],
) -> None:
    tallies = count(dates, over_cap=over_cap)
    assert set(tallies) == {FIRST, SECOND}
    for name, expected in ((FIRST, first), (SECOND, second)):
        tally = tallies[name]
        assert (tally.nights, tally.accrued, tally.last_night) == expected
        assert tally.scheme == name


@pytest.mark.parametrize(
    "again",
    [
        D(2024, 3, 1),  # the same date: a replay or a same-day recount
        D(2024, 2, 29),  # an older date
        FIRST_NIGHT,
    ],
)
def test_a_night_is_counted_once(again: dt.date) -> None:
    tallies = count(nights(FIRST_NIGHT, 9))  # up to and including 1 March
    assert (tallies[FIRST].nights, tallies[FIRST].accrued) == (9, 135_000)
    assert count([again], tallies=tallies) == tallies


def test_nights_under_the_cap_in_between_add_nothing() -> None:
    tallies = count([D(2024, 3, 1), D(2024, 3, 3)])
    tallies = count([D(2024, 3, 4)], over_cap=False, tallies=tallies)
    assert (tallies[FIRST].nights, tallies[FIRST].accrued) == (2, 30_000)
    assert tallies[FIRST].last_night == D(2024, 3, 3)


def test_other_locations_owe_nothing() -> None:
    assert count(nights(FIRST_NIGHT, 5), location_id="budel") == {}


def test_a_configured_scheme() -> None:
    scheme = PenaltyScheme("budel-test", "budel", 1000, D(2024, 1, 1), 2500)
    tallies: dict[str, PenaltyTally] = {}
    for date in nights(D(2024, 1, 1), 4):
        tallies = accrue(tallies, (scheme,), location_id="budel", date=date, over_cap=True)
    assert tallies == {"budel-test": PenaltyTally("budel-test", 4, 2500, D(2024, 1, 4))}


# --------------------------------------------------------------------------- through the engine


def feed(
    counts: Iterable[tuple[dt.date, int]],
    record: LocationRecord | None = None,
    location: Location = TER_APEL,
    tag: str = "",
) -> tuple[LocationRecord, list[AlertEvent], list[Applied]]:
    record = record or LocationRecord.new(location.location_id)
    events: list[AlertEvent] = []
    applied: list[Applied] = []
    for date, occupancy in counts:
        report = OccupancyReport(f"o-{date}{tag}", location.location_id, date, occupancy)
        outcome = on_occupancy(location, record, report, DEFAULTS)
        record = outcome.record
        applied.append(outcome.applied)
        events.extend(e for e in outcome.events if e.rule == "penalty_accrued")
    return record, events, applied


def test_nights_at_or_below_the_cap_add_nothing() -> None:
    record, _, _ = feed([(D(2024, 3, 1), 2000), (D(2024, 3, 2), 1500), (D(2024, 3, 3), 2001)])
    tally = record.penalties[FIRST]
    assert (tally.nights, tally.accrued, tally.last_night) == (1, 15_000, D(2024, 3, 3))


def test_a_location_without_a_cap_accrues_nothing() -> None:
    uncapped = a_location(capacity=2000, cap=None)
    record, events, _ = feed([(D(2024, 3, 1), 9000)], location=uncapped)
    assert record.penalties[FIRST].nights == 0
    assert events == []


def test_replay_duplicate_and_recount_add_nothing() -> None:
    record, _, _ = feed([(D(2024, 3, 1), 2300), (D(2024, 3, 2), 2300)])
    again, _, applied = feed([(D(2024, 3, 2), 2300)], record=record)  # the same event again
    assert applied == [Applied.DUPLICATE]
    assert again.penalties == record.penalties
    recount, _, applied = feed([(D(2024, 3, 2), 2400)], record=record, tag="-recount")
    assert applied == [Applied.APPLIED]
    assert recount.penalties == record.penalties
    assert (record.penalties[FIRST].nights, record.penalties[FIRST].accrued) == (2, 30_000)


def brief(events: Iterable[AlertEvent]) -> list[tuple[str, str, dt.date, int, float, float]]:
    return [
        (e.status.value, e.severity.value, e.event_date, e.revision, e.value, e.threshold)
        for e in events
    ]


def test_penalty_accrued_info_warning_and_the_next_scheme() -> None:
    # every night from 22 Feb over the cap: night 80 is 11 May (1.2M), night 100 is 31 May
    record, events, _ = feed((date, 2380) for date in nights(FIRST_NIGHT, 79))
    assert events == []
    record, events, _ = feed([(D(2024, 5, 11), 2380)], record=record)
    assert brief(events) == [("firing", "info", D(2024, 5, 11), 1, 1_200_000, 1_200_000)]
    assert events[0].headroom == 300_000
    assert events[0].summary == (
        "Ter Apel: dwangsom € 1.200.000 van max. € 1.500.000 (80 nachten boven de grens)"
    )
    record, events, _ = feed(
        [(date, 2380) for date in nights(D(2024, 5, 12), 22)], record=record
    )  # to 2 June
    assert brief(events) == [("firing", "warning", D(2024, 5, 31), 2, 1_500_000, 1_500_000)]
    assert events[0].summary == (
        "Ter Apel: maximale dwangsom van € 1.500.000 bereikt (100 nachten boven de grens)"
    )
    assert record.penalties[FIRST].nights == 102
    # the second order comes into force on 13 Nov: its counter starts at 0, the alert resolves
    _, events, _ = feed([(D(2024, 11, 12), 2380), (D(2024, 11, 13), 2380)], record=record)
    assert brief(events) == [("resolved", "warning", D(2024, 11, 13), 3, 50_000, 4_000_000)]


@pytest.mark.parametrize(("occupancy", "accrued"), [(2380, 50_000), (1990, 0)])
def test_switching_scheme_resolves_whatever_the_first_night(occupancy: int, accrued: int) -> None:
    record = LocationRecord.new("ter-apel")
    record = LocationRecord(
        record.state, penalties={FIRST: PenaltyTally(FIRST, 100, 1_500_000, D(2024, 11, 11))}
    )
    record, events, _ = feed([(D(2024, 11, 12), 2380)], record=record)
    assert brief(events) == [("firing", "warning", D(2024, 11, 12), 1, 1_500_000, 1_500_000)]
    _, events, _ = feed([(D(2024, 11, 13), occupancy)], record=record)
    assert brief(events) == [("resolved", "warning", D(2024, 11, 13), 2, accrued, 4_000_000)]


def state_on(date: dt.date) -> LocationState:
    state, _ = apply_occupancy(LocationState("ter-apel"), OccupancyReport("e", "x", date, 2100))
    return state


@pytest.mark.parametrize(
    ("date", "tallies", "expected"),
    [
        (D(2024, 2, 21), {}, None),  # no order in force yet
        (D(2024, 5, 10), {FIRST: (79, 1_185_000)}, (False, True, "info", 1_185_000, 1_200_000)),
        (D(2024, 5, 11), {FIRST: (80, 1_200_000)}, (True, False, "info", 1_200_000, 1_200_000)),
        (
            D(2024, 5, 30),
            {FIRST: (99, 1_485_000)},
            (True, False, "info", 1_485_000, 1_200_000),
        ),
        (
            D(2024, 5, 31),
            {FIRST: (100, 1_500_000)},
            (True, False, "warning", 1_500_000, 1_500_000),
        ),
        # the newest order in force is the one that counts, even before it has a tally
        (D(2024, 11, 13), {FIRST: (266, 1_500_000)}, (False, True, "info", 0, 4_000_000)),
        (
            D(2025, 2, 1),
            {FIRST: (300, 1_500_000), SECOND: (80, 4_000_000)},
            (True, False, "info", 4_000_000, 4_000_000),
        ),
    ],
)
def test_penalty_accrued_rule(
    date: dt.date,
    tallies: dict[str, tuple[int, int]],
    expected: tuple[bool, bool, str, int, float] | None,
) -> None:
    found = location_rules.penalty_accrued(
        TER_APEL,
        state_on(date),
        DEFAULTS,
        {name: PenaltyTally(name, n, amount) for name, (n, amount) in tallies.items()},
    )
    if expected is None:
        assert found is None
        return
    assert found is not None
    breached, cleared, severity, value, threshold = expected
    assert (found.breached, found.cleared, found.severity.value) == (breached, cleared, severity)
    assert (found.value, found.threshold) == (value, threshold)


def test_penalty_accrued_only_where_a_scheme_applies() -> None:
    budel = dataclasses.replace(BUDEL, cap=900)
    assert location_rules.penalty_accrued(budel, state_on(D(2024, 6, 1)), DEFAULTS, {}) is None
