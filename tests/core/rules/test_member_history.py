"""``engine.on_contribution`` takes a quick way for the usual contribution (a day after the
member's newest, not closed yet) and ``AggregateRecord.as_of`` for the usual member (its newest
contribution on or before the day); both must give what the general way gives (issue 12). The
reference below is ``on_contribution`` as it was."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import engine
from alerts.capacity.totals import Contribution

BASE = dt.date(2025, 1, 1)


def reference_on_contribution(
    record: engine.AggregateRecord, item: Contribution
) -> engine.AggregateRecord:
    if record.closed is not None and item.date <= record.closed:
        kept_closed = [
            c for c in record.members.get(item.location_id, ()) if c.date <= record.closed
        ]
        if kept_closed and kept_closed[-1].date > item.date:
            return record
    history = [c for c in record.members.get(item.location_id, ()) if c.date != item.date]
    history.append(item)
    history.sort(key=lambda c: c.date)
    if record.closed is not None:
        closed = [c for c in history if c.date <= record.closed]
        history = closed[-1:] + [c for c in history if c.date > record.closed]
    kept = tuple(history[-engine.MEMBER_HISTORY :])
    members = {**record.members, item.location_id: kept}
    return engine.AggregateRecord(record.subject_id, members, record.closed, record.alerts)


def share(member: str, day: int, figure: int = 0) -> Contribution:
    return Contribution(member, "GR", BASE + dt.timedelta(days=day), figure, 100)


@st.composite
def records(draw: st.DrawFn) -> engine.AggregateRecord:
    """A province whose members hold a few contributions in date order, closed or not, some
    with more than one closed day (as no path writes them, but a record could hold)."""
    members = {}
    for member in ("a", "b", "c")[: draw(st.integers(0, 3))]:
        days = sorted(draw(st.sets(st.integers(0, 20), max_size=5)))
        members[member] = tuple(share(member, d) for d in days)
    closed = draw(st.one_of(st.none(), st.integers(0, 20)))
    date = None if closed is None else BASE + dt.timedelta(days=closed)
    return engine.AggregateRecord("GR", members, date)


@given(
    record=records(),
    items=st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(0, 25), st.integers(0, 9)), max_size=8
    ),
    day=st.integers(0, 25),
)
@settings(max_examples=300, deadline=None)
def test_the_quick_ways_decide_as_the_general_ones(
    record: engine.AggregateRecord, items: list[tuple[str, int, int]], day: int
) -> None:
    reference = record
    for member, at, figure in items:
        item = share(member, at, figure)
        record = engine.on_contribution(record, item)
        reference = reference_on_contribution(reference, item)
        assert record == reference
    date = BASE + dt.timedelta(days=day)
    expected = [
        next(c for c in reversed(history) if c.date <= date)
        for history in reference.members.values()
        if any(c.date <= date for c in history)
    ]
    assert record.as_of(date) == expected


def test_a_member_history_at_its_bound_still_drops_its_oldest() -> None:
    many = tuple(share("a", d) for d in range(engine.MEMBER_HISTORY))
    record = engine.AggregateRecord("GR", {"a": many})
    item = share("a", engine.MEMBER_HISTORY)
    assert engine.on_contribution(record, item) == reference_on_contribution(record, item)
    assert len(engine.on_contribution(record, item).members["a"]) == engine.MEMBER_HISTORY
