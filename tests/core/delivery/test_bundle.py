"""One SMS per evaluation and per morning count (alerts.delivery.bundle): which changes go
together, the segment budget, stable ids, and the morning rule, as tables."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from builders import an_alert
from hypothesis import given
from hypothesis import strategies as st

from alerts.catalogue import urgent
from alerts.delivery.bundle import (
    BUNDLE_RULE,
    KEEP_DAYS,
    MorningLog,
    bundle_event,
    critical_new,
    evaluations,
    fold,
    members_of,
    morning_verdict,
)
from alerts.delivery.ledger import Ledger, notification_id
from alerts.model import NATIONAL, AlertEvent, AlertStatus, Severity, Subject, SubjectKind
from alerts.receivers.sms_text import gsm7_units, segment_limit, sms_text

DAY = dt.date(2022, 9, 9)
GR = Subject(SubjectKind.PROVINCE, "GR")


def change(rule: str, summary: str, **kw: object) -> AlertEvent:
    return an_alert(
        alert_id=f"{rule}-{kw.get('subject', an_alert().subject).id}",  # type: ignore[union-attr]
        rule=rule,
        summary=summary,
        event_date=kw.pop("event_date", DAY),
        **kw,
    )


CAP = change("cap_exceeded", "Ter Apel: 2.053 personen, 53 boven de afgesproken grens van 2.000")
SLEPT = change("slept_outside", "Ter Apel: 300 personen sliepen buiten, nacht voor 9 sep")
BED = change(
    "without_bed",
    "Ter Apel: 120 personen zonder bed (stoel, sporthal of tent)",
    severity=Severity.WARNING,
)
FORECAST = change("breach_forecast", "Ter Apel: vol, en er komen netto 9 per dag bij")
REGION = change(
    "region_capacity_low",
    "Provincie Groningen: 53 opvangplaatsen tekort (2.053 personen, 2.000 plaatsen)",
    subject=GR,
)
REGION_FORECAST = change(
    "breach_forecast", "Provincie Groningen: vol, en er komen netto 9 per dag bij", subject=GR
)


def test_evaluations_are_runs_of_one_subject_and_one_report_date() -> None:
    later = change("cap_exceeded", "x", event_date=DAY + dt.timedelta(days=1))
    runs = evaluations([CAP, SLEPT, BED, REGION, REGION_FORECAST, later])
    assert runs == [(CAP, SLEPT, BED), (REGION, REGION_FORECAST), (later,)]


def test_one_change_is_sent_as_it_is() -> None:
    assert bundle_event("burgemeester", [CAP]) is CAP


def test_several_changes_become_one_sms_within_one_segment_with_the_rest_counted() -> None:
    bundle = bundle_event("burgemeester", [CAP, SLEPT, BED, FORECAST])
    text = sms_text(bundle)
    assert gsm7_units(text) <= 160
    assert text.startswith("KRITIEK: Ter Apel: 2.053 personen")
    assert "300 personen sliepen buiten" in text
    assert text.endswith("+2 meer, zie statuspagina")
    assert bundle.rule == BUNDLE_RULE
    assert members_of(bundle) == tuple(e.dedup_key for e in (CAP, SLEPT, BED, FORECAST))
    assert set(critical_new(bundle)) == {CAP.alert_id, SLEPT.alert_id, FORECAST.alert_id}


URL = "https://status.opvang.example.nl/"


def test_the_status_page_address_ends_the_bundle_when_it_fits() -> None:
    two = bundle_event("b", [CAP, BED], limit=segment_limit(2), status_url=URL)
    text = sms_text(two, segment_limit(2))
    assert text.endswith(f"zonder bed (stoel, sporthal of tent). Zie {URL}"), text
    # Items left out: the address after "zie statuspagina", when it fits beside the items.
    long = "personen, 53 boven de afgesproken grens van 2.000 plaatsen"
    many = [an_alert(alert_id=f"a{i}", summary=f"Locatie {i}: 2.053 {long}") for i in range(3)]
    text = sms_text(bundle_event("b", many, status_url=URL))
    assert text.endswith(f" +2 meer, zie statuspagina {URL}") and gsm7_units(text) <= 160, text
    without = sms_text(bundle_event("b", many))
    assert text == f"{without} {URL}"  # the address took no item's place


def test_the_status_page_address_never_pushes_an_item_out() -> None:
    # One segment, four changes: two items and "+2 meer, zie statuspagina" fill it already.
    members = [CAP, SLEPT, BED, FORECAST]
    linked = bundle_event("b", members, status_url=URL)
    assert linked.summary == bundle_event("b", members).summary
    assert URL not in sms_text(linked)
    assert linked.alert_id == bundle_event("b", members).alert_id


def test_a_bigger_segment_budget_takes_more_items_whole() -> None:
    bundle = bundle_event("burgemeester", [CAP, SLEPT, BED, FORECAST], limit=segment_limit(2))
    text = sms_text(bundle, segment_limit(2))
    assert "meer" not in text and gsm7_units(text) <= 306
    assert "zonder bed" in text and "netto 9 per dag" in text


def test_critical_ones_come_first_and_a_warning_alone_keeps_its_word() -> None:
    text = sms_text(bundle_event("b", [BED, CAP]))
    assert text.index("2.053") < text.index("zonder bed")
    assert text.startswith("KRITIEK: ")
    warnings = bundle_event("b", [BED, an_alert(alert_id="w2", severity=Severity.WARNING)])
    assert sms_text(warnings).startswith("Waarschuwing: ")


def test_only_resolves_say_opgelost() -> None:
    done = [an_alert(alert_id=a, status=AlertStatus.RESOLVED, summary=f"{a} klaar") for a in "ab"]
    text = sms_text(bundle_event("b", done))
    assert text.startswith("Opgelost: ") and critical_new(bundle_event("b", done)) == ()


@pytest.mark.parametrize("n", [2, 5, 12])
def test_items_are_never_cut_mid_word(n: int) -> None:
    words = "Opvanglocatie " * 6
    members = [an_alert(alert_id=f"a{i}", summary=f"{words}nummer {i} is vol") for i in range(n)]
    text = sms_text(bundle_event("b", members))
    assert gsm7_units(text) <= 160
    assert text.endswith(f"+{n - 1} meer, zie statuspagina")
    body = text.removeprefix("KRITIEK: ").removesuffix(f" +{n - 1} meer, zie statuspagina")
    assert body.endswith("...") or body.endswith("is vol")
    whole = {word for m in members for word in m.summary.split()}
    assert set(body.removesuffix("...").split()) <= whole


def test_the_id_comes_from_the_members_and_the_receiver_only() -> None:
    one = bundle_event("burgemeester", [CAP, SLEPT])
    assert bundle_event("burgemeester", [SLEPT, CAP]).alert_id == one.alert_id
    assert notification_id(bundle_event("burgemeester", [CAP, SLEPT]), "b") == notification_id(
        one, "b"
    )
    assert bundle_event("ander", [CAP, SLEPT]).alert_id != one.alert_id
    newer = an_alert(**{**_fields(SLEPT), "revision": 4})
    assert bundle_event("burgemeester", [CAP, newer]).alert_id != one.alert_id


def _fields(event: AlertEvent) -> dict[str, object]:
    return {k: getattr(event, k) for k in AlertEvent.__dataclass_fields__}


@given(st.lists(st.integers(min_value=0, max_value=7), min_size=2, max_size=8, unique=True))
def test_any_bundle_fits_one_segment(picks: list[int]) -> None:
    pool = [CAP, SLEPT, BED, FORECAST, REGION, REGION_FORECAST]
    members = [an_alert(**{**_fields(pool[i % len(pool)]), "alert_id": f"x{i}"}) for i in picks]
    assert gsm7_units(sms_text(bundle_event("b", members))) <= 160


NEXT = DAY + dt.timedelta(days=1)
#: A critical location in another province than Groningen.
BUDEL = an_alert(
    alert_id="cap_exceeded-budel",
    subject=Subject(SubjectKind.LOCATION, "budel"),
    province="NB",
    municipality_code="GM1706",
    event_date=DAY,
)
NATION = change("national_shortage", "Nederland: 53 tekort", subject=NATIONAL)


@pytest.mark.parametrize(
    ("earlier", "message", "texted"),
    [
        ([], bundle_event("b", [CAP, SLEPT]), True),  # the first of the morning
        # the province's critical alerts restate a critical location of it texted that morning
        ([[CAP, SLEPT]], bundle_event("b", [REGION, REGION_FORECAST]), False),
        ([[BUDEL]], bundle_event("b", [REGION, REGION_FORECAST]), True),  # not its location
        ([[BED]], REGION, True),  # after a warning only: news
        ([[CAP]], NATION, False),  # the nation restates any critical location
        ([[REGION]], NATION, True),  # ...but not a province alone
        ([[CAP]], change("cap_exceeded", "again", revision=2), False),  # told this morning
        ([[CAP]], BED, False),  # a warning after the morning's message
        # a resolve of what was texted as critical this morning is news; of a warning it is not
        ([[CAP]], an_alert(**{**_fields(CAP), "status": AlertStatus.RESOLVED}), True),
        ([[CAP]], an_alert(**{**_fields(BED), "status": AlertStatus.RESOLVED}), False),
        ([[CAP]], change("cap_exceeded", "next day", event_date=NEXT), True),  # a new count
        ([[change("x", "y", event_date=NEXT)]], BED, True),  # the first message about DAY
        ([[CAP], [change("x", "y", event_date=NEXT)]], BED, False),  # a late day: DAY was texted
        ([[CAP], [change("x", "y", event_date=NEXT)]], SLEPT, True),  # ...critical and new
    ],
)
def test_the_morning_rule(
    earlier: list[list[AlertEvent]], message: AlertEvent, texted: bool
) -> None:
    log: MorningLog | None = None
    for members in earlier:
        log, sent = morning_verdict(log, bundle_event("b", members))
        assert sent
    assert morning_verdict(log, message)[1] is texted


def test_fold_keeps_the_log_in_the_ledger_and_is_the_same_when_read_again() -> None:
    ledger, sent = fold(Ledger("b"), bundle_event("b", [CAP, SLEPT]))
    assert sent and ledger.morning is not None
    again = Ledger.from_dict(ledger.to_dict())
    assert again == ledger
    assert fold(again, BED) == (again, False)
    for one, other in itertools.pairwise([FORECAST, BUDEL]):
        after, sent = fold(again, bundle_event("b", [one, other]))
        assert sent and after.morning != again.morning


def test_the_log_keeps_a_week_of_mornings() -> None:
    log: MorningLog | None = None
    for n in range(KEEP_DAYS + 3):
        day = DAY + dt.timedelta(days=n)
        log, sent = morning_verdict(log, change("cap_exceeded", "x", event_date=day))
        assert sent
    assert log is not None and len(log.days) == KEEP_DAYS
    assert log.days[-1].date == DAY + dt.timedelta(days=KEEP_DAYS + 2)


def test_a_bundle_goes_through_when_a_member_always_does() -> None:
    """cap_exceeded goes through quiet hours at any severity: so does its bundle."""
    cap_warning = an_alert(**{**_fields(CAP), "severity": Severity.WARNING})
    assert urgent(bundle_event("b", [cap_warning, BED]))
    assert not urgent(
        bundle_event(
            "b", [BED, an_alert(alert_id="w2", severity=Severity.WARNING, rule="cap_near")]
        )
    )
