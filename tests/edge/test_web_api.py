"""The read API's documents for the status page, built from a StateView without a web server:
coverage per level, never-reported locations, the week for the sparklines, health without
locations, superseded alerts folded (in the CAP feed too), Dutch rule names."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import replace

import builders
import pytest

from alerts import engine
from alerts.config import AlertingConfig
from alerts.formats import oasis_cap as cap
from alerts.model import Location
from streams.metrics import StateView
from streams.web import api

D = dt.date(2022, 9, 1)
TER_APEL = builders.a_location()
OTHERS = [
    replace(TER_APEL, location_id=f"loc-{n}", name=f"Locatie {n}", kind="regular", cap=None)
    for n in range(3)
]


def view(reports: dict[str, list[tuple[dt.date, int]]], known: list[Location]) -> StateView:
    config = AlertingConfig()
    by_id = {loc.location_id: loc for loc in known}
    locations, provinces = [], {}
    for location_id, counts in reports.items():
        record = engine.LocationRecord.new(location_id)
        for date, occupancy in counts:
            report = builders.an_occupancy_report(
                event_id=f"{location_id}-{date}",
                location_id=location_id,
                date=date,
                occupancy=occupancy,
            )
            out = engine.on_occupancy(by_id[location_id], record, report, config)
            record = out.record
            for share in out.contributions:
                current = provinces.get(share.province) or engine.AggregateRecord(share.province)
                provinces[share.province] = engine.on_contribution(current, share)
        locations.append((by_id[location_id], record))
    return StateView(locations, provinces, None, config)


def week(start: dt.date, *values: int) -> list[tuple[dt.date, int]]:
    return [(start + dt.timedelta(days=n), v) for n, v in enumerate(values)]


def test_coverage_counts_who_reported_for_the_day_shown_and_names_the_others() -> None:
    known = [TER_APEL, *OTHERS]
    state = view(
        {"ter-apel": week(D, 1900, 1950, 2021), "loc-0": week(D, 10, 11), "loc-1": week(D, 5)},
        known,
    )
    national = api.national_document(state, known)
    cover = national["coverage"]
    assert (cover["date"], cover["reported"], cover["expected"]) == ("2022-09-03", 1, 4)
    assert [(m["location_id"], m["date"]) for m in cover["missing"]] == [
        ("loc-0", "2022-09-02"),
        ("loc-1", "2022-09-01"),
        ("loc-2", None),  # never reported
    ]
    province = api.provinces_list(state, known)["provinces"][0]
    assert province["coverage"]["expected"] == 4 and province["coverage"]["reported"] == 1


def test_never_reported_locations_are_listed_and_marked() -> None:
    known = [TER_APEL, *OTHERS]
    rows = api.locations_list(view({"ter-apel": week(D, 1900)}, known), known)["locations"]
    assert [(r["location_id"], r["reported"]) for r in rows] == [
        ("loc-0", False),
        ("loc-1", False),
        ("loc-2", False),
        ("ter-apel", True),
    ]
    assert rows[0]["occupancy"] is None and rows[0]["capacity"] == OTHERS[0].capacity


def test_the_week_for_the_sparklines() -> None:
    known = [TER_APEL, OTHERS[0]]
    state = view(
        {"ter-apel": week(D, *range(1900, 2000, 10)), "loc-0": week(D, 100, 100, 100)}, known
    )
    centre = next(
        r for r in api.locations_list(state, known)["locations"] if r["kind"] != "regular"
    )
    assert [d["occupancy"] for d in centre["history"]] == list(range(1930, 2000, 10))
    history = api.national_document(state, known)["history"]
    assert [d["date"] for d in history] == [f"2022-09-{n:02d}" for n in range(4, 11)]
    # loc-0 counted with its newest count (3 Sep) on the days after it.
    assert [d["occupancy"] for d in history] == [v + 100 for v in range(1930, 2000, 10)]


@pytest.mark.parametrize(
    ("ready", "locations", "status", "code"),
    [(True, 0, "no_locations", 503), (True, 1, "ok", 200), (False, 0, "starting", 503)],
)
def test_health_is_503_while_no_location_is_loaded(
    ready: bool, locations: int, status: str, code: int
) -> None:
    body, got = api.health_document(
        ready=ready, recovering=False, remaining=0, locations=locations, topic_prefix="p."
    )
    assert (body["status"], got) == (status, code)
    assert ("load-locations" in body.get("hint", "")) is (status == "no_locations")


def test_alerts_carry_their_dutch_name_and_a_superseded_warning_is_folded() -> None:
    state = view({"ter-apel": week(D, 1912, 2053)}, [TER_APEL])
    body = api.active_alerts(state, {})
    rules = [a["rule"] for a in body["alerts"]]
    assert "cap_exceeded" in rules and "cap_near" not in rules
    over = next(a for a in body["alerts"] if a["rule"] == "cap_exceeded")
    assert over["rule_name"] == "Boven de grens"
    assert [s["rule"] for s in over["superseded"]] == ["cap_near"]
    assert body["rules"]["slept_outside"] == "Buiten geslapen"
    # Asked for by rule, the held warning is listed.
    near = api.active_alerts(state, {"rule": "cap_near"})["alerts"]
    assert [(a["rule"], a["value"]) for a in near] == [("cap_near", 1912)]


def test_alerts_of_equal_severity_and_start_are_listed_in_one_order() -> None:
    """The order must not follow the order the locations happen to be held in (that of a
    recovery, which differs from restart to restart and worker to worker)."""
    capped = [replace(TER_APEL, location_id=f"cap-{n}", name=f"Centrum {n}") for n in range(4)]
    reports = {loc.location_id: week(D, 2053) for loc in capped}
    first = view(reports, capped)
    second = replace(first, locations=list(reversed(first.locations)))
    listed = [a["alert_id"] for a in api.active_alerts(first, {})["alerts"]]
    assert len(listed) == 4
    assert [a["alert_id"] for a in api.active_alerts(second, {})["alerts"]] == listed


def test_the_cap_feed_folds_a_superseded_warning_as_the_page_does() -> None:
    state = view({"ter-apel": week(D, 1912, 2053)}, [TER_APEL])
    listed, under = api.cap_feed_events(state)
    page = api.active_alerts(state, {})["alerts"]
    assert sorted(e.alert_id for e in listed) == sorted(a["alert_id"] for a in page)
    (over,) = [e for e in listed if e.rule == "cap_exceeded"]
    assert [e.rule for e in under[over.alert_id]] == ["cap_near"]
    feed = ET.fromstring(
        cap.atom_feed(
            listed,
            feed_id="urn:opvangwacht:feed:test",
            updated="2022-09-02T10:00:00+02:00",
            self_url="http://page/api/cap",
            cap_url=lambda e: f"http://page/api/cap/{e.alert_id}",
            superseded=under,
        )
    )
    atom = {"a": cap.ATOM_NS}
    terms = [c.get("term") for c in feed.findall("a:entry/a:category", atom)]
    assert "cap_exceeded" in terms and "cap_near" not in terms
    (near,) = under[over.alert_id]
    related = feed.findall("a:entry/a:link[@rel='related']", atom)
    assert [link.get("href") for link in related] == [f"http://page/api/cap/{near.alert_id}"]
