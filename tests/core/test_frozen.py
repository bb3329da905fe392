"""``alerts.frozen.quick_init``: the cheaper ``__init__`` of the core's frozen values must make
exactly what the dataclass's own ``__init__`` makes (issue 12)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import pickle
from typing import Any

import pytest

from alerts import engine, model
from alerts.capacity import location, totals
from alerts.frozen import quick_init
from alerts.rules import lifecycle

QUICK = [
    model.OccupancyReport,
    model.IntakeReport,
    model.AlertEvent,
    lifecycle.Finding,
    lifecycle.AlertState,
    location.Flows,
    location.DayRecord,
    location.LocationState,
    totals.MemberStatus,
    totals.Contribution,
    totals.Totals,
    engine.LocationRecord,
    engine.Outcome,
    engine.AggregateRecord,
    engine.AggregateOutcome,
]


def _sample() -> type[Any]:
    """Every kind of field: required, with a default, with a factory, and not in ``__init__``."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Sample:
        a: int
        b: str = "b"
        c: dict[str, int] = dataclasses.field(default_factory=dict, compare=False)
        d: tuple[int, ...] = ()
        e: list[int] | None = dataclasses.field(default=None, init=False, compare=False)
        f: list[int] = dataclasses.field(default_factory=list, init=False, compare=False)

    return Sample


@pytest.mark.parametrize(
    "args",
    [((1,), {}), ((1, "x"), {}), ((1,), {"c": {"k": 1}}), ((), {"a": 2, "d": (3,), "b": "y"})],
)
def test_quick_init_makes_what_the_dataclass_makes(
    args: tuple[tuple[Any, ...], dict[str, Any]],
) -> None:
    plain, quick = _sample(), quick_init(_sample())
    positional, named = args
    made, expected = quick(*positional, **named), plain(*positional, **named)
    for f in dataclasses.fields(plain):
        assert getattr(made, f.name) == getattr(expected, f.name), f.name
    assert repr(made).split("(", 1)[1] == repr(expected).split("(", 1)[1]
    assert hash(made) == hash(expected)
    # The same parameters and defaults (a factory's stand-in and the annotations aside).
    ours, theirs = inspect.signature(quick).parameters, inspect.signature(plain).parameters
    assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in theirs.values()]
    assert ours["b"].default == theirs["b"].default and ours["d"].default == theirs["d"].default
    # A factory makes a new value for each instance, as the dataclass's does.
    assert made.c is not quick(*positional, **named).c or "c" in named
    assert made.f == [] and made.f is not quick(*positional, **named).f
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        quick()
    with pytest.raises(TypeError):
        quick(1, z=2)


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_the_core_values_keep_the_signature_of_their_fields(cls: type[Any]) -> None:
    """Each value given the quick ``__init__`` takes the same parameters, with the same defaults,
    as the dataclass made from its fields would."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    parameters = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in parameters] == [f.name for f in fields]
    for f, p in zip(fields, parameters, strict=True):
        if f.default is not dataclasses.MISSING:
            assert p.default == f.default
        elif f.default_factory is dataclasses.MISSING:
            assert p.default is inspect.Parameter.empty


def test_a_value_made_by_the_quick_init_is_the_same_value() -> None:
    day = location.DayRecord(dt.date(2025, 1, 2), "e1", 10, seen=("e1",))
    assert day == location.DayRecord.from_dict(day.to_dict())
    assert pickle.loads(pickle.dumps(day)) == day
    assert dataclasses.replace(day, occupancy=11).occupancy == 11
    finding = lifecycle.Finding("r", engine.NATIONAL, True, False, "warning", 1, 2, "s")  # type: ignore[arg-type]
    assert finding.labels == {} and finding.headroom is None
    state = location.LocationState("x")
    assert state.days == () and state.days_index().by_date == {}


def test_quick_init_refuses_a_class_it_cannot_speed_up() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Keywords:
        a: int

    for cls in (NoSlots, NotFrozen, Checked, Keywords):
        with pytest.raises(TypeError):
            quick_init(cls)
