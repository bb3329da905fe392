"""The cap_exceeded rule, the decision path for one occupancy report, and Dutch number texts."""

from __future__ import annotations

import datetime as dt

import pytest
from builders import BUDEL, a_location, an_intake_report, an_occupancy_report

from alerts.capacity.location import Applied, LocationState, apply_occupancy
from alerts.config import AlertingConfig
from alerts.engine import LocationRecord, on_intake, on_occupancy
from alerts.model import AlertEvent, AlertStatus, OccupancyReport, Severity
from alerts.render import nl_int
from alerts.rules import location as location_rules

D = dt.date
CAP_SOURCE = "Afspraak COA-Westerwolde"
TER_APEL = a_location(cap_source=CAP_SOURCE)
NO_CAP = BUDEL
DEFAULTS = AlertingConfig()


REPORT_DAY = D(2024, 7, 2)
FIRST_DAY = D(2024, 7, 1)


def state_with(occupancy: int, date: dt.date = REPORT_DAY) -> LocationState:
    state, _ = apply_occupancy(
        LocationState("ter-apel"), an_occupancy_report(date, occupancy, event_id="e")
    )
    return state


# ---------------------------------------------------------------- location_rules.cap_exceeded


def test_no_cap_no_finding() -> None:
    assert location_rules.cap_exceeded(NO_CAP, state_with(5000), DEFAULTS) is None


def test_no_report_yet_no_finding() -> None:
    assert location_rules.cap_exceeded(TER_APEL, LocationState("ter-apel"), DEFAULTS) is None


@pytest.mark.parametrize(
    ("occupancy", "breached", "cleared", "headroom"),
    [
        (0, False, True, 2000),
        (1999, False, True, 1),
        (2000, False, True, 0),
        (2001, True, False, -1),
        (2380, True, False, -380),
    ],
)
def test_cap_exceeded_boundary(
    occupancy: int, breached: bool, cleared: bool, headroom: int
) -> None:
    found = location_rules.cap_exceeded(TER_APEL, state_with(occupancy), DEFAULTS)
    assert found is not None
    assert (found.breached, found.cleared) == (breached, cleared)
    assert found.value == occupancy
    assert found.threshold == 2000
    assert found.headroom == headroom


def test_cap_exceeded_finding_fields() -> None:
    found = location_rules.cap_exceeded(TER_APEL, state_with(2380), DEFAULTS)
    assert found is not None
    assert found.rule == "cap_exceeded"
    assert found.subject == TER_APEL.subject
    assert found.severity is Severity.CRITICAL
    assert found.summary == "Ter Apel: 2.380 personen, 380 boven de afgesproken grens van 2.000"
    assert (found.province, found.municipality_code, found.cap_source) == (
        "GR",
        "GM1950",
        CAP_SOURCE,
    )


def test_cap_exceeded_uses_the_cap_not_the_capacity() -> None:
    roomy = a_location(capacity=3000, cap=2000)
    found = location_rules.cap_exceeded(roomy, state_with(2100), DEFAULTS)
    assert found is not None and found.breached and found.threshold == 2000


@pytest.mark.parametrize(
    ("occupancy", "firing", "text"),
    [
        (2380, True, "Ter Apel: 2.380 personen, 380 boven de afgesproken grens van 2.000"),
        (2001, True, "Ter Apel: 2.001 personen, 1 boven de afgesproken grens van 2.000"),
        (1990, False, "Ter Apel: weer binnen de grens, 1.990 personen (grens 2.000)"),
        (1, False, "Ter Apel: weer binnen de grens, 1 persoon (grens 2.000)"),
    ],
)
def test_cap_exceeded_summary(occupancy: int, firing: bool, text: str) -> None:
    found = location_rules.cap_exceeded(TER_APEL, state_with(occupancy), DEFAULTS)
    assert found is not None and found.breached is firing
    assert found.summary == text


# --------------------------------------------------------------------------- render.nl_int


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1.000"),
        (2380, "2.380"),
        (-380, "-380"),
        (-1000, "-1.000"),
        (1234567, "1.234.567"),
        (2380.4, "2.380"),
        (999.6, "1.000"),
    ],
)
def test_nl_int(value: float, text: str) -> None:
    assert nl_int(value) == text


@pytest.mark.parametrize("value", [-1000.4, -999.6, -999, -0.6, -0.4, 0.5, 1.5, 999.4, 999.5, 7])
def test_nl_int_without_thousands_writes_what_grouping_writes(value: float) -> None:
    number = round(value)
    grouped = ("-" if number < 0 else "") + f"{abs(number):,}".replace(",", ".")
    assert nl_int(value) == grouped


# --------------------------------------------------------------------------- engine.on_occupancy


def cap_events(events: tuple[AlertEvent, ...]) -> list[AlertEvent]:
    """The cap_exceeded events among an outcome's (other rules may speak about the same report)."""
    return [e for e in events if e.rule == "cap_exceeded"]


def feed(
    counts: list[int], config: AlertingConfig = DEFAULTS, start: dt.date = FIRST_DAY
) -> tuple[LocationRecord, list[AlertEvent], list[Applied]]:
    record = LocationRecord.new("ter-apel")
    events: list[AlertEvent] = []
    applied: list[Applied] = []
    for n, count in enumerate(counts):
        date = start + dt.timedelta(days=n)
        report = an_occupancy_report(date, count, event_id=f"occ-{date.isoformat()}")
        outcome = on_occupancy(TER_APEL, record, report, config)
        record = outcome.record
        events.extend(cap_events(outcome.events))
        applied.append(outcome.applied)
    return record, events, applied


def test_ter_apel_episode_fires_once_and_resolves_once() -> None:
    record, events, applied = feed([1960, 2040, 2380, 1990])
    assert applied == [Applied.APPLIED] * 4
    assert [(e.status, e.revision, e.event_date) for e in events] == [
        (AlertStatus.FIRING, 1, D(2024, 7, 2)),
        (AlertStatus.RESOLVED, 2, D(2024, 7, 4)),
    ]
    firing, resolved = events
    assert firing.alert_id == resolved.alert_id == "cap_exceeded-ter-apel-bcac4a9220"
    assert firing.rule == "cap_exceeded"
    assert firing.severity is Severity.CRITICAL
    assert (firing.value, firing.threshold, firing.headroom) == (2040, 2000, -40)
    assert firing.summary == "Ter Apel: 2.040 personen, 40 boven de afgesproken grens van 2.000"
    assert firing.starts_at == "2024-07-02T09:00:00+02:00"
    assert resolved.starts_at == "2024-07-02T09:00:00+02:00"
    assert resolved.ends_at == "2024-07-04T09:00:00+02:00"
    assert resolved.value == 1990
    assert (firing.province, firing.municipality_code, firing.cap_source) == (
        "GR",
        "GM1950",
        CAP_SOURCE,
    )
    assert record.alerts["cap_exceeded"].firing is False
    assert record.alerts["cap_exceeded"].revision == 2


def test_outcome_carries_the_new_contribution() -> None:
    record = LocationRecord.new("ter-apel")
    report = an_occupancy_report(D(2024, 7, 2), 2380, event_id="a", without_bed=60)
    outcome = on_occupancy(TER_APEL, record, report, DEFAULTS)
    assert len(outcome.contributions) == 1
    got = outcome.contributions[0]
    assert (got.location_id, got.province, got.date) == ("ter-apel", "GR", D(2024, 7, 2))
    assert (got.occupancy, got.capacity, got.without_bed, got.active) == (2380, 2000, 60, True)
    assert outcome.record.state.occupancy == 2380


def test_duplicate_report_yields_no_events() -> None:
    record = LocationRecord.new("ter-apel")
    report = an_occupancy_report(D(2024, 7, 2), 2380, event_id="a")
    first = on_occupancy(TER_APEL, record, report, DEFAULTS)
    assert len(cap_events(first.events)) == 1
    again = on_occupancy(TER_APEL, first.record, report, DEFAULTS)
    assert again.applied is Applied.DUPLICATE
    assert again.events == ()
    assert again.contributions == ()
    assert again.record == first.record


def test_correction_yields_no_events_and_no_contribution() -> None:
    record, _, _ = feed([2040, 2380], start=D(2024, 7, 2))
    late = an_occupancy_report(D(2024, 7, 1), 1500, event_id="late")
    outcome = on_occupancy(TER_APEL, record, late, DEFAULTS)
    assert outcome.applied is Applied.CORRECTION
    assert outcome.events == ()
    assert outcome.contributions == ()
    assert outcome.record.alerts == record.alerts
    assert outcome.record.state.occupancy == 2380


def test_disabled_rule_yields_nothing() -> None:
    config = AlertingConfig.from_mapping({"rules": {"cap_exceeded": {"enabled": False}}})
    record, events, _ = feed([1960, 2040, 2380, 1990], config)
    assert events == []
    assert "cap_exceeded" not in record.alerts


def test_for_two_days_delays_firing() -> None:
    config = AlertingConfig.from_mapping({"rules": {"cap_exceeded": {"for": 2}}})
    _, events, _ = feed([1960, 2040, 2380, 1990], config)
    assert [(e.status, e.revision, e.event_date) for e in events] == [
        (AlertStatus.FIRING, 1, D(2024, 7, 3)),
        (AlertStatus.RESOLVED, 2, D(2024, 7, 4)),
    ]
    assert events[0].starts_at == "2024-07-03T09:00:00+02:00"


def test_for_two_days_single_breach_never_fires() -> None:
    config = AlertingConfig.from_mapping({"rules": {"cap_exceeded": {"for": 2}}})
    _, events, _ = feed([1960, 2040, 1990, 2010, 1800], config)
    assert events == []


def test_clear_for_two_days_delays_resolution() -> None:
    config = AlertingConfig.from_mapping({"rules": {"cap_exceeded": {"clear_for": 2}}})
    _, events, _ = feed([2040, 1990, 2010, 1990, 1980], config)
    assert [(e.status, e.event_date) for e in events] == [
        (AlertStatus.FIRING, D(2024, 7, 1)),
        (AlertStatus.RESOLVED, D(2024, 7, 5)),
    ]


def test_location_without_cap_never_alerts() -> None:
    record = LocationRecord.new("budel")
    outcome = on_occupancy(
        NO_CAP, record, OccupancyReport("a", "budel", D(2024, 7, 2), 5000), DEFAULTS
    )
    assert outcome.applied is Applied.APPLIED
    assert cap_events(outcome.events) == []


def test_replay_of_the_same_input_gives_the_same_events() -> None:
    counts = [1960, 2040, 2380, 1990, 2100, 2100, 1700]
    _, first, _ = feed(counts)
    _, second, _ = feed(counts)
    assert [e.to_dict() for e in first] == [e.to_dict() for e in second]
    assert [e.revision for e in first] == [1, 2, 3, 4]


def test_on_intake_never_alerts() -> None:
    record, _, _ = feed([2380])
    outcome = on_intake(
        TER_APEL, record, an_intake_report(D(2024, 7, 2), event_id="in", arrivals=500), DEFAULTS
    )
    assert outcome.applied is Applied.APPLIED
    assert cap_events(outcome.events) == []
    assert outcome.record.alerts["cap_exceeded"] == record.alerts["cap_exceeded"]
    assert outcome.record.state.occupancy == 2380
