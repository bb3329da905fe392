"""Every decoder of a topic the worker reads, against arbitrary bytes and arbitrary JSON: it
returns a valid value or raises InvalidReport with one of its reason codes. Nothing else:
no RecursionError, ValueError, TypeError, KeyError, UnicodeError, and no accepted value that
cannot be written out again (a lone surrogate would fail on the changelog).

Inputs: arbitrary bytes; arbitrary JSON values (big integers, NaN and Infinity, lone
surrogates as escapes and as raw bytes, nesting far past every limit); and valid messages with
one field replaced by such a value, which reach the checks behind the first one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from builders import an_alert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.capacity.totals import Contribution
from alerts.dispatch.silence import Silence
from alerts.errors import InvalidReport
from alerts.model import (
    IntakeReport,
    Location,
    OccupancyReport,
)
from streams import messages as m
from streams.records import (
    EARLIEST_DATE,
    MAX_COUNT,
    intake_to_domain,
    location_to_domain,
    occupancy_to_domain,
)

SENT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC).timestamp()
RECORD_REASONS = {"invalid_json", "schema", "out_of_range"}
MESSAGE_REASONS = {"invalid_json", "schema"}
# About 12 s for the whole module on a shared 2-core machine.
FEW = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --------------------------------------------------------------------------- what is checked


def _encodable(value: Any) -> None:
    """Whatever a decoder accepted can be written again (no lone surrogate anywhere)."""
    orjson.dumps(value, default=str)


def _check_report(report: OccupancyReport | IntakeReport) -> None:
    assert isinstance(report.event_id, str) and report.event_id
    assert report.date >= EARLIEST_DATE
    assert (report.date - dt.date(2026, 3, 2)).days <= 2
    counts = [getattr(report, f.name) for f in dataclasses.fields(report)]
    for value in counts:
        if isinstance(value, int) and not isinstance(value, bool):
            assert 0 <= value <= MAX_COUNT
    _encodable(report)


def _occupancy(raw: bytes | None) -> None:
    _check_report(occupancy_to_domain(raw, timestamp=SENT))


def _intake(raw: bytes | None) -> None:
    _check_report(intake_to_domain(raw, timestamp=SENT))


def _location(raw: bytes | None) -> None:
    found = location_to_domain(raw)
    assert isinstance(found, Location)
    assert 0 <= found.capacity <= MAX_COUNT
    _encodable(found)


def _round_trip(
    decode: Callable[[bytes | None], Any], encode: Callable[[Any], bytes]
) -> Callable[[bytes | None], None]:
    """A decoded message written by its encoder reads back as the same message."""

    def check(raw: bytes | None) -> None:
        value = decode(raw)
        assert decode(encode(value)) == value

    return check


def _silence(raw: bytes | None) -> None:
    silence = m.decode_silence("api-1", raw)
    assert isinstance(silence, Silence)
    assert m.decode_silence("api-1", m.encode_silence(silence)) == silence


def _audit(raw: bytes | None) -> None:
    entry = m.decode_audit_entry(raw)
    assert isinstance(entry, dict)
    _encodable(entry)


RECORDS: dict[str, Callable[[bytes | None], None]] = {
    "occupancy": _occupancy,
    "intake": _intake,
    "location": _location,
}
MESSAGES: dict[str, Callable[[bytes | None], None]] = {
    "province": _round_trip(m.decode_province_message, m.encode_province_message),
    "national": _round_trip(m.decode_national_message, m.encode_national_message),
    "notification": _round_trip(m.decode_notification_message, m.encode_notification_message),
    "escalation": _round_trip(m.decode_escalation_message, m.encode_escalation_message),
    "alert": _round_trip(m.decode_alert_event, m.encode_alert_event),
    "silence": _silence,
    "audit": _audit,
}
REASONS = {**dict.fromkeys(RECORDS, RECORD_REASONS), **dict.fromkeys(MESSAGES, MESSAGE_REASONS)}
CHECKS = {**RECORDS, **MESSAGES}


def returns_or_refuses(decoder: str, raw: bytes | None) -> None:
    try:
        CHECKS[decoder](raw)
    except InvalidReport as exc:
        assert exc.reason in REASONS[decoder], exc
        assert 0 < len(exc.detail) <= 1000


# --------------------------------------------------------------------------- inputs

# Hypothesis leaves surrogates out of characters() unless asked for them.
_ANY_CHARACTER = st.characters() | st.characters(categories=["Cs"])
_text = st.text(_ANY_CHARACTER, max_size=20) | st.sampled_from(
    ["", "ter-apel", "2026-03-02", "2026-03-02T08:00:00+01:00", "firing", "GR", "\ud800"]
)
_numbers = (
    st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, -1, 1.0, 2.5, MAX_COUNT, MAX_COUNT + 1, 2**63, 2**64, 10**400])
)
_scalars = st.none() | st.booleans() | _numbers | _text
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def deep(draw: st.DrawFn) -> str:
    depth = draw(st.integers(min_value=60, max_value=12_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inner = "1" if opener != "[" else ""
    return opener * depth + inner + closer * depth


def _write(value: Any, how: str) -> bytes:
    """JSON text of ``value``: escapes only (``\\ud800``), or raw UTF-8 with lone surrogates
    written as the three bytes no UTF-8 decoder takes."""
    if how == "ascii":
        return json.dumps(value, ensure_ascii=True).encode("ascii")
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


ALERT = an_alert(
    alert_id="cap_exceeded-ter-apel-1",
    value=2100,
    summary="Ter Apel vol",
    starts_at="2026-03-02T09:00:00+01:00",
    event_date=dt.date(2026, 3, 2),
    revision=2,
    labels={"a": "b"},
).to_dict()
SHARE = Contribution(
    "ter-apel", "GR", dt.date(2026, 3, 2), 2100, 2000, name="Ter Apel", flow_days=7
).to_dict() | {
    "members": [{"location_id": "x", "name": "X", "municipality_code": None, "date": "2026-03-01"}]
}
VALID: dict[str, dict[str, Any]] = {
    "occupancy": {
        "event_id": "e1",
        "location_id": "ter-apel",
        "date": "2026-03-02",
        "occupancy": 2100,
        "capacity": 2000,
        "reported_at": "2026-03-02T08:00:00+01:00",
    },
    "intake": {"event_id": "e2", "location_id": "ter-apel", "date": "2026-03-02", "arrivals": 3},
    "location": {
        "location_id": "ter-apel",
        "name": "Ter Apel",
        "kind": "registration_centre",
        "municipality_code": "GM1950",
        "province": "GR",
        "capacity": 2000,
        "cap": 2000,
        "cap_source": "afspraak",
        "active": True,
    },
    "province": {"type": "contributions", "items": [SHARE, SHARE]},
    "national": SHARE,
    "notification": {
        "type": "notification",
        "notification_id": "n1",
        "receiver": "coa",
        "queued_at": "2026-03-02T08:00:00+00:00",
        "event": ALERT,
        "group": {"key": "k", "wait": 30, "interval": 300, "repeat": None},
    },
    "escalation": ALERT,
    "alert": ALERT,
    "silence": {
        "matchers": ['severity=~"crit.*"', "province=GR"],
        "starts_at": "2026-03-02T08:00:00+01:00",
        "ends_at": "2026-03-03T08:00:00+01:00",
        "author": "Jan",
        "comment": "onderhoud",
    },
    "audit": {"type": "change", "time": "2026-03-02T08:00:00+00:00", "event": ALERT},
}


@st.composite
def one_field_changed(draw: st.DrawFn, decoder: str) -> Any:
    """A valid message with one field (perhaps nested one level down) replaced or removed."""
    body = json.loads(json.dumps(VALID[decoder]))
    target = body
    nested = [k for k, v in body.items() if isinstance(v, dict)]
    if nested and draw(st.booleans()):
        target = body[draw(st.sampled_from(nested))]
    name = draw(st.sampled_from([*target, "type", "extra"]))
    if draw(st.integers(0, 5)) == 0:
        target.pop(name, None)
    else:
        target[name] = draw(json_values)
    return body


DECODERS = sorted(CHECKS)


# --------------------------------------------------------------------------- the properties


@pytest.mark.parametrize("decoder", DECODERS)
@FEW
@given(raw=st.binary(max_size=200) | st.none())
def test_arbitrary_bytes(decoder: str, raw: bytes | None) -> None:
    returns_or_refuses(decoder, raw)


@pytest.mark.parametrize("decoder", DECODERS)
@FEW
@given(value=json_values, how=st.sampled_from(["ascii", "raw"]))
def test_arbitrary_json(decoder: str, value: Any, how: str) -> None:
    returns_or_refuses(decoder, _write(value, how))


@pytest.mark.parametrize("decoder", DECODERS)
@settings(FEW, max_examples=15)
@given(text=deep())
def test_deep_nesting(decoder: str, text: str) -> None:
    returns_or_refuses(decoder, text.encode())


@pytest.mark.parametrize("decoder", DECODERS)
@FEW
@given(data=st.data(), how=st.sampled_from(["ascii", "raw"]))
def test_valid_messages_with_one_field_changed(decoder: str, data: st.DataObject, how: str) -> None:
    body = data.draw(one_field_changed(decoder))
    returns_or_refuses(decoder, _write(body, how))


@pytest.mark.parametrize("decoder", DECODERS)
@settings(FEW, max_examples=20)
@given(data=st.data())
def test_a_deep_or_huge_value_in_any_field(decoder: str, data: st.DataObject) -> None:
    body = json.loads(json.dumps(VALID[decoder]))
    name = data.draw(st.sampled_from([*body, "extra"]))
    value = data.draw(
        deep()
        | st.integers(4000, 6000).map(lambda n: "9" * n)
        | st.sampled_from(["NaN", "-Infinity", "1e400", '"\\udc00"', '"' + "x" * 100_000 + '"'])
    )
    text = json.dumps({k: v for k, v in body.items() if k != name})
    raw = (text[:-1] + ("," if len(text) > 2 else "") + f'"{name}": {value}}}').encode()
    returns_or_refuses(decoder, raw)


@pytest.mark.parametrize("decoder", DECODERS)
def test_the_valid_messages_are_valid(decoder: str) -> None:
    CHECKS[decoder](json.dumps(VALID[decoder]).encode())
