"""Who hears about an alert, and when: ``alerts.dispatch`` (route tree, audiences, silences,
inhibition, quiet hours in Europe/Amsterdam, SMS budgets and the routing configuration)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from builders import PLACES, an_alert
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.catalogue import ALWAYS_THROUGH
from alerts.delivery.ledger import Ledger, delivered
from alerts.dispatch.admit import counts_against_budget, pace
from alerts.dispatch.config import Budget, QuietHours, RoutingConfig, parse_routing
from alerts.dispatch.decision import Action, Decision
from alerts.dispatch.dispatcher import targets
from alerts.dispatch.inhibit import InhibitRule
from alerts.dispatch.matchers import Matcher, alert_labels, parse_matchers
from alerts.dispatch.route import Audience, Route
from alerts.dispatch.silence import Silence, parse_silence
from alerts.errors import ConfigError
from alerts.model import AlertEvent, AlertStatus, Severity

FIRING, RESOLVED = AlertStatus.FIRING, AlertStatus.RESOLVED
INFO, WARNING, CRITICAL = Severity.INFO, Severity.WARNING, Severity.CRITICAL


def decide(
    event: AlertEvent,
    config: RoutingConfig,
    now: dt.datetime,
    *,
    firing: Iterable[Mapping[str, str]] = (),
    sent: Mapping[str, Sequence[dt.datetime]] | None = None,
    extra_silences: Iterable[Silence] = (),
) -> list[Decision]:
    """Every stage for every receiver, as a test wants to see it: routing, silences and
    inhibition (``targets``), then quiet hours and budgets (``pace``, which the worker applies
    when it delivers)."""
    sent = sent or {}
    return [
        pace(event, d.receiver, config, now, sent.get(d.receiver, ()))
        if d.action is Action.SEND
        else d
        for d in targets(event, config, now, firing=firing, extra_silences=extra_silences)
    ]


def event(
    rule: str = "cap_near",
    where: str = "ter-apel",
    severity: Severity = WARNING,
    status: AlertStatus = FIRING,
    labels: dict[str, str] | None = None,
) -> AlertEvent:
    subject, province, municipality = PLACES[where]
    return an_alert(
        alert_id=f"{rule}-{subject.id}",
        rule=rule,
        status=status,
        severity=severity,
        subject=subject,
        province=province,
        municipality_code=municipality,
        value=1990,
        threshold=2000,
        summary=f"{rule} at {subject.id}",
        starts_at="2024-11-27T09:00:00+01:00",
        ends_at=None if status is FIRING else "2024-11-28T09:00:00+01:00",
        event_date=dt.date(2024, 11, 27),
        revision=1 if status is FIRING else 2,
        labels=labels or {},
    )


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


NOON = at("2024-11-27T12:00:00+01:00")


def actions(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.receiver, d.action.value) for d in decisions]


def receivers(decisions: list[Decision]) -> list[str]:
    return [d.receiver for d in decisions]


# Receiver bodies as parse_receivers sees them; parse_routing reads only the routing keys.
RECEIVERS: dict[str, dict[str, Any]] = {
    "coa-ops": {"webhook": {"url": "https://ops.example.nl/hook"}},
    "ministerie": {"pagerduty": {"routing_key_env": "PAGERDUTY_ROUTING_KEY"}},
    "groningen": {"webhook": {"url": "https://gr.example.nl/hook"}},
    "groningen-sms": {"sms": {"provider": "cm"}},
    "zuid": {"webhook": {"url": "https://zuid.example.nl/hook"}},
    "landelijk": {"webhook": {"url": "https://nl.example.nl/hook"}},
    "burgemeester-westerwolde": {"sms": {"provider": "cm"}, "municipality_code": "GM1950"},
    "provincie-groningen": {"webhook": {"url": "https://prov.example.nl/hook"}, "province": "GR"},
    "burgemeester-cranendonck": {
        "sms": {"provider": "cm"},
        "municipality_code": "GM1706",
        "province": "NB",
    },
}


# --------------------------------------------------------------------------- labels and matchers


def test_alert_labels_of_a_location_alert() -> None:
    assert alert_labels(event("cap_near", "ter-apel", labels={"team": "noord"})) == {
        "rule": "cap_near",
        "alertname": "cap_near",
        "severity": "warning",
        "status": "firing",
        "subject_kind": "location",
        "subject_id": "ter-apel",
        "alert_id": "cap_near-ter-apel",
        "province": "GR",
        "municipality_code": "GM1950",
        "location_id": "ter-apel",
        "team": "noord",
    }


def test_alert_labels_of_a_national_alert_have_empty_places_and_no_location() -> None:
    assert alert_labels(event("national_shortage", "NL", CRITICAL, RESOLVED)) == {
        "rule": "national_shortage",
        "alertname": "national_shortage",
        "severity": "critical",
        "status": "resolved",
        "subject_kind": "national",
        "subject_id": "NL",
        "alert_id": "national_shortage-NL",
        "province": "",
        "municipality_code": "",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, (), id="none"),
        pytest.param({}, (), id="empty-mapping"),
        pytest.param(
            {"severity": "critical", "province": "GR"},
            (Matcher("severity", "critical"), Matcher("province", "GR")),
            id="mapping-is-equality",
        ),
        pytest.param(['severity="critical"'], (Matcher("severity", "critical"),), id="quoted"),
        pytest.param(["province = GR"], (Matcher("province", "GR"),), id="spaces-unquoted"),
        pytest.param(
            ['rule!="report_missing"'],
            (Matcher("rule", "report_missing", negate=True),),
            id="not-equal",
        ),
        pytest.param(['rule=~"cap_.*"'], (Matcher("rule", "cap_.*", regex=True),), id="regex"),
        pytest.param(
            ['subject_kind !~ "loc.*"'],
            (Matcher("subject_kind", "loc.*", regex=True, negate=True),),
            id="negated-regex",
        ),
    ],
)
def test_parse_matchers(raw: Any, expected: tuple[Matcher, ...]) -> None:
    assert parse_matchers(raw, "here") == expected


@pytest.mark.parametrize(
    ("matcher", "value", "expected"),
    [
        pytest.param(Matcher("rule", "cap_near"), "cap_near", True, id="eq-hit"),
        pytest.param(Matcher("rule", "cap_near"), "cap_exceeded", False, id="eq-miss"),
        pytest.param(Matcher("rule", "cap_.*", regex=True), "cap_near", True, id="re-hit"),
        pytest.param(Matcher("rule", "cap", regex=True), "cap_near", False, id="re-anchored"),
        pytest.param(Matcher("rule", "near", regex=True), "cap_near", False, id="re-no-search"),
        pytest.param(Matcher("province", "GR", negate=True), "NB", True, id="ne-hit"),
        pytest.param(Matcher("province", "GR", negate=True), "GR", False, id="ne-miss"),
        pytest.param(
            Matcher("province", "GR|DR", regex=True, negate=True), "DR", False, id="nre-miss"
        ),
        pytest.param(
            Matcher("province", "GR|DR", regex=True, negate=True), "NB", True, id="nre-hit"
        ),
        pytest.param(Matcher("team", ""), None, True, id="absent-label-is-empty"),
        pytest.param(Matcher("team", "noord", negate=True), None, True, id="absent-ne"),
    ],
)
def test_matcher_matches(matcher: Matcher, value: str | None, expected: bool) -> None:
    labels = {} if value is None else {matcher.label: value}
    assert matcher.matches(labels) is expected


# --------------------------------------------------------------------------- matcher limits, RE2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(['a=""'], (Matcher("a", ""),), id="empty-quoted"),
        pytest.param(['a="x'], (Matcher("a", "x"),), id="only-a-leading-quote"),
        pytest.param(["a=x y  "], (Matcher("a", "x y"),), id="inner-space-kept"),
        pytest.param(["a==b"], (Matcher("a", "=b"),), id="value-starting-with-an-operator"),
        pytest.param(['a = " x "'], (Matcher("a", " x "),), id="spaces-inside-quotes-kept"),
        pytest.param({"code": 1950}, (Matcher("code", "1950"),), id="yaml-number"),
    ],
)
def test_parse_matchers_reads_what_the_old_pattern_read(
    raw: Any, expected: tuple[Matcher, ...]
) -> None:
    assert parse_matchers(raw, "here") == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(["=x"], "cannot read matcher", id="no-label"),
        pytest.param(["a"], "cannot read matcher", id="no-operator"),
        pytest.param([5], "a matcher is a string", id="not-a-string"),
        pytest.param({"a": ["b"]}, "text value", id="mapping-to-a-list"),
        pytest.param("rule=x", "mapping or a list", id="a-bare-string"),
        pytest.param(["a=" + "x" * 1001], "at most 1000 characters", id="value-too-long"),
        pytest.param({"a": "x" * 1001}, "at most 1000 characters", id="mapped-value-too-long"),
        pytest.param({"a" * 101: "x"}, "at most 100 characters", id="label-too-long"),
        pytest.param([f"a{i}=x" for i in range(65)], "at most 64 matchers", id="too-many"),
        pytest.param(
            ['a=~"(?=x)"'],
            "bad regular expression '(?=x)' (RE2: invalid perl operator: (?=)",
            id="lookahead",
        ),
        pytest.param([r'a=~"(\w)\1"'], "(RE2: invalid escape sequence", id="backreference"),
        pytest.param(['a=~"(x"'], "(RE2: missing ): (x)", id="unbalanced"),
    ],
)
def test_matchers_refused_with_a_one_line_reason(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        parse_matchers(raw, "silence.matchers")
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith("silence.matchers: ")


def test_a_20000_character_matcher_is_refused_at_once() -> None:
    """It took 4 s to read before: the pattern's lazy value and trailing spaces backtracked over
    every run of spaces, quadratically."""
    for text in ("a=x" + " " * 20_000 + "y", 'a="' + "x" * 20_000 + '"'):
        started = time.perf_counter()
        with pytest.raises(ConfigError, match="at most 1000 characters"):
            parse_matchers([text], "here")
        assert time.perf_counter() - started < 0.05


def test_reading_a_matcher_is_linear_in_its_length() -> None:
    """Within the limit, a value full of spaces (the old quadratic case) reads as fast as any."""
    text = "a=x" + " " * 990 + "y"
    started = time.perf_counter()
    for _ in range(200):
        assert parse_matchers([text], "here") == (Matcher("a", "x" + " " * 990 + "y"),)
    assert time.perf_counter() - started < 0.5


def test_a_backtracking_pattern_matches_in_linear_time() -> None:
    """(a|a)*b left /health unanswered for 16 s with Python's re; RE2 needs no backtracking."""
    (matcher,) = parse_matchers(['location_id=~"(a|a)*b"'], "here")
    started = time.perf_counter()
    assert not matcher.matches({"location_id": "a" * 100_000})
    assert matcher.matches({"location_id": "a" * 1000 + "b"})
    assert time.perf_counter() - started < 0.5


def test_a_regex_matcher_takes_a_label_with_a_lone_surrogate() -> None:
    (matcher,) = parse_matchers(['location_id=~"ter-.*"'], "here")
    assert matcher.matches({"location_id": "ter-\ud800"})
    assert not matcher.matches({"location_id": "\ud800"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"author": "x" * 1001}, "at most 1000 characters", id="long-author"),
        pytest.param({"comment": {"a": 1}}, "author and comment are text", id="comment-object"),
        pytest.param({"starts_at": 5}, "not an RFC 3339 time", id="time-number"),
        pytest.param({"ends_at": "2" * 10_000}, "not an RFC 3339 time", id="time-huge"),
        pytest.param({"matchers": "rule=x"}, "mapping or a list", id="matchers-a-string"),
    ],
)
def test_silence_fields_of_the_wrong_kind_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_silence({**WINTER_NIGHT, **change}, "api-1")


def test_a_silence_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigError, match="a silence is a mapping"):
        parse_silence(["rule=x"], "api-1")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- route tree

TREE = parse_routing(
    {
        "route": {
            "receiver": "coa-ops",
            "routes": [
                {"matchers": ['severity="critical"'], "receiver": "ministerie", "continue": True},
                {
                    "match": {"province": "GR"},
                    "receiver": "groningen",
                    "routes": [
                        {"matchers": ['rule=~"cap_.*"'], "receiver": "groningen-sms"},
                        {"matchers": ['subject_kind="province"']},  # inherits "groningen"
                    ],
                },
                {"matchers": ['province=~"NB|LB"'], "receiver": "zuid"},
                {
                    "matchers": ['rule!="report_missing"', 'subject_kind!~"loc.*"'],
                    "receiver": "landelijk",
                },
            ],
        }
    },
    {name: {} for name in RECEIVERS},
)


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        pytest.param(
            event("cap_near", "ter-apel"), ["groningen-sms"], id="deepest-first-match-wins"
        ),
        pytest.param(
            event("cap_near", "ter-apel", CRITICAL),
            ["ministerie", "groningen-sms"],
            id="continue-lets-later-siblings-match",
        ),
        pytest.param(
            event("without_bed", "ter-apel"),
            ["groningen"],
            id="no-child-matches-parent-receiver",
        ),
        pytest.param(
            event("region_capacity_low", "GR"),
            ["groningen"],
            id="child-without-receiver-inherits-parent",
        ),
        pytest.param(event("cap_near", "budel"), ["zuid"], id="regex-alternation"),
        pytest.param(
            event("national_shortage", "NL"), ["landelijk"], id="negated-matchers-all-match"
        ),
        pytest.param(
            event("cap_near", "utrecht"), ["coa-ops"], id="negated-regex-excludes-location"
        ),
        pytest.param(
            event("report_missing", "NL"), ["coa-ops"], id="nothing-matches-root-receiver"
        ),
        pytest.param(
            event("report_missing", "utrecht", CRITICAL),
            ["ministerie"],
            id="a-continue-match-still-replaces-root",
        ),
        pytest.param(
            event("cap_near", "budel", CRITICAL), ["ministerie", "zuid"], id="continue-then-regex"
        ),
    ],
)
def test_route_tree(alert: AlertEvent, expected: list[str]) -> None:
    assert receivers(decide(alert, TREE, NOON)) == expected
    assert all(d.action is Action.SEND for d in decide(alert, TREE, NOON))


def test_first_matching_child_stops_the_walk_without_continue() -> None:
    route = Route(
        receiver="coa-ops",
        routes=(
            Route("groningen", (Matcher("province", "GR"),)),
            Route("groningen-sms", (Matcher("province", "GR"),)),
            Route("zuid", (Matcher("province", "GR"),), continue_=True),
        ),
    )
    assert route.receivers_for(alert_labels(event())) == ["groningen"]


def test_continue_on_every_child_collects_all_matches_in_order() -> None:
    route = Route(
        receiver="coa-ops",
        routes=(
            Route("zuid", (Matcher("province", "NB"),), continue_=True),
            Route("groningen", (Matcher("province", "GR"),), continue_=True),
            Route("landelijk", (), continue_=True),
            Route("groningen-sms", (Matcher("rule", "cap_near"),)),
            Route("ministerie", ()),
        ),
    )
    assert route.receivers_for(alert_labels(event())) == [
        "groningen",
        "landelijk",
        "groningen-sms",
    ]


def test_receiver_is_inherited_through_several_levels() -> None:
    route = Route(
        receiver="coa-ops",
        routes=(
            Route(
                "groningen",
                (Matcher("province", "GR"),),
                routes=(Route(None, (), routes=(Route(None, (Matcher("rule", "cap_near"),)),)),),
            ),
        ),
    )
    assert route.receivers_for(alert_labels(event())) == ["groningen"]


def test_a_tree_without_any_receiver_yields_nobody() -> None:
    assert (
        Route(routes=(Route(None, (Matcher("province", "GR"),)),)).receivers_for(
            alert_labels(event())
        )
        == []
    )
    assert decide(event(), RoutingConfig(), NOON) == []


# --------------------------------------------------------------------------- audiences

# The operations centre is the root and a catch-all first child (so it also hears what the
# ministry route takes); ministry on-call has a route on severity=critical; mayors and the
# province are audiences.
CONFIG = parse_routing(
    {
        "route": {
            "receiver": "coa-ops",
            "routes": [
                {"receiver": "coa-ops", "continue": True},
                {"matchers": ['severity="critical"'], "receiver": "ministerie"},
            ],
        }
    },
    RECEIVERS,
)


def test_audiences_come_from_the_receivers() -> None:
    assert CONFIG.audiences == (
        Audience("burgemeester-westerwolde", "GM1950", None),
        Audience("provincie-groningen", None, "GR"),
        Audience("burgemeester-cranendonck", "GM1706", "NB"),
    )


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        pytest.param(
            event("cap_near", "ter-apel"),
            ["coa-ops", "burgemeester-westerwolde"],
            id="mayor-hears-location-in-municipality",
        ),
        pytest.param(
            event("cap_near", "zoutkamp"),
            ["coa-ops"],
            id="other-municipality-same-province-not-mayor-nor-province",
        ),
        pytest.param(
            event("region_capacity_low", "GR"),
            ["coa-ops", "provincie-groningen"],
            id="province-alert-to-province-not-mayor-without-province",
        ),
        pytest.param(
            event("region_capacity_low", "NB"),
            ["coa-ops", "burgemeester-cranendonck"],
            id="mayor-with-province-hears-its-province",
        ),
        pytest.param(
            event("cap_near", "budel", CRITICAL),
            ["coa-ops", "ministerie", "burgemeester-cranendonck"],
            id="critical-to-ministry-too",
        ),
        pytest.param(
            event("national_shortage", "NL", CRITICAL),
            ["coa-ops", "ministerie"],
            id="national-critical",
        ),
        pytest.param(event("national_shortage", "NL"), ["coa-ops"], id="national-warning"),
        pytest.param(
            event("cap_near", "ter-apel", INFO, RESOLVED),
            ["coa-ops", "burgemeester-westerwolde"],
            id="resolved-info-reaches-the-same-people",
        ),
    ],
)
def test_geographic_audiences(alert: AlertEvent, expected: list[str]) -> None:
    assert actions(decide(alert, CONFIG, NOON)) == [(name, "send") for name in expected]


@pytest.mark.parametrize(
    ("audience", "where", "hears"),
    [
        pytest.param(Audience("m", "GM1950"), "ter-apel", True, id="gm1950-ter-apel"),
        pytest.param(Audience("m", "GM1950"), "zoutkamp", False, id="gm1950-zoutkamp"),
        pytest.param(Audience("m", "GM1950"), "GR", False, id="gm1950-gr-province"),
        pytest.param(Audience("m", "GM1950", "GR"), "GR", True, id="gm1950+gr-gr-province"),
        pytest.param(Audience("m", "GM1950", "GR"), "NB", False, id="gm1950+gr-nb-province"),
        pytest.param(Audience("m", "GM1950", "GR"), "zoutkamp", False, id="gm1950+gr-zoutkamp"),
        pytest.param(Audience("m", "GM1950", "GR"), "NL", False, id="gm1950+gr-national"),
        pytest.param(Audience("p", None, "GR"), "GR", True, id="gr-gr-province"),
        pytest.param(Audience("p", None, "GR"), "NB", False, id="gr-nb-province"),
        pytest.param(Audience("p", None, "GR"), "ter-apel", False, id="gr-location-in-gr"),
        pytest.param(Audience("p", None, "GR"), "NL", False, id="gr-national"),
        pytest.param(Audience("m", "GM1706"), "budel", True, id="gm1706-budel"),
        pytest.param(Audience("m", "GM1706"), "ter-apel", False, id="gm1706-ter-apel"),
    ],
)
def test_audience_includes(audience: Audience, where: str, hears: bool) -> None:
    config = RoutingConfig(audiences=(audience,))
    expected = [audience.receiver] if hears else []
    assert receivers(decide(event("cap_near", where), config, NOON)) == expected


def test_audience_already_routed_is_listed_once_in_route_position() -> None:
    config = RoutingConfig(
        route=Route("burgemeester-westerwolde"),
        audiences=(Audience("coa-ops", None, "GR"), Audience("burgemeester-westerwolde", "GM1950")),
    )
    assert receivers(decide(event("cap_near", "ter-apel"), config, NOON)) == [
        "burgemeester-westerwolde"
    ]
    assert receivers(decide(event("region_capacity_low", "GR"), config, NOON)) == [
        "burgemeester-westerwolde",
        "coa-ops",
    ]


@pytest.mark.parametrize("where", ["ter-apel", "zoutkamp", "budel", "utrecht", "GR", "NB", "NL"])
@pytest.mark.parametrize("severity", [INFO, WARNING, CRITICAL])
def test_operations_centre_at_the_root_hears_everything(where: str, severity: Severity) -> None:
    config = parse_routing(
        {"route": {"receiver": "coa-ops"}},
        {
            "coa-ops": {},
            "burgemeester-westerwolde": {"municipality_code": "GM1950"},
            "provincie-groningen": {"province": "GR"},
        },
    )
    names = receivers(decide(event("cap_near", where, severity), config, NOON))
    assert names[0] == "coa-ops"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (INFO, ["coa-ops"]),
        (WARNING, ["coa-ops"]),
        (CRITICAL, ["ministerie"]),
    ],
)
def test_root_receiver_is_only_the_fallback_when_a_route_matches(
    severity: Severity, expected: list[str]
) -> None:
    """Alertmanager's walk: without a catch-all ``continue`` child the root does not hear what
    the ministry route takes."""
    config = parse_routing(
        {
            "route": {
                "receiver": "coa-ops",
                "routes": [{"matchers": ['severity="critical"'], "receiver": "ministerie"}],
            }
        },
        {"coa-ops": {}, "ministerie": {}},
    )
    assert receivers(decide(event("cap_near", "NL", severity), config, NOON)) == expected


@pytest.mark.parametrize("where", ["ter-apel", "GR", "NL"])
@pytest.mark.parametrize("route", [None, "absent"])
def test_a_single_receiver_without_a_route_hears_everything(where: str, route: str | None) -> None:
    raw: dict[str, Any] = {} if route == "absent" else {"route": None}
    config = parse_routing(raw, {"coa-ops": {"webhook": {"url": "https://x.example.nl"}}})
    assert config.route == Route(routes=(Route(receiver="coa-ops", continue_=True),))
    assert actions(decide(event("cap_near", where), config, NOON)) == [("coa-ops", "send")]


def test_without_a_route_receivers_without_an_area_hear_everything() -> None:
    config = parse_routing(
        {},
        {
            "coa-ops": {},
            "ministerie": {},
            "burgemeester-westerwolde": {"municipality_code": "GM1950"},
        },
    )
    assert receivers(decide(event("cap_near", "ter-apel"), config, NOON)) == [
        "coa-ops",
        "ministerie",
        "burgemeester-westerwolde",
    ]
    assert receivers(decide(event("cap_near", "budel"), config, NOON)) == ["coa-ops", "ministerie"]


# --------------------------------------------------------------------------- silences

WINTER_NIGHT = {
    "matchers": ['location_id="ter-apel"', 'rule=~"cap_.*"'],
    "starts_at": "2024-11-27T22:00:00+01:00",
    "ends_at": "2024-11-28T08:00:00+01:00",
    "author": "J. Jansen",
    "comment": "extra beds are being placed tonight",
}


@pytest.mark.parametrize(
    ("now", "alert", "silenced"),
    [
        pytest.param("2024-11-27T21:59:59+01:00", event(), False, id="before-start"),
        pytest.param("2024-11-27T22:00:00+01:00", event(), True, id="start-inclusive"),
        pytest.param("2024-11-27T21:00:00+00:00", event(), True, id="start-in-utc"),
        pytest.param("2024-11-28T07:59:59.999999+01:00", event(), True, id="just-before-end"),
        pytest.param("2024-11-28T08:00:00+01:00", event(), False, id="end-exclusive"),
        pytest.param("2024-11-29T03:00:00+01:00", event(), False, id="expired"),
        pytest.param("2024-11-20T23:00:00+01:00", event(), False, id="future"),
        pytest.param(
            "2024-11-27T23:00:00+01:00", event("cap_exceeded", severity=CRITICAL), True, id="regex"
        ),
        pytest.param(
            "2024-11-27T23:00:00+01:00", event("without_bed"), False, id="one-matcher-misses"
        ),
        pytest.param(
            "2024-11-27T23:00:00+01:00", event("cap_near", "zoutkamp"), False, id="other-place"
        ),
        pytest.param(
            "2024-11-27T23:00:00+01:00", event("cap_near", "GR"), False, id="no-location-id"
        ),
    ],
)
@pytest.mark.parametrize("source", ["config", "extra"])
def test_silence_window_and_matchers(
    now: str, alert: AlertEvent, silenced: bool, source: str
) -> None:
    receivers_ = {"coa-ops": {}, "burgemeester-westerwolde": {"municipality_code": "GM1950"}}
    if source == "config":
        config = parse_routing(
            {"route": {"receiver": "coa-ops"}, "silences": [WINTER_NIGHT]}, receivers_
        )
        extra: tuple[Silence, ...] = ()
        silence_id = "config-0"
    else:
        config = parse_routing({"route": {"receiver": "coa-ops"}}, receivers_)
        extra = (parse_silence(WINTER_NIGHT, "api-7"),)
        silence_id = "api-7"
    decisions = decide(alert, config, at(now), extra_silences=extra)
    names = receivers(decisions)
    if silenced:
        reason = f"silence {silence_id} by J. Jansen: extra beds are being placed tonight"
        assert decisions == [Decision(n, Action.SILENCED, reason) for n in names]
        assert names[0] == "coa-ops"
    else:
        assert {d.action for d in decisions} == {Action.SEND}


def test_parse_silence_reads_rfc3339_and_matchers() -> None:
    silence = parse_silence(
        {
            "matchers": {"province": "GR"},
            "starts_at": "2024-11-27T21:00:00Z",
            "ends_at": dt.datetime(2024, 11, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "author": "  J. Jansen ",
            "comment": "onderhoud",
        },
        "api-1",
    )
    assert silence.to_dict() == {
        "silence_id": "api-1",
        "matchers": [{"label": "province", "value": "GR", "regex": False, "negate": False}],
        "starts_at": "2024-11-27T21:00:00+00:00",
        "ends_at": "2024-11-28T08:00:00+01:00",
        "author": "J. Jansen",
        "comment": "onderhoud",
    }


def test_config_and_extra_silences_both_apply_first_active_one_gives_the_reason() -> None:
    expired = dict(WINTER_NIGHT, ends_at="2024-11-27T23:00:00+01:00")
    config = parse_routing(
        {"route": {"receiver": "coa-ops"}, "silences": [expired, WINTER_NIGHT]}, {"coa-ops": {}}
    )
    api = parse_silence(
        dict(WINTER_NIGHT, author="ops", comment="api", matchers=['severity="warning"']), "api-1"
    )
    now = at("2024-11-28T01:00:00+01:00")
    assert decide(event(), config, now, extra_silences=[api]) == [
        Decision(
            "coa-ops",
            Action.SILENCED,
            "silence config-1 by J. Jansen: extra beds are being placed tonight",
        )
    ]
    only_api = parse_routing(
        {"route": {"receiver": "coa-ops"}, "silences": [expired]}, {"coa-ops": {}}
    )
    assert decide(event(), only_api, now, extra_silences=[api]) == [
        Decision("coa-ops", Action.SILENCED, "silence api-1 by ops: api")
    ]
    assert actions(decide(event(), only_api, now)) == [("coa-ops", "send")]


def test_silence_wins_over_inhibition_quiet_hours_and_budget() -> None:
    config = RoutingConfig(
        route=Route("sms"),
        silences=(parse_silence(WINTER_NIGHT, "s1"),),
        inhibit_rules=(
            InhibitRule((Matcher("rule", "cap_exceeded"),), (Matcher("rule", "cap_near"),)),
        ),
        quiet_hours={"sms": QuietHours(dt.time(22), dt.time(7))},
        budgets={"sms": Budget(per_hour=0, per_day=0)},
    )
    decisions = decide(
        event(),
        config,
        at("2024-11-27T23:00:00+01:00"),
        firing=[alert_labels(event("cap_exceeded"))],
    )
    assert actions(decisions) == [("sms", "silenced")]


# --------------------------------------------------------------------------- inhibition

# A location over its cap says more than "near the cap" or "people without a bed" there.
CAP_INHIBITS = InhibitRule(
    source=(Matcher("rule", "cap_exceeded"),),
    target=(Matcher("rule", "cap_near|without_bed", regex=True),),
    equal=("location_id",),
)


@pytest.mark.parametrize(
    ("alert", "firing", "expected"),
    [
        pytest.param(event("cap_near"), [event("cap_exceeded")], "inhibited", id="same-location"),
        pytest.param(event("without_bed"), [event("cap_exceeded")], "inhibited", id="regex-target"),
        pytest.param(
            event("cap_near"),
            [event("slept_outside"), event("cap_exceeded")],
            "inhibited",
            id="any-firing-source",
        ),
        pytest.param(
            event("cap_near"), [event("cap_exceeded", "budel")], "send", id="equal-label-differs"
        ),
        pytest.param(event("cap_near"), [], "send", id="nothing-firing"),
        pytest.param(
            event("cap_near"), [event("slept_outside")], "send", id="source-does-not-match"
        ),
        pytest.param(
            event("cap_near", status=RESOLVED),
            [event("cap_exceeded")],
            "send",
            id="resolved-never-inhibited",
        ),
        pytest.param(
            event("cap_exceeded"), [event("cap_exceeded")], "send", id="source-not-a-target"
        ),
        pytest.param(
            event("slept_outside"), [event("cap_exceeded")], "send", id="target-does-not-match"
        ),
    ],
)
def test_inhibition(alert: AlertEvent, firing: list[AlertEvent], expected: str) -> None:
    config = RoutingConfig(route=Route("coa-ops"), inhibit_rules=(CAP_INHIBITS,))
    decisions = decide(alert, config, NOON, firing=[alert_labels(e) for e in firing])
    assert actions(decisions) == [("coa-ops", expected)]
    if expected == "inhibited":
        assert decisions[0].reason == "inhibited by a firing alert"


def test_equal_labels_absent_on_both_sides_count_as_equal() -> None:
    rule = InhibitRule(
        (Matcher("rule", "national_shortage"),), (Matcher("rule", "cap_near"),), ("team",)
    )
    config = RoutingConfig(route=Route("coa-ops"), inhibit_rules=(rule,))
    firing = [alert_labels(event("national_shortage", "NL"))]
    assert actions(decide(event("cap_near"), config, NOON, firing=firing)) == [
        ("coa-ops", "inhibited")
    ]
    firing = [alert_labels(event("national_shortage", "NL", labels={"team": "zuid"}))]
    assert actions(decide(event("cap_near"), config, NOON, firing=firing)) == [("coa-ops", "send")]


def test_an_alert_matching_both_sides_does_not_inhibit_itself() -> None:
    rule = InhibitRule(
        (Matcher("severity", "warning|critical", regex=True),),
        (Matcher("severity", "warning"),),
        ("location_id",),
    )
    config = RoutingConfig(route=Route("coa-ops"), inhibit_rules=(rule,))
    alert = event("cap_near", "ter-apel", WARNING)
    assert actions(decide(alert, config, NOON, firing=[alert_labels(alert)])) == [
        ("coa-ops", "send")
    ]


def test_inhibition_from_config_with_every_receiver_inhibited() -> None:
    config = parse_routing(
        {
            "route": {"receiver": "coa-ops"},
            "inhibit_rules": [
                {
                    "source_matchers": ['rule="cap_exceeded"'],
                    "target_matchers": {"rule": "cap_near"},
                    "equal": ["location_id"],
                }
            ],
        },
        {"coa-ops": {}, "burgemeester-westerwolde": {"municipality_code": "GM1950"}},
    )
    assert config.inhibit_rules == (
        InhibitRule(
            (Matcher("rule", "cap_exceeded"),), (Matcher("rule", "cap_near"),), ("location_id",)
        ),
    )
    decisions = decide(
        event("cap_near"), config, NOON, firing=iter([alert_labels(event("cap_exceeded"))])
    )
    assert actions(decisions) == [
        ("coa-ops", "inhibited"),
        ("burgemeester-westerwolde", "inhibited"),
    ]


def test_an_alert_of_the_same_rule_about_another_subject_can_inhibit() -> None:
    rule = InhibitRule(
        (Matcher("subject_kind", "province"),),
        (Matcher("subject_kind", "location"),),
        ("rule", "province"),
    )
    config = RoutingConfig(route=Route("coa-ops"), inhibit_rules=(rule,))
    firing = [alert_labels(event("breach_forecast", "GR"))]
    assert actions(decide(event("breach_forecast", "ter-apel"), config, NOON, firing=firing)) == [
        ("coa-ops", "inhibited")
    ]


def test_inhibit_equal_as_a_string_is_not_split_into_characters() -> None:
    raw = {
        "route": {"receiver": "coa-ops"},
        "inhibit_rules": [
            {
                "source_matchers": ['subject_kind="province"'],
                "target_matchers": ['subject_kind="location"'],
                "equal": "province",
            }
        ],
    }
    try:
        config = parse_routing(raw, {"coa-ops": {}})
    except ConfigError as exc:
        assert "inhibit_rules[0].equal" in str(exc)
    else:
        assert config.inhibit_rules[0].equal == ("province",)


# --------------------------------------------------------------------------- quiet hours

QUIET = parse_routing(
    {"route": {"receiver": "burgemeester"}},
    {"burgemeester": {"sms": {}, "quiet_hours": {"start": "22:00", "end": "07:00"}}},
)


def test_quiet_hours_from_the_receiver() -> None:
    assert QUIET.quiet_hours == {"burgemeester": QuietHours(dt.time(22, 0), dt.time(7, 0))}


@pytest.mark.parametrize(
    ("now", "release_at"),
    [
        pytest.param("2024-11-27T21:59:59+01:00", None, id="before-start"),
        pytest.param("2024-11-27T22:00:00+01:00", "2024-11-28T07:00:00+01:00", id="start"),
        pytest.param("2024-11-27T23:30:00+01:00", "2024-11-28T07:00:00+01:00", id="23:30-cet"),
        pytest.param("2024-11-27T22:30:00+00:00", "2024-11-28T07:00:00+01:00", id="23:30-as-utc"),
        pytest.param("2024-11-28T00:30:00+01:00", "2024-11-28T07:00:00+01:00", id="after-midnight"),
        pytest.param("2024-07-02T06:59:00+02:00", "2024-07-02T07:00:00+02:00", id="06:59-cest"),
        pytest.param("2024-07-02T04:59:00+00:00", "2024-07-02T07:00:00+02:00", id="06:59-as-utc"),
        pytest.param("2024-07-02T07:00:00+02:00", None, id="07:00-cest"),
        pytest.param("2024-07-02T05:00:00+00:00", None, id="07:00-cest-as-utc"),
        pytest.param("2024-12-31T23:30:00+01:00", "2025-01-01T07:00:00+01:00", id="new-year"),
        # Clocks forward on 2025-03-30 at 02:00 CET: 03:00 CEST.
        pytest.param("2025-03-30T00:30:00+00:00", "2025-03-30T07:00:00+02:00", id="spring-01:30"),
        pytest.param("2025-03-30T04:59:00+00:00", "2025-03-30T07:00:00+02:00", id="spring-06:59"),
        pytest.param("2025-03-30T05:00:00+00:00", None, id="spring-07:00-cest"),
        pytest.param("2025-03-29T21:30:00+00:00", "2025-03-30T07:00:00+02:00", id="spring-eve"),
        # Clocks back on 2025-10-26 at 03:00 CEST: 02:00 CET.
        pytest.param("2025-10-25T21:30:00+00:00", "2025-10-26T07:00:00+01:00", id="autumn-eve"),
        pytest.param("2025-10-26T00:30:00+00:00", "2025-10-26T07:00:00+01:00", id="autumn-02:30a"),
        pytest.param("2025-10-26T01:30:00+00:00", "2025-10-26T07:00:00+01:00", id="autumn-02:30b"),
        pytest.param("2025-10-26T05:30:00+00:00", "2025-10-26T07:00:00+01:00", id="autumn-06:30"),
        pytest.param("2025-10-26T06:00:00+00:00", None, id="autumn-07:00-cet"),
    ],
)
def test_quiet_hours_hold_until_seven_in_amsterdam(now: str, release_at: str | None) -> None:
    [decision] = decide(event("cap_near"), QUIET, at(now))
    if release_at is None:
        assert decision == Decision("burgemeester", Action.SEND)
    else:
        assert (decision.action, decision.reason) == (Action.HOLD, "quiet hours")
        assert decision.release_at is not None
        assert decision.release_at.isoformat() == release_at
        assert decision.release_at == at(release_at)


@pytest.mark.parametrize(
    ("rule", "severity", "expected"),
    [
        pytest.param("slept_outside", WARNING, "send", id="slept_outside"),
        pytest.param("outside_risk", WARNING, "send", id="outside_risk"),
        pytest.param("cap_exceeded", CRITICAL, "send", id="cap_exceeded"),
        pytest.param("cap_exceeded", INFO, "send", id="cap_exceeded-info"),
        # Issue 4: "non-critical messages are held": a critical one goes through the night.
        pytest.param("cap_near", CRITICAL, "send", id="critical-non-always-goes-through"),
        pytest.param("national_shortage", CRITICAL, "send", id="critical-national-goes-through"),
        pytest.param("without_bed", INFO, "hold", id="info"),
    ],
)
def test_always_through_rules_pass_quiet_hours(
    rule: str, severity: Severity, expected: str
) -> None:
    decisions = decide(event(rule, "ter-apel", severity), QUIET, at("2024-11-27T23:30:00+01:00"))
    assert actions(decisions) == [("burgemeester", expected)]


def test_always_through_is_exactly_the_three_outdoor_and_cap_rules() -> None:
    assert frozenset({"slept_outside", "outside_risk", "cap_exceeded"}) == ALWAYS_THROUGH


def test_quiet_hours_apply_per_receiver() -> None:
    config = RoutingConfig(
        route=Route("coa-ops", routes=(Route("burgemeester", continue_=True), Route("coa-ops"))),
        quiet_hours={"burgemeester": QuietHours(dt.time(22), dt.time(7))},
    )
    decisions = decide(event(), config, at("2024-11-27T23:30:00+01:00"))
    assert actions(decisions) == [("burgemeester", "hold"), ("coa-ops", "send")]
    assert [d.release_at for d in decisions] == [at("2024-11-28T07:00:00+01:00"), None]


@pytest.mark.parametrize(
    ("start", "end", "now", "release_at"),
    [
        ("12:00", "13:30", "2024-11-27T12:00:00+01:00", "2024-11-27T13:30:00+01:00"),
        ("12:00", "13:30", "2024-11-27T13:30:00+01:00", None),
        ("12:00", "13:30", "2024-11-27T11:59:00+01:00", None),
        ("00:00", "06:00", "2024-11-27T00:00:00+01:00", "2024-11-27T06:00:00+01:00"),
        ("23:00", "00:00", "2024-11-27T23:59:00+01:00", "2024-11-28T00:00:00+01:00"),
    ],
)
def test_quiet_hours_within_one_day(start: str, end: str, now: str, release_at: str | None) -> None:
    config = parse_routing({}, {"burgemeester": {"quiet_hours": {"start": start, "end": end}}})
    [decision] = decide(event(), config, at(now))
    expected = None if release_at is None else at(release_at)
    assert (decision.action is Action.HOLD, decision.release_at) == (
        release_at is not None,
        expected,
    )


# --------------------------------------------------------------------------- SMS budgets


def ago(*minutes: float) -> list[dt.datetime]:
    return [NOON - dt.timedelta(minutes=m) for m in minutes]


H = 60  # minutes in an hour


@pytest.mark.parametrize(
    ("sent", "rule", "severity", "expected"),
    [
        pytest.param([], "cap_near", WARNING, "send", id="first"),
        pytest.param(ago(50, 1), "cap_near", WARNING, "send", id="3rd-in-hour"),
        pytest.param(ago(50, 30, 1), "cap_near", WARNING, "over_budget", id="4th-in-hour"),
        pytest.param(ago(0, 0, 0), "cap_near", WARNING, "over_budget", id="sent-just-now"),
        pytest.param(ago(60, 30, 1), "cap_near", WARNING, "send", id="exactly-an-hour-ago-out"),
        pytest.param(ago(59.99, 30, 1), "cap_near", WARNING, "over_budget", id="just-within"),
        pytest.param(ago(61, 90, 120), "cap_near", WARNING, "send", id="older-than-an-hour"),
        pytest.param(ago(-5, -1, 1), "cap_near", WARNING, "send", id="future-times-ignored"),
        pytest.param(
            ago(*(2 * H * i + 65 for i in range(10))),
            "cap_near",
            WARNING,
            "over_budget",
            id="11th-in-day",
        ),
        pytest.param(
            ago(*(2 * H * i + 65 for i in range(9))), "cap_near", WARNING, "send", id="10th-in-day"
        ),
        pytest.param(
            ago(24 * H, *(2 * H * i + 65 for i in range(9))),
            "cap_near",
            WARNING,
            "send",
            id="exactly-a-day-ago-out",
        ),
        pytest.param(
            ago(*(25 * H + i for i in range(20))),
            "cap_near",
            WARNING,
            "send",
            id="older-than-a-day",
        ),
        pytest.param(ago(50, 30, 1), "cap_near", CRITICAL, "send", id="critical-exempt"),
        pytest.param(ago(50, 30, 1), "cap_exceeded", WARNING, "send", id="cap_exceeded-exempt"),
        pytest.param(ago(50, 30, 1), "slept_outside", INFO, "send", id="slept_outside-exempt"),
        pytest.param(
            ago(*(2 * H * i + 65 for i in range(10))),
            "outside_risk",
            WARNING,
            "send",
            id="outside_risk-exempt-day",
        ),
    ],
)
def test_default_sms_budget(
    sent: list[dt.datetime], rule: str, severity: Severity, expected: str
) -> None:
    config = parse_routing({}, {"burgemeester": {"sms": {"provider": "cm"}}})
    assert config.budgets == {"burgemeester": Budget(per_hour=3, per_day=10)}
    decisions = decide(event(rule, "ter-apel", severity), config, NOON, sent={"burgemeester": sent})
    assert actions(decisions) == [("burgemeester", expected)]
    if expected == "over_budget":
        assert decisions[0].reason == "text message budget spent"
        assert decisions[0].release_at is None


def test_budget_counts_only_the_receivers_own_messages() -> None:
    config = parse_routing(
        {
            "route": {
                "receiver": "a",
                "routes": [{"receiver": "a", "continue": True}, {"receiver": "b"}],
            }
        },
        {"a": {"sms": {}}, "b": {"sms": {}}, "hook": {"webhook": {}}},
    )
    decisions = decide(event(), config, NOON, sent={"a": ago(50, 30, 1), "b": ago(50, 30)})
    assert actions(decisions) == [("a", "over_budget"), ("b", "send")]


def test_configured_budget_and_receivers_without_sms_have_none() -> None:
    config = parse_routing(
        {"route": {"receiver": "sms"}},
        {
            "sms": {"sms": {}, "sms_budget": {"per_hour": 1, "per_day": 2}},
            "hook": {"webhook": {}, "sms_budget": {"per_hour": 1}},
        },
    )
    assert config.budgets == {"sms": Budget(per_hour=1, per_day=2)}
    assert actions(decide(event(), config, NOON, sent={"sms": ago(61)})) == [("sms", "send")]
    assert actions(decide(event(), config, NOON, sent={"sms": ago(59)})) == [("sms", "over_budget")]
    assert actions(decide(event(), config, NOON, sent={"sms": ago(120, 600)})) == [
        ("sms", "over_budget")
    ]


@pytest.mark.parametrize(
    ("receiver", "rule", "severity", "counted"),
    [
        ("sms", "cap_near", WARNING, True),
        ("sms", "region_capacity_low", Severity.CRITICAL, False),
        ("sms", "slept_outside", WARNING, False),
        ("sms", "cap_exceeded", WARNING, False),
        ("hook", "cap_near", WARNING, False),  # no budget at all
    ],
)
def test_what_uses_up_a_text_budget(
    receiver: str, rule: str, severity: Severity, counted: bool
) -> None:
    config = parse_routing({"route": {"receiver": "sms"}}, {"sms": {"sms": {}}, "hook": {}})
    assert counts_against_budget(event(rule, severity=severity), receiver, config) is counted


def test_a_night_of_critical_texts_leaves_the_budget_for_the_morning_warning() -> None:
    config = parse_routing({"route": {"receiver": "sms"}}, {"sms": {"sms": {}}})
    ledger = Ledger("sms")
    critical = event("cap_exceeded", severity=Severity.CRITICAL)
    for n in range(5):
        counted = counts_against_budget(critical, "sms", config)
        ledger = delivered(ledger, f"c{n}", NOON - dt.timedelta(minutes=50 - n), counted=counted)
    warning = decide(event(), config, NOON, sent={"sms": ledger.sent_at})
    assert actions(warning) == [("sms", "send")]


def test_quiet_hours_come_before_the_budget() -> None:
    config = RoutingConfig(
        route=Route("sms"),
        quiet_hours={"sms": QuietHours(dt.time(22), dt.time(7))},
        budgets={"sms": Budget()},
    )
    night = at("2024-11-27T23:30:00+01:00")
    spent = {"sms": [night - dt.timedelta(minutes=m) for m in (1, 2, 3)]}
    assert actions(decide(event(), config, night, sent=spent)) == [("sms", "hold")]
    assert actions(decide(event(severity=CRITICAL), config, night, sent=spent)) == [("sms", "send")]
    assert actions(decide(event("cap_exceeded"), config, night, sent=spent)) == [("sms", "send")]


def test_inhibited_is_not_paced() -> None:
    config = RoutingConfig(
        route=Route("sms"),
        inhibit_rules=(CAP_INHIBITS,),
        quiet_hours={"sms": QuietHours(dt.time(22), dt.time(7))},
    )
    decisions = decide(
        event(),
        config,
        at("2024-11-27T23:30:00+01:00"),
        firing=[alert_labels(event("cap_exceeded"))],
    )
    assert decisions == [Decision("sms", Action.INHIBITED, "inhibited by a firing alert")]


# --------------------------------------------------------------------------- configuration errors

ONE = {"coa-ops": {}}
ROUTE = {"receiver": "coa-ops"}


def silence(**changes: Any) -> dict[str, Any]:
    return {**WINTER_NIGHT, **changes}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in WINTER_NIGHT.items() if k != key}


@pytest.mark.parametrize(
    ("raw", "receivers_", "message"),
    [
        pytest.param(
            {"route": {"receiver": "nobody"}},
            ONE,
            "route.receiver: no receiver named 'nobody'",
            id="unknown-root-receiver",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": [ROUTE, {"receiver": "ministry"}]}},
            ONE,
            "route.routes[1].receiver: no receiver named 'ministry'",
            id="unknown-receiver-in-route",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": [{"routes": [{"receiver": "x"}]}]}},
            ONE,
            "route.routes[0].routes[0].receiver: no receiver named 'x'",
            id="unknown-receiver-nested",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": [{"reciever": "coa-ops", "matcher": []}]}},
            ONE,
            "route.routes[0]: unknown key(s) matcher, reciever",
            id="unknown-route-keys",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": [{"matchers": ['rule=~"cap_(near"']}]}},
            ONE,
            "route.routes[0].matchers: bad regular expression 'cap_(near'",
            id="bad-regex",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": [{"matchers": ['rule!~"[a-"']}]}},
            ONE,
            "route.routes[0].matchers: bad regular expression '[a-'",
            id="bad-negated-regex",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": [{"matchers": ["severity"]}]}},
            ONE,
            "route.routes[0].matchers: cannot read matcher 'severity' (label=value)",
            id="unreadable-matcher",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": [{"match": "severity=critical"}]}},
            ONE,
            "route.routes[0].match: matchers must be a mapping or a list",
            id="match-not-mapping",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": {"receiver": "coa-ops"}}},
            ONE,
            "route.routes must be a list",
            id="routes-not-a-list",
        ),
        pytest.param(
            {"route": {**ROUTE, "routes": ["coa-ops"]}},
            ONE,
            "route.routes[0] must be a mapping",
            id="route-not-a-mapping",
        ),
        pytest.param(
            {"silences": [without("author")]}, ONE, "silences[0]: missing 'author'", id="no-author"
        ),
        pytest.param(
            {"silences": [without("comment")]},
            ONE,
            "silences[0]: missing 'comment'",
            id="no-comment",
        ),
        pytest.param(
            {"silences": [without("matchers")]},
            ONE,
            "silences[0]: missing 'matchers'",
            id="no-matchers-key",
        ),
        pytest.param(
            {"silences": [WINTER_NIGHT, silence(author="  ")]},
            ONE,
            "silences[1]: say who silences this and why (author, comment)",
            id="blank-author",
        ),
        pytest.param(
            {"silences": [silence(comment="")]},
            ONE,
            "silences[0]: say who silences this and why (author, comment)",
            id="blank-comment",
        ),
        pytest.param(
            {"silences": [silence(matchers=[])]},
            ONE,
            "silences[0]: a silence needs at least one matcher",
            id="empty-matchers",
        ),
        pytest.param(
            {"silences": [silence(matchers=['rule=~"("'])]},
            ONE,
            "silences[0].matchers: bad regular expression '('",
            id="silence-bad-regex",
        ),
        pytest.param(
            {"silences": [silence(ends_at="2024-11-27T21:00:00+01:00")]},
            ONE,
            "silences[0]: ends_at must be after starts_at",
            id="ends-before-starts",
        ),
        pytest.param(
            {"silences": [silence(ends_at="2024-11-27T21:00:00Z")]},
            ONE,
            "silences[0]: ends_at must be after starts_at",
            id="ends-equals-starts-other-zone",
        ),
        pytest.param(
            {"silences": [silence(starts_at="2024-11-27T22:00:00")]},
            ONE,
            "silences[0].starts_at: the time needs a zone offset",
            id="naive-starts",
        ),
        pytest.param(
            {"silences": [silence(ends_at=dt.datetime(2024, 11, 28, 8))]},
            ONE,
            "silences[0].ends_at: the time needs a zone offset",
            id="naive-ends-datetime",
        ),
        pytest.param(
            {"silences": [silence(starts_at="tomorrow")]},
            ONE,
            "silences[0].starts_at: not an RFC 3339 time: 'tomorrow'",
            id="not-a-time",
        ),
        pytest.param(
            {"inhibit_rules": ["cap_exceeded"]},
            ONE,
            "inhibit_rules[0] must be a mapping",
            id="inhibit-not-mapping",
        ),
        pytest.param(
            {"inhibit_rules": [{"source_matchers": ['rule="cap_exceeded"']}]},
            ONE,
            "inhibit_rules[0]: needs source_matchers and target_matchers",
            id="inhibit-no-target",
        ),
        pytest.param(
            {"inhibit_rules": [{"source_matchers": ['rule=~"?"'], "target_matchers": ["a=b"]}]},
            ONE,
            "inhibit_rules[0].source_matchers: bad regular expression '?'",
            id="inhibit-bad-regex",
        ),
        pytest.param(
            {},
            {"burgemeester": {"quiet_hours": "22:00-07:00"}},
            "receiver burgemeester: quiet_hours needs start and end",
            id="quiet-hours-not-mapping",
        ),
        pytest.param(
            {},
            {"burgemeester": {"quiet_hours": {"start": "25:00", "end": "07:00"}}},
            "receiver burgemeester: quiet_hours.start: not a time of day (HH:MM): '25:00'",
            id="quiet-hours-bad-start",
        ),
        pytest.param(
            {},
            {"burgemeester": {"quiet_hours": {"start": "22:00"}}},
            "receiver burgemeester: quiet_hours.end: not a time of day (HH:MM): None",
            id="quiet-hours-no-end",
        ),
    ],
)
def test_parse_routing_errors_name_the_key(
    raw: dict[str, Any], receivers_: Mapping[str, Mapping[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_routing(raw, receivers_)


@pytest.mark.parametrize("key", ["starts_at", "ends_at"])
def test_naive_silence_time_names_which_key(key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"silences[0].{key}")):
        parse_routing({"silences": [silence(**{key: "2024-11-27T23:00:00"})]}, ONE)


def test_yaml_sexagesimal_quiet_hours_are_not_read_as_another_time() -> None:
    receivers_ = {"burgemeester": {"quiet_hours": {"start": 1320, "end": "07:00"}}}
    try:
        config = parse_routing({}, receivers_)
    except ConfigError as exc:
        assert "receiver burgemeester: quiet_hours.start" in str(exc)
    else:
        assert config.quiet_hours["burgemeester"].start == dt.time(22, 0)


def test_bad_sms_budget_is_a_config_error_naming_the_key() -> None:
    receivers_ = {"burgemeester": {"sms": {}, "sms_budget": {"per_hour": "lots"}}}
    with pytest.raises(ConfigError, match=re.escape("sms_budget.per_hour")):
        parse_routing({}, receivers_)


# --------------------------------------------------------------------------- properties

NAMES = ("coa-ops", "ministerie", "burgemeester-westerwolde", "provincie-groningen", "zuid")

matchers = st.lists(
    st.builds(
        Matcher,
        label=st.sampled_from(["rule", "severity", "province", "subject_kind", "status"]),
        value=st.sampled_from(["cap_.*", "GR|NB", "critical", "location", "firing", ""]),
        regex=st.booleans(),
        negate=st.booleans(),
    ),
    max_size=2,
).map(tuple)

routes = st.recursive(
    st.builds(
        Route,
        receiver=st.none() | st.sampled_from(NAMES),
        matchers=matchers,
        continue_=st.booleans(),
    ),
    lambda children: st.builds(
        Route,
        receiver=st.none() | st.sampled_from(NAMES),
        matchers=matchers,
        continue_=st.booleans(),
        routes=st.lists(children, max_size=4).map(tuple),
    ),
    max_leaves=10,
)

configs = st.builds(
    RoutingConfig,
    route=routes,
    audiences=st.lists(
        st.builds(
            Audience,
            receiver=st.sampled_from(NAMES),
            municipality_code=st.none() | st.sampled_from(["GM1950", "GM1706"]),
            province=st.none() | st.sampled_from(["GR", "NB"]),
        ),
        max_size=4,
    ).map(tuple),
    quiet_hours=st.dictionaries(
        st.sampled_from(NAMES), st.just(QuietHours(dt.time(22), dt.time(7))), max_size=2
    ),
    budgets=st.dictionaries(st.sampled_from(NAMES), st.just(Budget()), max_size=2),
)

events = st.builds(
    event,
    rule=st.sampled_from(["cap_near", "cap_exceeded", "slept_outside", "region_capacity_low"]),
    where=st.sampled_from(sorted(PLACES)),
    severity=st.sampled_from(list(Severity)),
    status=st.sampled_from(list(AlertStatus)),
)

moments = st.datetimes(
    min_value=dt.datetime(2024, 1, 1),
    max_value=dt.datetime(2026, 1, 1),
    timezones=st.just(dt.UTC),
)


@settings(deadline=None)
@given(alert=events, config=configs, now=moments)
def test_decide_lists_each_receiver_once_in_a_stable_order(
    alert: AlertEvent, config: RoutingConfig, now: dt.datetime
) -> None:
    sent = {name: [now - dt.timedelta(minutes=m) for m in (1, 2, 3)] for name in NAMES}
    first = decide(alert, config, now, sent=sent)
    names = receivers(first)
    assert len(names) == len(set(names))
    assert decide(alert, config, now, sent=sent) == first
    routed = config.route.receivers_for(alert_labels(alert))
    assert names[: len(set(routed))] == list(dict.fromkeys(routed))
