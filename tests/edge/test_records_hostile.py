"""streams.records against hostile bytes: every failure is an InvalidReport with a reason code,
never RecursionError, ValueError or an accepted value nobody can encode again; implausible
dates are out_of_range; a dead letter always fits the broker's limit for one message."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from alerts.errors import InvalidReport
from streams.records import (
    DEAD_LETTER_DETAIL_CHARS,
    DEAD_LETTER_KEY_BYTES,
    DEAD_LETTER_MAX_BYTES,
    DEAD_LETTER_PAYLOAD_BYTES,
    dead_letter,
    dead_letter_key,
    encode,
    intake_to_domain,
    location_to_domain,
    occupancy_to_domain,
)

OCCUPANCY: dict[str, Any] = {
    "event_id": "ter-apel-2024-07-02",
    "location_id": "ter-apel",
    "date": "2024-07-02",
    "occupancy": 2380,
}
INTAKE: dict[str, Any] = {
    "event_id": "ter-apel-in-2024-07-02",
    "location_id": "ter-apel",
    "date": "2024-07-02",
    "arrivals": 3,
}
LOCATION: dict[str, Any] = {
    "location_id": "ter-apel",
    "name": "Ter Apel",
    "kind": "registration_centre",
    "municipality_code": "GM1950",
    "province": "GR",
    "capacity": 2000,
}

Convert = Callable[[bytes | None], object]
DECODERS: dict[str, tuple[Convert, dict[str, Any]]] = {
    "occupancy": (occupancy_to_domain, OCCUPANCY),
    "intake": (intake_to_domain, INTAKE),
    "location": (location_to_domain, LOCATION),
}


def wire(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def splice(base: dict[str, Any], name: str, raw_json: str) -> bytes:
    """``base`` as JSON with field ``name`` written as the literal ``raw_json``."""
    body = json.dumps({k: v for k, v in base.items() if k != name})
    return (body[:-1] + f', "{name}": {raw_json}}}').encode("utf-8")


DEEP = "[" * 10_000 + "]" * 10_000
BIG_INT = "1" * 5_000

HOSTILE: list[Any] = [
    # (field or None for the whole value, raw JSON or bytes, reason)
    pytest.param(None, DEEP.encode(), "invalid_json", id="array-10000-deep"),
    pytest.param(None, ('{"a":' * 10_000 + "1" + "}" * 10_000).encode(), "invalid_json", id="obj"),
    pytest.param(None, ("[" * 1020 + "]" * 1020).encode(), "invalid_json", id="array-1020-deep"),
    pytest.param(None, ("[" * 65 + "]" * 65).encode(), "invalid_json", id="array-65-deep"),
    pytest.param("note", DEEP, "invalid_json", id="deep-unknown-field"),
    pytest.param("note", "[" * 900 + "]" * 900, "invalid_json", id="900-deep-unknown-field"),
    pytest.param(None, BIG_INT.encode(), "schema", id="bare-big-int"),
    pytest.param("note", BIG_INT, "schema", id="big-int-unknown-field"),
    pytest.param("capacity", BIG_INT, "schema", id="big-int-count"),
    pytest.param("capacity", "-" + BIG_INT, "schema", id="big-negative-int-count"),
    pytest.param("capacity", "1e400", "schema", id="huge-float"),
    pytest.param("capacity", "NaN", "schema", id="nan"),
    pytest.param("capacity", "Infinity", "schema", id="infinity"),
    pytest.param("capacity", "-Infinity", "schema", id="minus-infinity"),
    pytest.param("capacity", "1e300", "out_of_range", id="large-whole-float"),
    pytest.param("capacity", "18446744073709551616", "out_of_range", id="beyond-u64"),
    pytest.param("capacity", "true", "schema", id="bool-for-count"),
    pytest.param("capacity", "-1", "out_of_range", id="negative"),
    pytest.param("capacity", "-0.5", "schema", id="negative-fraction"),
    pytest.param("capacity", '"12"', "schema", id="string-for-count"),
    pytest.param("capacity", "[" * 60 + "]" * 60, "schema", id="nested-list-for-count"),
    pytest.param("capacity", "{}", "schema", id="object-for-count"),
    pytest.param("location_id", '"\\ud800"', "schema", id="lone-high-surrogate"),
    pytest.param("location_id", '"ter-apel\\udc00"', "schema", id="lone-low-surrogate"),
    pytest.param("note", '"\\udfff"', "schema", id="surrogate-in-unknown-field"),
    pytest.param("event_id", '"ta-\\ud800"', "schema", id="surrogate-in-event-id"),
    pytest.param("name", '"Ter Apel\\udbff"', "schema", id="surrogate-in-name"),
    pytest.param("location_id", '"' + "a" * 1_000_000 + '"', "schema", id="1mb-id"),
    pytest.param("location_id", "null", "schema", id="null-id"),
    pytest.param(None, b"\xed\xa0\x80", "invalid_json", id="utf8-encoded-surrogate"),
    pytest.param(None, b'{"location_id": "\xed\xa0\x80"}', "invalid_json", id="surrogate-bytes"),
    pytest.param(None, b"\xef\xbb\xbf{}", "invalid_json", id="bom"),
    pytest.param(None, b"{} {}", "invalid_json", id="two-values"),
    pytest.param(None, b"[]", "schema", id="array"),
    pytest.param(None, b"1", "schema", id="number"),
    pytest.param(None, b'"x"', "schema", id="string"),
    pytest.param(None, b"true", "schema", id="bool"),
    pytest.param(None, b"", "invalid_json", id="empty"),
    pytest.param(None, b"\x00", "invalid_json", id="nul"),
    pytest.param(None, '{"a": 1}'.encode("utf-16-le"), "invalid_json", id="utf-16-no-bom"),
]


def _raw(base: dict[str, Any], field: str | None, raw: Any) -> bytes:
    if field is None:
        assert isinstance(raw, bytes)
        return raw
    return splice(base, field, raw)


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@pytest.mark.parametrize(("field", "raw", "reason"), HOSTILE)
def test_hostile_input_is_a_typed_error(
    decoder: str, field: str | None, raw: Any, reason: str
) -> None:
    convert, base = DECODERS[decoder]
    if field == "capacity" and decoder == "intake":
        field = "arrivals"
    with pytest.raises(InvalidReport) as caught:
        convert(_raw(base, field, raw))
    assert caught.value.reason == reason, caught.value.detail
    assert 0 < len(caught.value.detail) <= 400


def test_a_detail_quotes_at_most_a_hundred_characters_of_a_value() -> None:
    for value in ["x" * 1_000_000, 10**200, 1.5, ["a"] * 100_000, {"k": "v" * 100_000}]:
        with pytest.raises(InvalidReport) as caught:
            occupancy_to_domain(wire({**OCCUPANCY, "occupancy": value}))
        assert len(caught.value.detail) < 250, caught.value.detail


def test_a_surrogate_pair_is_one_character_not_an_error() -> None:
    raw = splice(LOCATION, "name", '"Ter Apel \\ud83d\\ude00"')
    assert location_to_domain(raw).name == "Ter Apel \U0001f600"


@pytest.mark.parametrize("name", ["event_id"])
def test_text_fields_have_a_length_limit(name: str) -> None:
    assert occupancy_to_domain(wire({**OCCUPANCY, name: "e" * 500})).event_id == "e" * 500
    with pytest.raises(InvalidReport) as caught:
        occupancy_to_domain(wire({**OCCUPANCY, name: "e" * 501}))
    assert caught.value.reason == "schema"


@pytest.mark.parametrize("name", ["name", "cap_source"])
def test_location_text_fields_have_a_length_limit(name: str) -> None:
    assert location_to_domain(wire({**LOCATION, name: "n" * 500})) is not None
    with pytest.raises(InvalidReport) as caught:
        location_to_domain(wire({**LOCATION, name: "n" * 501}))
    assert caught.value.reason == "schema"


@pytest.mark.parametrize(
    "reported_at", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "x" * 100_000]
)
def test_reported_at_without_a_utc_equivalent_is_schema(reported_at: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        occupancy_to_domain(wire({**OCCUPANCY, "reported_at": reported_at}))
    assert caught.value.reason == "schema"
    assert len(caught.value.detail) < 250


# --------------------------------------------------------------------------- plausible dates

# 2024-07-02 10:00 in Amsterdam
SENT = dt.datetime(2024, 7, 2, 8, 0, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("convert", [occupancy_to_domain, intake_to_domain])
@pytest.mark.parametrize(
    ("date", "timestamp", "accepted"),
    [
        ("2000-01-01", None, True),
        ("1999-12-31", None, False),
        ("0001-01-01", None, False),
        ("0001-01-01", SENT, False),
        ("2024-07-02", SENT, True),
        ("2024-07-04", SENT, True),  # two days ahead: still plausible
        ("2024-07-05", SENT, False),
        ("9999-12-31", SENT, False),
        ("9999-12-31", None, True),  # no timestamp: no check of how far ahead
        ("2020-01-01", SENT, True),  # late reports are history, not implausible
    ],
)
def test_report_dates_are_plausible(
    convert: Callable[..., Any], date: str, timestamp: float | None, accepted: bool
) -> None:
    base = OCCUPANCY if convert is occupancy_to_domain else INTAKE
    raw = wire({**base, "date": date})
    if accepted:
        assert convert(raw, timestamp=timestamp).date == dt.date.fromisoformat(date)
        return
    with pytest.raises(InvalidReport) as caught:
        convert(raw, timestamp=timestamp)
    assert caught.value.reason == "out_of_range"
    assert "'date'" in caught.value.detail


def test_the_future_is_counted_from_the_day_in_amsterdam() -> None:
    # 23:30 UTC on 2 July is already 3 July in Amsterdam: the 5th is two days ahead.
    late_evening = dt.datetime(2024, 7, 2, 23, 30, tzinfo=dt.UTC).timestamp()
    report = wire({**OCCUPANCY, "date": "2024-07-05"})
    assert occupancy_to_domain(report, timestamp=late_evening).date == dt.date(2024, 7, 5)


@pytest.mark.parametrize("timestamp", [-0.001, 0.0, float("nan"), float("inf"), 1e300, -1e300])
def test_a_timestamp_no_calendar_holds_skips_the_check(timestamp: float) -> None:
    report = occupancy_to_domain(wire({**OCCUPANCY, "date": "2030-01-01"}), timestamp=timestamp)
    assert report.date == dt.date(2030, 1, 1)


# --------------------------------------------------------------------------- dead letters


def _letter(payload: bytes | None, *, detail: str = "x", key: bytes | None = b"k") -> Any:
    return dead_letter(
        source_topic="opvang.occupancy",
        partition=1,
        offset=7,
        key=key,
        reason="schema",
        detail=detail,
        payload=payload,
    )


def _size(record: dict[str, Any], key: bytes | None) -> int:
    return len(encode(record)) + len(dead_letter_key(key) or b"")


def test_a_1mb_field_still_gives_a_dead_letter_under_the_limit() -> None:
    payload = wire({**OCCUPANCY, "event_id": "e" * 1_000_000})
    detail = f"'event_id' is {'e' * 1_000_000}"  # a careless detail quoting the whole field
    record = _letter(payload, detail=detail)
    assert _size(record, b"k") < DEAD_LETTER_MAX_BYTES
    assert record["payload_truncated"] is True
    assert record["payload_size"] == len(payload)
    assert record["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert payload.decode().startswith(record["payload"])
    assert len(record["payload"].encode()) > DEAD_LETTER_PAYLOAD_BYTES - 100
    assert len(encode(record["payload"])) <= DEAD_LETTER_PAYLOAD_BYTES + 2
    assert len(record["detail"]) <= DEAD_LETTER_DETAIL_CHARS
    assert "payload_encoding" not in record


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x01" * 1_000_000, id="control-characters-escape-to-six-bytes"),
        pytest.param(b'"' * 1_000_000, id="quotes-escape-to-two-bytes"),
        pytest.param("€".encode() * 350_000, id="three-byte-characters"),
        pytest.param(b"\xff" * 1_000_000, id="not-utf8-base64"),
        pytest.param(b"a" * (DEAD_LETTER_PAYLOAD_BYTES - 1) + "€".encode(), id="cut-mid-char"),
    ],
)
def test_any_payload_fits(payload: bytes) -> None:
    key = b"K" * 900_000
    record = _letter(payload, key=key, detail="\x00" * 1_000_000)
    assert _size(record, key) < DEAD_LETTER_MAX_BYTES
    assert record["payload_truncated"] is True
    assert record["payload_size"] == len(payload)
    assert record["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    if record.get("payload_encoding") == "base64":
        assert payload.startswith(base64.b64decode(record["payload"]))
    else:
        assert payload.startswith(record["payload"].encode())
    assert len(record["key"]) == DEAD_LETTER_KEY_BYTES
    assert dead_letter_key(key) == key[:DEAD_LETTER_KEY_BYTES]


def test_a_small_payload_is_whole() -> None:
    record = _letter(b'{"a": 1}')
    assert (record["payload"], record["payload_truncated"]) == ('{"a": 1}', False)
    assert record["payload_size"] == 8
    assert record["payload_sha256"] == hashlib.sha256(b'{"a": 1}').hexdigest()


def test_no_payload_still_has_the_fields() -> None:
    record = _letter(None, key=None)
    assert record["payload"] is None
    assert record["payload_truncated"] is False
    assert (record["payload_size"], record["payload_sha256"]) == (None, None)
    assert record["key"] is None and dead_letter_key(None) is None
