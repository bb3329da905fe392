"""Provinces and the nation: closing days, the aggregate rules, report_missing.

Contributions are built by hand and fed the way the province and nation agents do it:
``close_days(on_contribution(record, item), config, rules)`` for every item.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.capacity.totals import Contribution, Totals
from alerts.config import AlertingConfig, SpreidingTargets, TargetCycle
from alerts.engine import (
    AggregateRecord,
    AggregateRules,
    close_days,
    national_rules,
    on_contribution,
    province_rules,
    province_share,
)
from alerts.model import AlertEvent, SubjectKind
from alerts.rules import aggregate as aggregate_rules

D = dt.date
DEFAULTS = AlertingConfig()
D0 = D(2024, 8, 19)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def loc(
    location_id: str, n: int, occupancy: int, capacity: int, province: str = "GR", **extra: Any
) -> Contribution:
    return Contribution(
        location_id=location_id,
        province=province,
        date=day(n),
        occupancy=occupancy,
        capacity=capacity,
        name=extra.pop("name", location_id.upper()),
        municipality_code=extra.pop("municipality_code", "GM0014"),
        **extra,
    )


def seeded(subject: str, *items: Contribution) -> AggregateRecord:
    """An aggregate that already knows its members and has closed their (common) date."""
    record = AggregateRecord(subject)
    for item in items:
        record = on_contribution(record, item)
    return replace(record, closed=max(i.date for i in items))


class Pipe:
    """One aggregate as its agent runs it: remembers the events and every closed day."""

    def __init__(
        self, record: AggregateRecord, rules: AggregateRules, config: AlertingConfig = DEFAULTS
    ) -> None:
        self.record, self.rules, self.config = record, rules, config
        self.events: list[AlertEvent] = []
        self.closed: list[tuple[dt.date, Totals, Totals]] = []

    def push(self, item: Contribution, progress: dt.date | None = None) -> list[dt.date]:
        return self._close(on_contribution(self.record, item), progress)

    def mark(self, progress: dt.date) -> list[dt.date]:
        """The input watermark moved on (the agent got a mark)."""
        return self._close(self.record, progress)

    def _close(self, record: AggregateRecord, progress: dt.date | None) -> list[dt.date]:
        outcome = close_days(record, self.config, self.rules, progress=progress)
        self.record = outcome.record
        self.events.extend(outcome.events)
        self.closed.extend(outcome.closed_days)
        return [date for date, _, _ in outcome.closed_days]

    def shares(self, since: int = 0) -> list[Contribution]:
        return [
            province_share(self.record, date, totals, asylum=True)
            for date, totals, _ in self.closed[since:]
        ]


def brief(events: Iterable[AlertEvent], *only: str) -> list[tuple[Any, ...]]:
    return [
        (e.rule, e.subject.id, e.status.value, e.severity.value, e.event_date, e.value)
        for e in events
        if not only or e.rule in only
    ]


# --------------------------------------------------------------------------- close_days


def province_ab() -> Pipe:
    return Pipe(seeded("GR", loc("a", 0, 900, 1000), loc("b", 0, 480, 500)), province_rules)


@pytest.mark.parametrize(
    ("feed", "closes"),
    [
        # a day closes when both members reported it
        ([("a", 1), ("b", 1)], [[], [1]]),
        ([("b", 1), ("a", 1)], [[], [1]]),
        # a member ahead does not close the day the other has not reported
        ([("a", 1), ("a", 2), ("b", 1), ("b", 2)], [[], [], [1], [2]]),
        # B silent after day 0: a day closes when A is lateness_days (2) past it; once B is
        # silent for longer than the window (its newest < D-3), it no longer holds A's days
        (
            [("a", n) for n in range(1, 7)],
            [[], [], [1], [2], [3, 4, 5], [6]],
        ),
        # B comes back: it holds the days again
        ([("a", 1), ("a", 2), ("a", 3), ("b", 2), ("a", 4)], [[], [], [1], [2], []]),
    ],
)
def test_close_days_schedule(feed: list[tuple[str, int]], closes: list[list[int]]) -> None:
    pipe = province_ab()
    got = [pipe.push(loc(member, n, 500, 1000)) for member, n in feed]
    assert got == [[day(n) for n in step] for step in closes]


def test_a_day_waits_for_a_final_figure() -> None:
    pipe = province_ab()
    assert pipe.push(loc("a", 1, 900, 1000, final=False)) == []
    assert pipe.push(loc("b", 1, 480, 500)) == []
    assert pipe.push(loc("a", 1, 910, 1000)) == [day(1)]  # the same day, now final
    (date, totals, _), *_ = pipe.closed
    assert (date, totals.occupancy, totals.capacity) == (day(1), 1390, 1500)


def test_close_days_never_evaluates_a_half_updated_day() -> None:
    # Province capacity 1500; region_capacity_low warns under 2 % = 30 free places.
    pipe = province_ab()
    assert pipe.push(loc("a", 1, 900, 1000)) == []
    assert pipe.push(loc("a", 2, 1000, 1000)) == []  # A's day 2: A full
    assert pipe.push(loc("b", 1, 480, 500)) == [day(1)]
    # day 1 is A's day-1 figure plus B's: 120 free, no alert (A's day 2 + B's day 1 would be 20)
    (date, totals, _), *_ = pipe.closed
    assert (date, totals.occupancy, totals.capacity, totals.free_places) == (
        day(1),
        1380,
        1500,
        120,
    )
    assert pipe.events == []
    assert pipe.push(loc("b", 2, 480, 500)) == [day(2)]
    assert brief(pipe.events) == [
        ("region_capacity_low", "GR", "firing", "warning", day(2), 20),
    ]


def test_silent_member_keeps_its_last_figures() -> None:
    pipe = province_ab()
    for n in range(1, 4):
        pipe.push(loc("a", n, 700, 1000))
    (date, totals, _), *_ = pipe.closed
    assert (date, totals.occupancy, totals.capacity, totals.locations) == (day(1), 1180, 1500, 2)


# --------------------------------------------------------------------------- province rules


def both(n: int, occupancy_a: int, occupancy_b: int, **extra: Any) -> list[Contribution]:
    return [loc("a", n, occupancy_a, 6000, **extra), loc("b", n, occupancy_b, 4000, **extra)]


@pytest.mark.parametrize(
    ("free", "expected"),
    [
        # capacity 10,000: warning under 200 free, critical under 0, clear from 300
        (300, (False, True, "warning", 200)),
        (299, (False, False, "warning", 200)),
        (200, (False, False, "warning", 200)),
        (199, (True, False, "warning", 200)),
        (0, (True, False, "warning", 200)),
        (-1, (True, False, "critical", 0)),
    ],
)
def test_region_capacity_low_boundaries(free: int, expected: tuple[bool, bool, str, float]) -> None:
    found = aggregate_rules.region_capacity_low("GR", Totals(10_000 - free, 10_000), DEFAULTS)
    assert found is not None
    assert (found.breached, found.cleared, found.severity.value, found.threshold) == expected
    assert found.value == free


@pytest.mark.parametrize("capacity", [0, 14])
def test_region_capacity_low_skips_provinces_under_15_places(capacity: int) -> None:
    assert (
        aggregate_rules.region_capacity_low("GR", Totals(capacity + 5, capacity), DEFAULTS) is None
    )


def test_region_capacity_low_events() -> None:
    # capacity 10,000: warning under 200 free (2 %), critical under 0, clears at 300 (3 %)
    pipe = Pipe(seeded("GR", *both(0, 5000, 4000)), province_rules)
    free_by_day = [250, 199, 250, 299, 300, -40, 150, 200]
    for n, free in enumerate(free_by_day, start=1):
        for item in both(n, 6000 - free, 4000):
            pipe.push(item)
    assert brief(pipe.events) == [
        ("region_capacity_low", "GR", "firing", "warning", day(2), 199),
        ("region_capacity_low", "GR", "resolved", "warning", day(5), 300),
        ("region_capacity_low", "GR", "firing", "critical", day(6), -40),
        ("region_capacity_low", "GR", "firing", "warning", day(7), 150),
    ]
    firing, resolved, critical, lower = pipe.events
    assert (firing.threshold, firing.revision, firing.province) == (200, 1, "GR")
    assert firing.subject.kind is SubjectKind.PROVINCE
    assert firing.summary == "Provincie Groningen: nog 199 vrije plaatsen (1,9% van 10.000)"
    assert resolved.summary == "Provincie Groningen: weer 300 vrije plaatsen (3%)"
    assert (critical.threshold, critical.revision) == (0, 3)
    assert critical.summary == (
        "Provincie Groningen: 40 opvangplaatsen tekort (10.040 personen, 10.000 plaatsen)"
    )
    assert (lower.threshold, lower.revision) == (200, 4)


def test_province_breach_forecast() -> None:
    # 4,000 places, 140 free; 7-day net: A +140, B 0 over 7 reported days -> +20 a day -> 7 days
    seed = seeded("GR", loc("a", 0, 2000, 3000), loc("b", 0, 800, 1000))
    pipe = Pipe(seed, province_rules)
    pipe.push(loc("a", 1, 2900, 3000, arrivals_7d=210, departures_7d=70, flow_days=7))
    pipe.push(loc("b", 1, 960, 1000, arrivals_7d=70, transfers_out_7d=70, flow_days=7))
    assert brief(pipe.events) == [
        ("breach_forecast", "GR", "firing", "warning", day(1), 7.0),
    ]
    (event,) = pipe.events
    assert event.threshold == 7
    assert event.summary == "Provincie Groningen: vol over ~7 dagen (140 vrij, netto +20 per dag)"
    (_, totals, _), *_ = pipe.closed
    assert (totals.flows.arrivals, totals.flows.net_inflow, totals.flows.days) == (280, 140, 7)


FIRST = TargetCycle("eerste", D(2024, 2, 1), {"GR": 2717, "NB": 14689})
SECOND = TargetCycle("tweede", day(2), {"GR": 2500}, assumed=True)
TARGETS = SpreidingTargets((FIRST, SECOND))


@pytest.mark.parametrize(
    ("pinned", "expected"),
    [
        (
            None,
            [
                ("firing", day(1), "eerste"),
                ("resolved", day(2), "tweede"),
            ],
        ),
        ("eerste", [("firing", day(1), "eerste")]),
    ],
)
def test_spreiding_shortfall_follows_the_cycle_in_force(
    pinned: str | None, expected: list[tuple[str, dt.date, str]]
) -> None:
    config = replace(DEFAULTS, spreiding_cycle=pinned).with_targets(TARGETS)
    pipe = Pipe(
        seeded("GR", loc("a", 0, 1000, 2000), loc("b", 0, 300, 600)), province_rules, config
    )
    for n in (1, 2, 3):
        pipe.push(loc("a", n, 1000, 2000))
        pipe.push(loc("b", n, 300, 600))
    events = [e for e in pipe.events if e.rule == "spreiding_shortfall"]
    assert [(e.status.value, e.event_date, e.labels["target_cycle"]) for e in events] == expected
    first = events[0]
    assert (first.severity.value, first.value, first.threshold, first.headroom) == (
        "info",
        2600,
        2717,
        -117,
    )
    assert first.summary == (
        "Provincie Groningen: 2.600 plaatsen, 117 onder het Spreidingswet-doel van 2.717"
    )
    if pinned is None:
        assert events[1].summary == (
            "Provincie Groningen: Spreidingswet-doel van 2.500 gehaald (2.600 plaatsen)"
        )


@pytest.mark.parametrize(
    ("capacity", "short"), [(2716, True), (2717, False), (2718, False), (0, True)]
)
def test_spreiding_shortfall_boundary(capacity: int, short: bool) -> None:
    found = aggregate_rules.spreiding_shortfall("GR", Totals(0, capacity), FIRST)
    assert found is not None
    assert (found.breached, found.cleared) == (short, not short)
    assert (found.value, found.threshold, found.headroom) == (capacity, 2717, capacity - 2717)
    assert found.severity.value == "info"


def test_spreiding_shortfall_silent_without_a_target() -> None:
    config = DEFAULTS.with_targets(SpreidingTargets((replace(FIRST, in_force=day(5)),)))
    pipe = Pipe(seeded("GR", loc("a", 0, 10, 20)), province_rules, config)
    pipe.push(loc("a", 1, 10, 20))  # no cycle in force yet
    other = Pipe(seeded("DR", loc("c", 0, 10, 20, province="DR")), province_rules, config)
    other.push(loc("c", 6, 10, 20, province="DR"))  # in force, but no target for Drenthe
    assert brief(pipe.events + other.events, "spreiding_shortfall") == []


# --------------------------------------------------------------------------- the nation


class Country:
    """Provinces GR (Ter Apel) and NB (Budel) feeding the nation, everybody seeded at day 0."""

    def __init__(self, config: AlertingConfig = DEFAULTS) -> None:
        self.provinces = {
            "GR": Pipe(seeded("GR", loc("ter-apel", 0, 1900, 2000)), province_rules, config),
            "NB": Pipe(seeded("NB", loc("budel", 0, 900, 1000, "NB")), province_rules, config),
        }
        gr = self.provinces["GR"].record
        nb = self.provinces["NB"].record
        seed = seeded(
            "NL",
            province_share(gr, day(0), gr.totals(), asylum=True),
            province_share(nb, day(0), nb.totals(), asylum=True),
        )
        self.nation = Pipe(seed, national_rules, config)

    def push(self, item: Contribution) -> list[dt.date]:
        province = self.provinces[item.province]
        before = len(province.closed)
        province.push(item)
        closed: list[dt.date] = []
        for share in province.shares(before):
            closed += self.nation.push(share)
        return closed


def test_province_share_passes_totals_and_freshness() -> None:
    country = Country()
    country.push(loc("ter-apel", 1, 2380, 2000, arrivals_7d=1400, flow_days=7))
    (share,) = country.provinces["GR"].shares()
    assert (share.location_id, share.province, share.date) == ("GR", "GR", day(1))
    assert (share.occupancy, share.capacity, share.locations) == (2380, 2000, 1)
    assert (share.arrivals_7d, share.flow_days, share.final) == (1400, 7, True)
    assert [(m.location_id, m.name, m.date) for m in share.members] == [
        ("ter-apel", "TER-APEL", day(1))
    ]


def test_national_shortage_is_the_number_of_places_short() -> None:
    country = Country()
    assert country.push(loc("ter-apel", 1, 2380, 2000)) == []  # NB has not closed day 1
    assert country.push(loc("budel", 1, 900, 1000, "NB")) == [day(1)]
    assert country.push(loc("ter-apel", 2, 2380, 2000)) == []
    assert country.push(loc("budel", 2, 900, 1500, "NB")) == [day(2)]
    # day 1: 3,280 persons in 3,000 places -> 280 short; day 2: 3,500 places -> 220 free
    assert brief(country.nation.events, "national_shortage") == [
        ("national_shortage", "NL", "firing", "critical", day(1), 280),
        ("national_shortage", "NL", "resolved", "critical", day(2), 0),
    ]
    firing, resolved = country.nation.events
    assert (firing.threshold, firing.headroom, firing.subject.kind) == (
        0,
        -280,
        SubjectKind.NATIONAL,
    )
    assert firing.summary == "Nederland: 280 opvangplaatsen tekort (3.280 personen, 3.000 plaatsen)"
    assert resolved.summary == "Nederland: geen tekort meer, 220 plaatsen vrij"
    # and Groningen on its own is over capacity all along
    assert brief(country.provinces["GR"].events, "region_capacity_low") == [
        ("region_capacity_low", "GR", "firing", "critical", day(1), -380),
    ]


def test_report_missing_warns_escalates_and_resolves() -> None:
    pipe = Pipe(
        seeded("GR", loc("ter-apel", 0, 1900, 2000), loc("zoutkamp", 0, 400, 500, name="Zoutkamp")),
        province_rules,
    )
    gr0 = province_share(pipe.record, day(0), pipe.record.totals(), asylum=True)
    nation = Pipe(seeded("NL", gr0), national_rules)

    def push(item: Contribution) -> None:
        before = len(pipe.closed)
        pipe.push(item)
        for share in pipe.shares(before):
            nation.push(share)

    # Zoutkamp reports day 0, is silent on days 1-4, and is back from day 5
    for n in range(1, 8):
        push(loc("ter-apel", n, 1900, 2000))
        if n >= 5:
            push(loc("zoutkamp", n, 400, 500, name="Zoutkamp"))
    got = [
        (e.subject.id, e.status.value, e.severity.value, e.event_date, e.value, e.revision)
        for e in nation.events
        if e.rule == "report_missing"
    ]
    # day 1 closes (lateness) when Ter Apel reports day 3: Zoutkamp 1 day late; day 2: 2 days.
    # Zoutkamp's day-5 count arrives after day 5 closed (it was silent past the window), so
    # day 6 is the first day that has it.
    assert got == [
        ("zoutkamp", "firing", "warning", day(1), 1, 1),
        ("zoutkamp", "firing", "critical", day(2), 2, 2),
        ("zoutkamp", "resolved", "critical", day(6), 0, 3),
    ]
    warning = next(e for e in nation.events if e.rule == "report_missing")
    assert (warning.province, warning.municipality_code, warning.threshold) == ("GR", "GM0014", 1)
    assert warning.summary == "Zoutkamp: geen bezettingscijfer sinds 19 aug (1 dag te laat)"
    assert warning.subject.kind is SubjectKind.LOCATION
    assert nation.events[-1].summary == "Zoutkamp: bezettingscijfers komen weer binnen"


def test_cold_start_does_not_close_a_day_with_one_member() -> None:
    """From empty records (a fresh deployment, a replay): the first contribution must not close
    its day on its own, or the nation judges day 1 on Groningen alone (Ter Apel over its cap).
    As in the worker, marks tell the aggregates how far the whole input has been read."""
    provinces = {
        "GR": Pipe(AggregateRecord("GR"), province_rules),
        "NB": Pipe(AggregateRecord("NB"), province_rules),
    }
    nation = Pipe(AggregateRecord("NL"), national_rules)
    mark: dt.date | None = None
    nation_mark: dt.date | None = None

    def forward(pipe: Pipe, before: int) -> None:
        for share in pipe.shares(before):
            nation.push(share, nation_mark)

    for n in range(1, 9):
        for item in (loc("ter-apel", n, 2380, 2000), loc("budel", n, 500, 1500, "NB")):
            pipe = provinces[item.province]
            before = len(pipe.closed)
            pipe.push(item, mark)
            forward(pipe, before)
        mark = day(n)
        for pipe in provinces.values():
            before = len(pipe.closed)
            pipe.mark(mark)
            forward(pipe, before)
        nation_mark = mark
        nation.mark(nation_mark)
    # Nationally 2,880 persons in 3,500 places every day: never short.
    assert [d for d, _, _ in nation.closed] == [day(n) for n in range(1, 9)]
    assert {(t.occupancy, t.capacity, t.locations) for _, t, _ in nation.closed} == {
        (2880, 3500, 2)
    }
    assert brief(nation.events, "national_shortage") == []


def test_without_marks_a_nation_cannot_know_a_province_it_has_not_heard_from() -> None:
    """The limit that marks remove: judged by its members alone, the nation closes its first
    days on the one province it has heard from."""
    nation = Pipe(AggregateRecord("NL"), national_rules)
    for n in range(1, 5):
        nation.push(loc("GR", n, 2380, 2000, province="GR"))
    assert {(t.occupancy, t.capacity) for _, t, _ in nation.closed} == {(2380, 2000)}


# --------------------------------------------------------------------------- properties

members = st.lists(
    st.tuples(
        st.integers(0, 3000),  # occupancy
        st.integers(0, 3000),  # capacity
        st.integers(0, 500),  # arrivals_7d
        st.integers(0, 500),  # departures_7d
        st.integers(0, 7),  # flow_days
    ),
    min_size=1,
    max_size=4,
)


@given(figures=members, data=st.data())
@settings(max_examples=60, deadline=None)
def test_closed_day_totals_are_the_members_figures(
    figures: list[tuple[int, int, int, int, int]], data: st.DataObject
) -> None:
    ids = [f"l{k}" for k in range(len(figures))]
    pipe = Pipe(seeded("GR", *(loc(i, 0, 1, 10) for i in ids)), province_rules)
    items = [
        loc(i, 1, o, c, arrivals_7d=a, departures_7d=d, flow_days=f)
        for i, (o, c, a, d, f) in zip(ids, figures, strict=True)
    ]
    for item in data.draw(st.permutations(items)):
        pipe.push(item)
    ((date, totals, ukrainian),) = pipe.closed
    assert date == day(1)
    assert totals.occupancy == sum(f[0] for f in figures)
    assert totals.capacity == sum(f[1] for f in figures)
    assert totals.flows.arrivals == sum(f[2] for f in figures)
    assert totals.flows.departures == sum(f[3] for f in figures)
    assert totals.flows.days == max(f[4] for f in figures)
    assert totals.locations == len(figures)
    assert totals.free_places == totals.capacity - totals.occupancy
    assert ukrainian.locations == 0


def _events_as_set(events: Sequence[AlertEvent]) -> list[str]:
    return sorted(json.dumps(e.to_dict(), sort_keys=True) for e in events)


day_figures = st.lists(
    st.tuples(st.integers(0, 1100), st.integers(900, 1000), st.integers(0, 300)),
    min_size=3,
    max_size=3,
)


def _province_run(order: Sequence[Contribution]) -> tuple[list[str], list[Any]]:
    config = DEFAULTS.with_targets(SpreidingTargets((FIRST,)))
    pipe = Pipe(
        seeded("GR", *(loc(f"l{k}", 0, 900, 1000) for k in range(3))), province_rules, config
    )
    for item in order:
        pipe.push(item)
    return _events_as_set(pipe.events), [(d, t.to_dict()) for d, t, _ in pipe.closed]


@given(days=st.lists(day_figures, min_size=1, max_size=4), data=st.data())
@settings(max_examples=60, deadline=None)
def test_close_days_events_do_not_depend_on_arrival_order_within_a_day(
    days: list[list[tuple[int, int, int]]], data: st.DataObject
) -> None:
    per_day = [
        [loc(f"l{k}", n, o, c, arrivals_7d=a, flow_days=7) for k, (o, c, a) in enumerate(figures)]
        for n, figures in enumerate(days, start=1)
    ]
    in_order = [item for items in per_day for item in items]
    shuffled = [item for items in per_day for item in data.draw(st.permutations(items))]
    assert _province_run(shuffled) == _province_run(in_order)


@given(days=st.lists(day_figures, min_size=2, max_size=4), choices=st.lists(st.integers(0, 2)))
@settings(max_examples=60, deadline=None)
def test_close_days_events_do_not_depend_on_interleaving_of_members(
    days: list[list[tuple[int, int, int]]], choices: list[int]
) -> None:
    """Each member sends its days in order (one Kafka key); no member gets more than one day
    ahead of the slowest, so no day closes through lateness and every order must agree."""
    per_member = [
        [
            loc(f"l{k}", n, *days[n - 1][k][:2], arrivals_7d=days[n - 1][k][2], flow_days=7)
            for n in range(1, len(days) + 1)
        ]
        for k in range(3)
    ]
    sent = [0, 0, 0]
    order: list[Contribution] = []
    picks = iter(choices)
    while sum(sent) < 3 * len(days):
        # only the members that are not ahead may send their next day
        allowed = [k for k in range(3) if sent[k] == min(sent)]
        pick = next(picks, 0)
        k = allowed[pick % len(allowed)]
        order.append(per_member[k][sent[k]])
        sent[k] += 1
    in_order = [per_member[k][n] for n in range(len(days)) for k in range(3)]
    assert _province_run(order) == _province_run(in_order)


def test_a_member_read_far_ahead_keeps_every_open_day() -> None:
    """A replay reads the input partitions at their own pace: one can be months ahead of the
    other. The member on the fast partition must keep all its open days until the slow one
    catches up, or those days close without its figures (with a bound of 45 days, days 1-75
    below closed with member b alone, and the year benchmark raised false report_missing
    alerts)."""
    pipe = Pipe(seeded("GR", loc("a", 0, 900, 1000), loc("b", 0, 480, 500)), province_rules)
    nation = Pipe(
        seeded("NL", province_share(pipe.record, day(0), pipe.record.totals(), asylum=True)),
        national_rules,
    )

    def push(item: Contribution, progress: dt.date) -> list[dt.date]:
        before = len(pipe.closed)
        closed = pipe.push(item, progress=progress)
        for share in pipe.shares(before):
            nation.push(share, progress=share.date)
        return closed

    ahead = 120
    for n in range(1, ahead + 1):
        assert push(loc("a", n, 900 + n, 1000), day(0)) == []
    assert len(pipe.record.members["a"]) == ahead + 1
    closed: list[dt.date] = []
    for n in range(1, ahead + 1):
        closed += push(loc("b", n, 480, 500), day(n))
    assert closed == [day(n) for n in range(1, ahead + 1)]
    assert [(t.occupancy, t.locations) for _, t, _ in pipe.closed] == [
        (900 + n + 480, 2) for n in range(1, ahead + 1)
    ]
    assert brief(nation.events, "report_missing") == []
