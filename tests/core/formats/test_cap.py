"""CAP 1.2 messages and the Atom feed (``alerts.formats.oasis_cap``), checked against the OASIS CAP
1.2 schema.

Events are made by ``alerts.rules.lifecycle.step`` itself, so revisions, ``starts_at`` and
``ends_at`` are what the engine really publishes: each rule fires at warning (CAP ``Alert``), steps
up to critical two days later (``Update``) and clears two days after that (``Cancel``).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import builders
import pytest
from lxml import etree

from alerts.catalogue import RULE_IDS
from alerts.formats.oasis_cap import (
    ATOM_NS,
    CAP_NS,
    atom_feed,
    cap_identifier,
    cap_message,
    cap_sent,
)
from alerts.model import NATIONAL, AlertEvent, AlertStatus, Severity, Subject, SubjectKind
from alerts.rules.lifecycle import AlertState, Finding, event_time, step

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "CAP-v1.2.xsd"
SENDER = "opvangwacht@example.nl"
NAMES = {"GM1950": "Westerwolde"}
NS = {"cap": CAP_NS}
A = {"a": ATOM_NS}
D = dt.date
# CAP 1.2 section 3.3.2: whole seconds and a numeric offset ("Z" is not allowed).
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")

TER_APEL = builders.TER_APEL.subject
GRONINGEN = Subject(SubjectKind.PROVINCE, "GR")

# Every rule with the subject kind(s) it has in the engine.
CASES: list[tuple[str, Subject]] = [
    *(
        (rule, TER_APEL)
        for rule in RULE_IDS
        if rule not in {"region_capacity_low", "national_shortage", "spreiding_shortfall"}
    ),
    ("region_capacity_low", GRONINGEN),
    ("spreiding_shortfall", GRONINGEN),
    ("national_shortage", NATIONAL),
    ("breach_forecast", GRONINGEN),
    ("breach_forecast", NATIONAL),
]


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def finding(rule: str, subject: Subject, *, breached: bool, severity: Severity) -> Finding:
    location = subject.kind is SubjectKind.LOCATION
    return Finding(
        rule=rule,
        subject=subject,
        breached=breached,
        cleared=not breached,
        severity=severity,
        value=2380 if breached else 1990,
        threshold=2000,
        headroom=-380.5 if breached else 10,
        summary=f"Ter Apel: {rule} {'actief' if breached else 'voorbij'} (€ 15.000, één)",
        province="GR" if location else None,
        municipality_code="GM1950" if location else None,
        labels={"target_cycle": "first"} if rule == "spreiding_shortfall" else {},
    )


START = D(2024, 8, 20)


def lifecycle(rule: str, subject: Subject, start: dt.date = START) -> list[AlertEvent]:
    """Alert (warning) on ``start``, Update (critical) two days later, Cancel two days after."""
    days = [
        (start, True, Severity.WARNING),
        (start + dt.timedelta(days=1), True, Severity.WARNING),  # no change, no event
        (start + dt.timedelta(days=2), True, Severity.CRITICAL),
        (start + dt.timedelta(days=4), False, Severity.CRITICAL),
    ]
    state: AlertState | None = None
    events = []
    for date, breached, severity in days:
        state, event = step(
            state, finding(rule, subject, breached=breached, severity=severity), date
        )
        if event is not None:
            events.append(event)
    assert [e.status for e in events] == [
        AlertStatus.FIRING,
        AlertStatus.FIRING,
        AlertStatus.RESOLVED,
    ]
    return events


def messages(
    events: Sequence[AlertEvent], *, exercise: bool = False, web: str | None = None
) -> list[str]:
    """Each event's message, with the events before it as history (as the web view passes)."""
    return [
        cap_message(
            e,
            sender=SENDER,
            history=events[:i],
            exercise=exercise,
            web=web,
            municipality_names=NAMES,
        )
        for i, e in enumerate(events)
    ]


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def validate(schema: etree.XMLSchema, text: str) -> None:
    document = etree.fromstring(text.encode("utf-8"))
    assert schema.validate(document), f"{schema.error_log}\n{text}"


def field(root: ET.Element, path: str) -> str:
    value = root.findtext(path, namespaces=NS)
    assert value is not None, path
    return value


# ---------------------------------------------------------------- the schema itself


def test_the_schema_is_the_oasis_cap_1_2_schema(schema: etree.XMLSchema) -> None:
    root = etree.parse(str(SCHEMA_PATH)).getroot()
    assert root.get("targetNamespace") == CAP_NS
    assert root.get("version") == "1.2"
    assert "Copyright OASIS Open 2010" in SCHEMA_PATH.read_text(encoding="utf-8")


# ---------------------------------------------------------------- every rule validates


@pytest.mark.parametrize(("rule", "subject"), CASES, ids=lambda v: getattr(v, "id", v))
def test_every_rule_alert_update_cancel_validates(
    schema: etree.XMLSchema, rule: str, subject: Subject
) -> None:
    events = lifecycle(rule, subject)
    texts = messages(events)
    for text in [*texts, *messages(events, exercise=True, web="https://opvangwacht.example/a/1")]:
        validate(schema, text)
    roots = [parse(t) for t in texts]
    assert [field(r, "cap:msgType") for r in roots] == ["Alert", "Update", "Cancel"]
    assert {field(r, "cap:status") for r in roots} == {"Actual"}
    assert {field(r, "cap:scope") for r in roots} == {"Public"}
    event_name = field(roots[0], "cap:info/cap:event")
    assert event_name != rule and " " in event_name  # a Dutch name, not the rule id


def test_info_severity_validates_as_minor(schema: etree.XMLSchema) -> None:
    _, event = step(
        None,
        finding("spreiding_shortfall", GRONINGEN, breached=True, severity=Severity.INFO),
        D(2024, 8, 20),
    )
    assert event is not None
    text = cap_message(event, sender=SENDER)
    validate(schema, text)
    assert field(parse(text), "cap:info/cap:severity") == "Minor"


# ---------------------------------------------------------------- the validator can say no


def _ter_apel_alert() -> str:
    return messages(lifecycle("cap_exceeded", TER_APEL))[0]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # status and msgType swapped: wrong element order
        (
            "<status>Actual</status>\n  <msgType>Alert</msgType>",
            "<msgType>Alert</msgType>\n  <status>Actual</status>",
        ),
        ("<severity>Moderate</severity>", "<severity>Critical</severity>"),
        ("<sent>2024-08-20T09:00:00+02:00</sent>", "<sent>2024-08-20T07:00:00Z</sent>"),
        ("<sent>2024-08-20T09:00:00+02:00</sent>", "<sent>2024-08-20T09:00:00.5+02:00</sent>"),
        ("<category>Infra</category>", "<category>Opvang</category>"),
        ("<scope>Public</scope>\n", ""),
    ],
    ids=["order", "severity", "zulu", "fraction", "category", "no-scope"],
)
def test_a_broken_message_fails_validation(schema: etree.XMLSchema, old: str, new: str) -> None:
    good = _ter_apel_alert()
    validate(schema, good)
    assert old in good
    broken = good.replace(old, new, 1)
    assert not schema.validate(etree.fromstring(broken.encode("utf-8")))


# ---------------------------------------------------------------- references and times


def test_references_chain_to_the_earlier_messages_of_the_period() -> None:
    events = lifecycle("cap_exceeded", TER_APEL)
    alert, update, cancel = (parse(t) for t in messages(events))
    assert alert.find("cap:references", NS) is None

    def triple(root: ET.Element) -> str:
        return ",".join(field(root, f"cap:{tag}") for tag in ("sender", "identifier", "sent"))

    assert field(update, "cap:references") == triple(alert)
    assert field(cancel, "cap:references").split(" ") == [triple(alert), triple(update)]
    assert field(alert, "cap:identifier") == f"urn:opvangwacht:{events[0].alert_id}:1"
    assert len({field(r, "cap:identifier") for r in (alert, update, cancel)}) == 3


def test_history_in_any_order_with_noise_gives_the_same_references() -> None:
    earlier_period = lifecycle("cap_exceeded", TER_APEL, start=D(2024, 7, 1))
    # The next period of the same alert continues its revisions (the engine keeps counting).
    offset = earlier_period[-1].revision
    period = [replace(e, revision=e.revision + offset) for e in lifecycle("cap_exceeded", TER_APEL)]
    other = lifecycle("slept_outside", TER_APEL)
    clean = cap_message(period[2], sender=SENDER, history=period[:2])
    noisy = cap_message(
        period[2],
        sender=SENDER,
        history=[period[1], *other, period[2], *reversed(earlier_period), period[0], period[1]],
    )
    assert noisy == clean
    # The first change of a new period is a fresh Alert, whatever came before.
    first = parse(cap_message(period[0], sender=SENDER, history=earlier_period))
    assert field(first, "cap:msgType") == "Alert"
    assert first.find("cap:references", NS) is None


def test_sent_is_the_event_time_never_a_clock() -> None:
    alert, update, cancel = lifecycle("cap_exceeded", TER_APEL)
    assert cap_sent(alert) == alert.starts_at == event_time(alert.event_date)
    assert cap_sent(update) == event_time(update.event_date)  # the day of the step, not the start
    assert cap_sent(cancel) == cancel.ends_at
    for text in messages([alert, update, cancel]):
        root = parse(text)
        assert CAP_TIME.match(field(root, "cap:sent"))
        assert field(root, "cap:info/cap:effective") == field(root, "cap:sent")
        assert field(root, "cap:info/cap:onset") == alert.starts_at


def test_sent_normalises_utc_and_fractions_to_whole_seconds_in_amsterdam() -> None:
    (alert, *_) = lifecycle("cap_exceeded", TER_APEL)
    utc = replace(alert, starts_at="2024-08-20T07:00:00.123456Z")
    assert cap_sent(utc) == "2024-08-20T09:00:00+02:00"
    winter = replace(alert, starts_at="2024-01-10T08:00:00+00:00", event_date=D(2024, 1, 10))
    assert cap_sent(winter) == "2024-01-10T09:00:00+01:00"
    with pytest.raises(ValueError, match="offset"):
        cap_sent(replace(alert, starts_at="2024-08-20T09:00:00"))


def test_same_input_gives_byte_identical_output() -> None:
    # Built twice from scratch: equal events, byte-identical messages.
    assert messages(lifecycle("outside_risk", TER_APEL)) == messages(
        lifecycle("outside_risk", TER_APEL)
    )
    events = [*lifecycle("outside_risk", TER_APEL)[:2], *lifecycle("national_shortage", NATIONAL)]

    def feed(order: Sequence[AlertEvent]) -> str:
        return atom_feed(
            order,
            feed_id="urn:opvangwacht:feed",
            updated="2024-08-24T10:00:00+02:00",
            self_url="https://opvangwacht.example/api/cap/feed",
            cap_url=lambda e: f"https://x/{e.alert_id}",
        )

    assert feed(events) == feed(list(reversed(events)))


# ---------------------------------------------------------------- the Dutch info block


def test_dutch_info_block() -> None:
    alert, update, cancel = lifecycle("slept_outside", TER_APEL)
    root = parse(messages([alert, update, cancel])[0])
    info = root.find("cap:info", NS)
    assert info is not None
    assert field(info, "cap:language") == "nl-NL"
    assert field(info, "cap:event") == "Mensen hebben buiten geslapen"
    assert field(info, "cap:category") == "Safety"
    assert field(info, "cap:headline") == alert.summary
    description = field(info, "cap:description")
    assert description.startswith(alert.summary)
    assert "Buiten geslapen (personen): 2.380; drempel: 2.000; ruimte: -380,5." in description
    assert "Peildatum 20 augustus 2024." in description
    params = {
        field(p, "cap:valueName"): field(p, "cap:value") for p in info.findall("cap:parameter", NS)
    }
    assert params["opvangwacht:waarde"] == "2380"
    assert params["opvangwacht:ruimte"] == "-380.5"
    assert params["opvangwacht:melding"] == alert.alert_id
    code = info.find("cap:eventCode", NS)
    assert code is not None and field(code, "cap:value") == "slept_outside"


def test_non_ascii_survives_as_utf8() -> None:
    text = _ter_apel_alert()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "€ 15.000, één" in field(parse(text), "cap:info/cap:headline")


def test_headline_is_cut_at_160_characters() -> None:
    (alert, *_) = lifecycle("cap_exceeded", TER_APEL)
    long = replace(alert, summary="Ter Apel: " + "heel lang " * 30)
    headline = field(parse(cap_message(long, sender=SENDER)), "cap:info/cap:headline")
    assert len(headline) <= 160 and headline.endswith("…")
    exercise = parse(cap_message(alert, sender=SENDER, exercise=True))
    assert field(exercise, "cap:status") == "Exercise"
    assert field(exercise, "cap:info/cap:headline").startswith("OEFENING: ")
    assert field(exercise, "cap:note").startswith("Oefening")


@pytest.mark.parametrize(
    ("rule", "urgencies", "certainty"),
    [
        ("cap_exceeded", ["Immediate", "Immediate", "Past"], "Observed"),
        ("slept_outside", ["Immediate", "Immediate", "Past"], "Observed"),
        ("outside_risk", ["Immediate", "Immediate", "Past"], "Likely"),
        ("breach_forecast", ["Future", "Expected", "Past"], "Likely"),
        ("report_missing", ["Future", "Expected", "Past"], "Observed"),
    ],
)
def test_urgency_severity_certainty(rule: str, urgencies: list[str], certainty: str) -> None:
    roots = [parse(t) for t in messages(lifecycle(rule, TER_APEL))]
    assert [field(r, "cap:info/cap:urgency") for r in roots] == urgencies
    # warning -> Moderate; critical -> Severe (never Extreme); the Cancel keeps the last severity.
    assert [field(r, "cap:info/cap:severity") for r in roots] == ["Moderate", "Severe", "Severe"]
    assert [field(r, "cap:info/cap:certainty") for r in roots] == [certainty, certainty, "Observed"]
    assert [field(r, "cap:info/cap:responseType") for r in roots] == [
        "Monitor",
        "Prepare",
        "AllClear",
    ]


# ---------------------------------------------------------------- area


def _geocodes(root: ET.Element) -> dict[str, str]:
    return {
        field(g, "cap:valueName"): field(g, "cap:value")
        for g in root.findall("cap:info/cap:area/cap:geocode", NS)
    }


def test_area_of_a_location_a_province_and_the_nation() -> None:
    location = parse(messages(lifecycle("cap_exceeded", TER_APEL))[0])
    assert field(location, "cap:info/cap:area/cap:areaDesc") == (
        "Gemeente Westerwolde, provincie Groningen"
    )
    assert _geocodes(location) == {"CBS-gemeentecode": "GM1950", "CBS-provinciecode": "PV20"}
    unnamed = parse(cap_message(lifecycle("cap_exceeded", TER_APEL)[0], sender=SENDER))
    assert (
        field(unnamed, "cap:info/cap:area/cap:areaDesc") == "Gemeente GM1950, provincie Groningen"
    )

    province = parse(messages(lifecycle("region_capacity_low", GRONINGEN))[0])
    assert field(province, "cap:info/cap:area/cap:areaDesc") == "Provincie Groningen"
    assert _geocodes(province) == {"CBS-provinciecode": "PV20"}

    nation = parse(messages(lifecycle("national_shortage", NATIONAL))[0])
    assert field(nation, "cap:info/cap:area/cap:areaDesc") == "Nederland"
    assert _geocodes(nation) == {"ISO3166-1": "NL"}


def test_sender_and_identifier_must_not_break_references() -> None:
    (alert, *_) = lifecycle("cap_exceeded", TER_APEL)
    for bad in ("", "opvang wacht", "a,b", "a&b", "a<b"):
        with pytest.raises(ValueError, match="sender"):
            cap_message(alert, sender=bad)
    odd = replace(alert, alert_id="cap exceeded,x&y")
    assert cap_identifier(odd) == "urn:opvangwacht:cap%20exceeded%2Cx%26y:1"


# ---------------------------------------------------------------- the Atom feed


def test_atom_feed_lists_active_alerts_once_with_their_newest_change() -> None:
    exceeded = lifecycle("cap_exceeded", TER_APEL)
    outside = lifecycle("slept_outside", TER_APEL, start=D(2024, 8, 21))
    shortage = lifecycle("national_shortage", NATIONAL, start=D(2024, 8, 19))
    # Still firing: ter apel slept_outside (Update, newest) and the national shortage (Alert).
    events = [*exceeded, outside[1], outside[0], shortage[0]]
    text = atom_feed(
        events,
        feed_id="urn:opvangwacht:feed:actief",
        updated="2024-08-24T10:00:00+02:00",
        self_url="https://opvangwacht.example/api/cap/feed.atom",
        cap_url=lambda e: f"https://opvangwacht.example/api/cap/{e.alert_id}",
    )
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    feed = ET.fromstring(text.encode("utf-8"))
    assert feed.tag == f"{{{ATOM_NS}}}feed"
    assert feed.findtext("a:id", namespaces=A) == "urn:opvangwacht:feed:actief"
    assert feed.findtext("a:updated", namespaces=A) == "2024-08-24T10:00:00+02:00"
    assert feed.findtext("a:title", namespaces=A)
    assert feed.findtext("a:author/a:name", namespaces=A) == "opvangwacht"
    self_link = feed.find("a:link[@rel='self']", A)
    assert self_link is not None
    assert self_link.get("href") == "https://opvangwacht.example/api/cap/feed.atom"

    entries = feed.findall("a:entry", A)
    assert [e.findtext("a:id", namespaces=A) for e in entries] == [
        f"urn:opvangwacht:{outside[1].alert_id}",  # newest change first
        f"urn:opvangwacht:{shortage[0].alert_id}",
    ]
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert entry.findtext(f"a:{tag}", namespaces=A), tag
        assert CAP_TIME.match(entry.findtext("a:updated", namespaces=A) or "")
        links = entry.findall("a:link", A)
        assert [(link.get("rel"), link.get("type")) for link in links] == [
            ("alternate", "application/cap+xml")
        ]
    first = entries[0]
    assert first.findtext("a:updated", namespaces=A) == cap_sent(outside[1])
    assert first.findtext("a:title", namespaces=A) == outside[1].summary
    link = first.find("a:link", A)
    assert link is not None
    assert link.get("href") == f"https://opvangwacht.example/api/cap/{outside[1].alert_id}"


def test_atom_feed_with_nothing_active_and_a_bad_time() -> None:
    text = atom_feed(
        lifecycle("cap_exceeded", TER_APEL),
        feed_id="urn:opvangwacht:feed",
        updated="2024-08-24T10:00:00+02:00",
        self_url="https://x/feed",
        cap_url=lambda e: "https://x/cap",
    )
    assert ET.fromstring(text.encode("utf-8")).findall("a:entry", A) == []
    with pytest.raises(ValueError, match="offset"):
        atom_feed(
            [],
            feed_id="urn:opvangwacht:feed",
            updated="2024-08-24T10:00:00",
            self_url="https://x/feed",
            cap_url=lambda e: "https://x/cap",
        )


def test_atom_feed_lists_a_superseded_alert_under_the_one_that_supersedes_it() -> None:
    near = lifecycle("cap_near", TER_APEL)[0]  # a warning since 20 August
    over = lifecycle("cap_exceeded", TER_APEL, start=D(2024, 8, 21))[1]  # critical
    shortage = lifecycle("national_shortage", NATIONAL)[0]

    def feed(superseded: dict[str, list[AlertEvent]] | None) -> list[ET.Element]:
        text = atom_feed(
            [near, over, shortage],
            feed_id="urn:opvangwacht:feed",
            updated="2024-08-24T10:00:00+02:00",
            self_url="https://x/api/cap",
            cap_url=lambda e: f"https://x/api/cap/{e.alert_id}",
            superseded=superseded,
        )
        return ET.fromstring(text.encode("utf-8")).findall("a:entry", A)

    assert len(feed(None)) == 3  # nothing folded: every firing alert has an entry
    entries = feed({over.alert_id: [near]})
    ids = [e.findtext("a:id", namespaces=A) for e in entries]
    assert f"urn:opvangwacht:{near.alert_id}" not in ids and len(ids) == 2
    (entry,) = [e for e in entries if e.findtext("a:id", namespaces=A).endswith(over.alert_id)]
    related = entry.findall("a:link[@rel='related']", A)
    assert [(r.get("type"), r.get("href")) for r in related] == [
        ("application/cap+xml", f"https://x/api/cap/{near.alert_id}")
    ]
    summary = entry.findtext("a:summary", namespaces=A) or ""
    assert summary.endswith(
        "; omvat ook Bezetting dicht bij de grens (Moderate, sinds 20 augustus 2024)"
    ), summary
    # The CAP messages themselves do not depend on the fold: one message per change.
    assert "omvat" not in cap_message(over, sender=SENDER)
