"""streams.records: wire bytes to domain values, each failure with its dead-letter reason code."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from alerts.errors import InvalidReport
from alerts.model import IntakeReport, Location, OccupancyReport
from streams.records import (
    MAX_COUNT,
    dead_letter,
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
}
LOCATION: dict[str, Any] = {
    "location_id": "ter-apel",
    "name": "Ter Apel",
    "kind": "registration_centre",
    "municipality_code": "GM1950",
    "province": "GR",
    "capacity": 2000,
}


def wire(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def without(base: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k != name}


# --------------------------------------------------------------------------- valid input


def test_occupancy_full() -> None:
    raw = wire(
        with_(
            OCCUPANCY,
            capacity=2100,
            without_bed=60,
            slept_outside=12,
            reported_at="2024-07-02T08:15:00+02:00",
        )
    )
    assert occupancy_to_domain(raw) == OccupancyReport(
        event_id="ter-apel-2024-07-02",
        location_id="ter-apel",
        date=dt.date(2024, 7, 2),
        occupancy=2380,
        capacity=2100,
        without_bed=60,
        slept_outside=12,
        reported_at=dt.datetime(2024, 7, 2, 6, 15, tzinfo=dt.UTC),
    )


def test_occupancy_defaults() -> None:
    report = occupancy_to_domain(wire(OCCUPANCY))
    assert report == OccupancyReport("ter-apel-2024-07-02", "ter-apel", dt.date(2024, 7, 2), 2380)
    assert (report.capacity, report.without_bed, report.slept_outside) == (None, 0, 0)
    assert report.reported_at is None


def test_occupancy_nulls_are_defaults() -> None:
    raw = wire(with_(OCCUPANCY, capacity=None, without_bed=None, reported_at=None))
    report = occupancy_to_domain(raw)
    assert (report.capacity, report.without_bed, report.reported_at) == (None, 0, None)


def test_reported_at_with_z() -> None:
    report = occupancy_to_domain(wire(with_(OCCUPANCY, reported_at="2024-07-02T06:15:00Z")))
    assert report.reported_at == dt.datetime(2024, 7, 2, 6, 15, tzinfo=dt.UTC)
    assert report.reported_at is not None and report.reported_at.utcoffset() == dt.timedelta(0)


def test_zero_and_max_counts_accepted() -> None:
    report = occupancy_to_domain(wire(with_(OCCUPANCY, occupancy=0, without_bed=MAX_COUNT)))
    assert (report.occupancy, report.without_bed) == (0, MAX_COUNT)
    assert MAX_COUNT == 1_000_000


def test_whole_float_count_accepted() -> None:
    assert occupancy_to_domain(wire(with_(OCCUPANCY, occupancy=2380.0))).occupancy == 2380


def test_intake_full_and_defaults() -> None:
    full = wire(with_(INTAKE, arrivals=310, transfers_out=120, departures=40, unplaced=25))
    assert intake_to_domain(full) == IntakeReport(
        "ter-apel-in-2024-07-02", "ter-apel", dt.date(2024, 7, 2), 310, 120, 40, 25
    )
    assert intake_to_domain(wire(INTAKE)) == IntakeReport(
        "ter-apel-in-2024-07-02", "ter-apel", dt.date(2024, 7, 2), 0, 0, 0, 0
    )


def test_location_full_and_defaults() -> None:
    raw = wire(with_(LOCATION, cap=2000, cap_source="Afspraak COA-Westerwolde", active=False))
    assert location_to_domain(raw) == Location(
        location_id="ter-apel",
        name="Ter Apel",
        kind="registration_centre",
        municipality_code="GM1950",
        province="GR",
        capacity=2000,
        cap=2000,
        cap_source="Afspraak COA-Westerwolde",
        active=False,
    )
    plain = location_to_domain(wire(LOCATION))
    assert (plain.cap, plain.cap_source, plain.active) == (None, None, True)


def test_unknown_extra_fields_are_ignored() -> None:
    extra = {"note": "telling 08:00", "source": {"system": "coa"}, "version": 2}
    assert occupancy_to_domain(wire({**OCCUPANCY, **extra})) == occupancy_to_domain(wire(OCCUPANCY))
    assert intake_to_domain(wire({**INTAKE, **extra})) == intake_to_domain(wire(INTAKE))
    assert location_to_domain(wire({**LOCATION, **extra})) == location_to_domain(wire(LOCATION))


def test_utf8_text_decoded() -> None:
    loc = location_to_domain(wire(with_(LOCATION, name="Zoutkamp – ’t Hogeland")))
    assert loc.name == "Zoutkamp – ’t Hogeland"
    raw = json.dumps(with_(LOCATION, name="Échelle")).encode("utf-8")
    assert location_to_domain(raw).name == "Échelle"


# --------------------------------------------------------------------------- failures

Convert = Callable[[bytes | None], object]


def _case(convert: Convert, raw: bytes | None, reason: str, id: str) -> Any:
    return pytest.param(convert, raw, reason, id=id)


FAILURES = [
    # invalid_json
    _case(occupancy_to_domain, None, "invalid_json", "none"),
    _case(occupancy_to_domain, b"", "invalid_json", "empty"),
    _case(occupancy_to_domain, b"\x00\x01garbage", "invalid_json", "garbage"),
    _case(occupancy_to_domain, b'{"event_id": "a",', "invalid_json", "truncated"),
    _case(
        occupancy_to_domain,
        b'{"event_id":"caf\xe9","location_id":"ter-apel","date":"2024-07-02","occupancy":1}',
        "invalid_json",
        "latin1-bytes",
    ),
    _case(occupancy_to_domain, b"\xff\xfe\xfa\xfb", "invalid_json", "random-high-bytes"),
    _case(intake_to_domain, None, "invalid_json", "intake-none"),
    _case(location_to_domain, b"not json", "invalid_json", "location-garbage"),
    # schema
    _case(occupancy_to_domain, wire([OCCUPANCY]), "schema", "array-not-object"),
    _case(occupancy_to_domain, wire("ter-apel"), "schema", "string-not-object"),
    _case(occupancy_to_domain, b"null", "schema", "json-null"),
    _case(occupancy_to_domain, wire(without(OCCUPANCY, "event_id")), "schema", "no-event-id"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, event_id="")), "schema", "empty-event-id"),
    _case(occupancy_to_domain, wire(without(OCCUPANCY, "occupancy")), "schema", "no-occupancy"),
    _case(occupancy_to_domain, wire(without(OCCUPANCY, "date")), "schema", "no-date"),
    _case(occupancy_to_domain, wire(without(OCCUPANCY, "location_id")), "schema", "no-location"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, occupancy="2380")), "schema", "str-for-int"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, occupancy=True)), "schema", "bool-for-int"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, without_bed=False)), "schema", "bool-opt"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, occupancy=23.5)), "schema", "fraction"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, capacity=[1])), "schema", "list-for-int"),
    _case(
        occupancy_to_domain,
        b'{"event_id":"a","location_id":"x","date":"2024-07-02","occupancy":NaN}',
        "schema",
        "nan",
    ),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, date="2024-02-30")), "schema", "feb-30"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, date="02-07-2024")), "schema", "dmy-date"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, date="gisteren")), "schema", "word-date"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, date=20240702)), "schema", "int-date"),
    _case(intake_to_domain, wire(with_(INTAKE, date="2024-13-01")), "schema", "intake-month-13"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, location_id="Ter Apel")), "schema", "id-sp"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, location_id="TER-APEL")), "schema", "id-up"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, location_id="ter_apel")), "schema", "id-_"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, location_id="a" * 65)), "schema", "id-65"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, location_id="ter-apel\n")), "schema", "id-nl"),
    _case(
        occupancy_to_domain,
        wire(with_(OCCUPANCY, reported_at="2024-07-02T08:15:00")),
        "schema",
        "reported-at-naive",
    ),
    _case(
        occupancy_to_domain,
        wire(with_(OCCUPANCY, reported_at="vanochtend")),
        "schema",
        "reported-at-garbage",
    ),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, reported_at=1720000000)), "schema", "ts-int"),
    _case(location_to_domain, wire(with_(LOCATION, province="gr")), "schema", "province-lower"),
    _case(location_to_domain, wire(with_(LOCATION, province="XX")), "schema", "province-xx"),
    _case(location_to_domain, wire(with_(LOCATION, province="NL")), "schema", "province-nl"),
    _case(location_to_domain, wire(with_(LOCATION, municipality_code="1950")), "schema", "gm-none"),
    _case(location_to_domain, wire(with_(LOCATION, municipality_code="GM195")), "schema", "gm-3"),
    _case(location_to_domain, wire(with_(LOCATION, municipality_code="GM19500")), "schema", "gm5"),
    _case(location_to_domain, wire(with_(LOCATION, municipality_code="gm1950")), "schema", "gm-lc"),
    _case(location_to_domain, wire(with_(LOCATION, kind="hotel")), "schema", "kind-unknown"),
    _case(location_to_domain, wire(with_(LOCATION, active="yes")), "schema", "active-not-bool"),
    _case(location_to_domain, wire(without(LOCATION, "capacity")), "schema", "no-capacity"),
    _case(location_to_domain, wire(without(LOCATION, "name")), "schema", "no-name"),
    _case(location_to_domain, wire(with_(LOCATION, location_id="Ter Apel")), "schema", "loc-id"),
    # out_of_range
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, occupancy=-1)), "out_of_range", "negative"),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, slept_outside=-5)), "out_of_range", "neg-opt"),
    _case(
        occupancy_to_domain,
        wire(with_(OCCUPANCY, occupancy=MAX_COUNT + 1)),
        "out_of_range",
        "absurd",
    ),
    _case(occupancy_to_domain, wire(with_(OCCUPANCY, occupancy=10**30)), "out_of_range", "huge"),
    _case(intake_to_domain, wire(with_(INTAKE, arrivals=-3)), "out_of_range", "intake-negative"),
    _case(
        intake_to_domain, wire(with_(INTAKE, unplaced=5_000_000)), "out_of_range", "intake-absurd"
    ),
    _case(location_to_domain, wire(with_(LOCATION, capacity=-10)), "out_of_range", "loc-neg"),
    _case(location_to_domain, wire(with_(LOCATION, cap=2_000_000)), "out_of_range", "cap-absurd"),
]


@pytest.mark.parametrize(("convert", "raw", "reason"), FAILURES)
def test_failure_reason(convert: Convert, raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        convert(raw)
    assert caught.value.reason == reason
    assert caught.value.detail
    assert str(caught.value).startswith(f"{reason}: ")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occupancy": "veel"}, "occupancy"),
        ({"without_bed": -1}, "without_bed"),
        ({"date": "2024-02-30"}, "date"),
        ({"location_id": "Ter Apel"}, "location_id"),
    ],
)
def test_failure_detail_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        occupancy_to_domain(wire({**OCCUPANCY, **changes}))
    assert field in caught.value.detail


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_non_utf8_encoded_json_is_invalid_json(encoding: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        occupancy_to_domain(json.dumps(OCCUPANCY).encode(encoding))
    assert caught.value.reason == "invalid_json"


def test_municipality_code_needs_ascii_digits() -> None:
    with pytest.raises(InvalidReport) as caught:
        location_to_domain(wire(with_(LOCATION, municipality_code="GM١٩٥٠")))
    assert caught.value.reason == "schema"


@pytest.mark.parametrize("text", ["20240702", "2024-W27-2"])
def test_date_must_be_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        occupancy_to_domain(wire(with_(OCCUPANCY, date=text)))
    assert caught.value.reason == "schema"


# --------------------------------------------------------------------------- dead letters


def test_dead_letter_keeps_utf8_payload_as_text() -> None:
    payload = '{"event_id":"x","naam":"Zoë"'.encode()
    record = dead_letter(
        source_topic="opvang.occupancy",
        partition=3,
        offset=1207,
        key=b"ter-apel",
        reason="invalid_json",
        detail="not UTF-8 JSON",
        payload=payload,
    )
    assert record == {
        "source_topic": "opvang.occupancy",
        "partition": 3,
        "offset": 1207,
        "key": "ter-apel",
        "reason": "invalid_json",
        "detail": "not UTF-8 JSON",
        "payload": '{"event_id":"x","naam":"Zoë"',
        "payload_truncated": False,
        "payload_size": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    json.dumps(record)  # the record itself must be JSON


def test_dead_letter_base64_for_non_utf8_payload() -> None:
    payload = b"\xff\xfe\x00garbage\xe9"
    record = dead_letter(
        source_topic="opvang.intake",
        partition=0,
        offset=5,
        key=None,
        reason="invalid_json",
        detail="x",
        payload=payload,
    )
    assert record["payload_encoding"] == "base64"
    assert record["payload"] == "//4AZ2FyYmFnZek="
    assert base64.b64decode(record["payload"]) == payload
    assert record["key"] is None
    json.dumps(record)


def test_dead_letter_without_payload() -> None:
    record = dead_letter(
        source_topic="opvang.locations",
        partition=None,
        offset=None,
        key=b"\xffkey",
        reason="invalid_json",
        detail="the message has no value",
        payload=None,
    )
    assert record["payload"] is None
    assert "payload_encoding" not in record
    assert (record["partition"], record["offset"]) == (None, None)
    assert record["key"] == "\ufffdkey"
