"""The contribution's dict form and its checked decoder, made cheaper for issue 12, against the
plain versions they replaced: the same dict (the same keys, in the same order) from ``to_dict``,
and from ``contribution_from_dict`` the same value or the same InvalidReport (reason and text),
whatever a field holds. The references below are the code as it was."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.capacity.totals import _CONTRIBUTION_DEFAULTS, Contribution, MemberStatus
from alerts.errors import InvalidReport
from alerts.model import PROVINCES
from streams import messages as m
from streams.wire import boolean, count, iso_date, optional_text, text

FEW = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ the code as it was


def reference_to_dict(c: Contribution) -> dict[str, Any]:
    full = {
        "location_id": c.location_id,
        "province": c.province,
        "date": c.date.isoformat(),
        "occupancy": c.occupancy,
        "capacity": c.capacity,
        "name": c.name,
        "municipality_code": c.municipality_code,
        "without_bed": c.without_bed,
        "slept_outside": c.slept_outside,
        "active": c.active,
        "asylum": c.asylum,
        "locations": c.locations,
        "arrivals_7d": c.arrivals_7d,
        "transfers_out_7d": c.transfers_out_7d,
        "departures_7d": c.departures_7d,
        "flow_days": c.flow_days,
        "final": c.final,
        "members": [x.to_dict() for x in c.members],
    }
    return {
        key: value
        for key, value in full.items()
        if key not in _CONTRIBUTION_DEFAULTS or value != _CONTRIBUTION_DEFAULTS[key]
    }


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Contribution)}
_COUNTS = ("without_bed", "slept_outside", "locations", "arrivals_7d", "transfers_out_7d",
           "departures_7d", "flow_days")  # fmt: skip


def reference_from_dict(obj: Mapping[str, Any]) -> Contribution:
    clean: dict[str, Any] = {"location_id": text(obj, "location_id")}
    province = text(obj, "province")
    if province not in PROVINCES:
        raise InvalidReport("schema", f"'province' must be one of {' '.join(PROVINCES)}")
    clean["province"] = province
    iso_date(obj, "date")
    clean["date"] = obj["date"]
    for name in ("occupancy", "capacity"):
        clean[name] = count(obj, name, required=True, maximum=m.MAX_TOTAL, range_reason="schema")
    for name in _COUNTS:
        found = count(obj, name, maximum=m.MAX_TOTAL, range_reason="schema")
        clean[name] = _DEFAULTS[name] if found is None else found
    for name in ("active", "asylum", "final"):
        clean[name] = boolean(obj, name, default=_DEFAULTS[name])
    clean["name"] = optional_text(obj, "name", default="")
    clean["municipality_code"] = optional_text(obj, "municipality_code")
    members = obj.get("members", [])
    if not isinstance(members, list):
        raise InvalidReport("schema", "'members' must be a list")
    listed = []
    for member in members:
        if not isinstance(member, dict):
            raise InvalidReport("schema", f"a member must be a JSON object, got {m.quote(member)}")
        text(member, "location_id")
        iso_date(member, "date")
        listed.append({
            "location_id": member["location_id"],
            "name": optional_text(member, "name", default=""),
            "municipality_code": optional_text(member, "municipality_code"),
            "date": member["date"],
        })  # fmt: skip
    clean["members"] = listed
    return Contribution(**{
        **clean,
        "date": dt.date.fromisoformat(clean["date"]),
        "members": tuple(
            MemberStatus(**{**x, "date": dt.date.fromisoformat(x["date"])}) for x in listed
        ),
    })  # fmt: skip


# ------------------------------------------------------------------ inputs

DATES = st.dates(dt.date(2024, 1, 1), dt.date(2027, 12, 31))
TEXTS = st.text(max_size=8)
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**13), 10**13),
    st.sampled_from([0, 1, 10**12, 10**12 + 1, -1, 1.0, 2.5, float("nan"), float("inf")]),
    TEXTS,
    st.sampled_from(["", "2026-03-01", "2026-02-30", "20260301", "x" * 300, "GR", "ZZ"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(TEXTS, st.integers(), max_size=2),
)
MEMBERS = st.builds(MemberStatus, TEXTS.filter(bool), TEXTS, st.one_of(st.none(), TEXTS), DATES)
CONTRIBUTIONS = st.builds(
    Contribution,
    location_id=TEXTS.filter(bool),
    province=st.sampled_from(PROVINCES),
    date=DATES,
    occupancy=st.integers(0, 10**6),
    capacity=st.integers(0, 10**6),
    name=TEXTS,
    municipality_code=st.one_of(st.none(), TEXTS),
    without_bed=st.sampled_from([0, 0, 3]),
    slept_outside=st.sampled_from([0, 0, 7]),
    active=st.booleans(),
    asylum=st.booleans(),
    locations=st.sampled_from([1, 1, 0, 12]),
    arrivals_7d=st.integers(0, 50),
    transfers_out_7d=st.integers(0, 50),
    departures_7d=st.integers(0, 50),
    flow_days=st.integers(0, 7),
    final=st.booleans(),
    members=st.lists(MEMBERS, max_size=3).map(tuple),
)


@st.composite
def spoiled(draw: st.DrawFn) -> dict[str, Any]:
    """A contribution's dict as it comes off the wire, with a few fields (of it or of a member)
    replaced by odd values, removed, or joined by a field the decoder does not know."""
    obj = json.loads(json.dumps(draw(CONTRIBUTIONS).to_dict()))
    for _ in range(draw(st.integers(0, 3))):
        target = obj
        members = obj.get("members")
        if isinstance(members, list) and members and draw(st.booleans()):
            target = members[draw(st.integers(0, len(members) - 1))]
            if not isinstance(target, dict):
                target = obj
        name = draw(st.sampled_from([*sorted(m.CONTRIBUTION_FIELDS), "extra"]))
        if draw(st.integers(0, 3)) == 0:
            target.pop(name, None)
        else:
            target[name] = draw(ODD)
    return obj


def _outcome(decode: Any, obj: Mapping[str, Any]) -> Any:
    try:
        return decode(obj)
    except InvalidReport as exc:
        return ("invalid", exc.reason, str(exc))


@given(contribution=CONTRIBUTIONS)
@FEW
def test_to_dict_writes_what_it_wrote(contribution: Contribution) -> None:
    made = contribution.to_dict()
    assert list(made.items()) == list(reference_to_dict(contribution).items())
    assert Contribution.from_dict(made) == contribution


@given(obj=spoiled())
@FEW
def test_the_decoder_accepts_and_refuses_what_it_did(obj: dict[str, Any]) -> None:
    expected = _outcome(reference_from_dict, obj)
    assert _outcome(m.contribution_from_dict, obj) == expected
    # Once more: a date seen before is known now, and the plain value takes the quick way.
    assert _outcome(m.contribution_from_dict, obj) == expected


def test_the_defaults_left_out_are_the_dataclass_defaults() -> None:
    for name, default in _CONTRIBUTION_DEFAULTS.items():
        expected = _DEFAULTS[name]
        assert default == (list(expected) if isinstance(expected, tuple) else expected), name
    assert set(_CONTRIBUTION_DEFAULTS) == set(_DEFAULTS) - {
        "location_id", "province", "date", "occupancy", "capacity"
    }  # fmt: skip


_ODD_VALUES = [
    None,
    True,
    False,
    -1,
    10**12 + 1,
    2.0,
    2.5,
    "",
    "x" * 501,
    "2026-02-30",
    [],
    [1],
    {},
]


def test_a_value_that_looks_usual_but_one_field_is_odd_is_checked_fully() -> None:
    """Every field of a usual value (the quick way's) in turn made odd, after that value has been
    decoded once (so its date is known): the same value or the same reason as the code as it
    was, field by field."""
    usual = Contribution(
        "loc-1", "GR", dt.date(2026, 3, 1), 500, 600, "AZC", "GM0014", arrivals_7d=4, flow_days=7
    ).to_dict()
    assert m.contribution_from_dict(usual) == reference_from_dict(usual)
    checked = 0
    for name in sorted(m.CONTRIBUTION_FIELDS):
        for odd in _ODD_VALUES:
            obj = {**usual, name: odd}
            assert _outcome(m.contribution_from_dict, obj) == _outcome(reference_from_dict, obj), (
                name,
                odd,
            )
            checked += 1
        obj = {key: value for key, value in usual.items() if key != name}
        assert _outcome(m.contribution_from_dict, obj) == _outcome(reference_from_dict, obj), name
    assert checked == len(m.CONTRIBUTION_FIELDS) * len(_ODD_VALUES)
