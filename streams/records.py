"""Wire records: bytes from a topic to domain values, and dead letters for what fails.

Each ``*_to_domain`` function takes the raw message value and returns a value from
:mod:`alerts.model`, or raises :class:`~alerts.errors.InvalidReport` whose ``reason`` is one of
``invalid_json``, ``schema``, ``out_of_range``, and nothing else, whatever the bytes (see
:mod:`streams.wire`). Unknown extra fields are ignored (contract v1).

Report dates are checked for plausibility: before :data:`EARLIEST_DATE`, or more than
:data:`FUTURE_DAYS` days after the Kafka timestamp of the message that carries the report, a date
is ``out_of_range`` (a report dated 9999-12-31 would otherwise become the location's current date
for good).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson

from alerts.errors import InvalidReport
from alerts.model import LOCATION_KINDS, PROVINCES, IntakeReport, Location, OccupancyReport
from streams.wire import (
    MAX_TEXT,
    boolean,
    count,
    cut,
    decode_object,
    iso_date,
    moment,
    optional_text,
    quote,
    text,
)

__all__ = [
    "DEAD_LETTER_DETAIL_CHARS",
    "DEAD_LETTER_KEY_BYTES",
    "DEAD_LETTER_MAX_BYTES",
    "DEAD_LETTER_PAYLOAD_BYTES",
    "EARLIEST_DATE",
    "FUTURE_DAYS",
    "MAX_COUNT",
    "MAX_TEXT",
    "dead_letter",
    "dead_letter_key",
    "decode_object",
    "encode",
    "intake_to_domain",
    "location_to_domain",
    "occupancy_to_domain",
]

#: No location holds a million people; a larger count is a typo or garbage, not a report.
MAX_COUNT: Final = 1_000_000

#: No report is dated before this day.
EARLIEST_DATE: Final = dt.date(2000, 1, 1)

#: A report may be dated at most this many days after the day (in Amsterdam) of its message's
#: Kafka timestamp: the morning count is dated the day it is made, and a day more covers any
#: clock or time zone slip.
FUTURE_DAYS: Final = 2

#: The most bytes of the original value a dead letter keeps (as text, or before base64).
DEAD_LETTER_PAYLOAD_BYTES: Final = 256 * 1024
#: The longest ``detail`` of a dead letter.
DEAD_LETTER_DETAIL_CHARS: Final = 1000
#: The most bytes of the original key a dead letter keeps (as its ``key`` field and message key).
DEAD_LETTER_KEY_BYTES: Final = 1024
#: What a dead letter (value and key) always stays under: the broker's default limit for one
#: message (``message.max.bytes``, 1,048,588) less room for the record batch around it. The
#: dead-letter topic is created with the broker's defaults.
DEAD_LETTER_MAX_BYTES: Final = 1_000_000

_AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")
_LOCATION_ID = re.compile(r"[a-z0-9-]{1,64}")
_MUNICIPALITY = re.compile(r"GM[0-9]{4}")


def encode(value: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (orjson: the encoder runs for every message the worker sends)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _count(obj: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    return count(obj, name, required=required, maximum=MAX_COUNT)


def _location_id(obj: Mapping[str, Any]) -> str:
    value = text(obj, "location_id", max_chars=64)
    if not _LOCATION_ID.fullmatch(value):
        raise InvalidReport(
            "schema", f"'location_id' must match [a-z0-9-]{{1,64}}, got {quote(value)}"
        )
    return value


def _timestamp_day(timestamp: float | None) -> dt.date | None:
    """The day in Amsterdam of a Kafka timestamp (seconds), None when there is none to use (no
    timestamp, Kafka's -1, or one no calendar holds)."""
    if timestamp is None or not isinstance(timestamp, int | float):
        return None
    if isinstance(timestamp, bool) or not math.isfinite(timestamp) or timestamp <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(timestamp, _AMSTERDAM).date()
    except (OverflowError, OSError, ValueError):
        return None


def _report_date(obj: Mapping[str, Any], timestamp: float | None) -> dt.date:
    date = iso_date(obj, "date")
    if date < EARLIEST_DATE:
        raise InvalidReport(
            "out_of_range", f"'date' {date.isoformat()} is before {EARLIEST_DATE.isoformat()}"
        )
    sent = _timestamp_day(timestamp)
    if sent is not None and (date - sent).days > FUTURE_DAYS:
        raise InvalidReport(
            "out_of_range",
            f"'date' {date.isoformat()} is more than {FUTURE_DAYS} days after the message was "
            f"sent ({sent.isoformat()})",
        )
    return date


def location_to_domain(raw: bytes | None) -> Location:
    """A Location record (the locations topic's value), or :class:`InvalidReport`."""
    obj = decode_object(raw)
    kind = text(obj, "kind")
    if kind not in LOCATION_KINDS:
        raise InvalidReport("schema", f"'kind' must be one of {', '.join(LOCATION_KINDS)}")
    municipality = text(obj, "municipality_code")
    if not _MUNICIPALITY.fullmatch(municipality):
        raise InvalidReport(
            "schema", f"'municipality_code' must be GM + 4 digits: {quote(municipality)}"
        )
    province = text(obj, "province")
    if province not in PROVINCES:
        raise InvalidReport("schema", f"'province' must be one of {' '.join(PROVINCES)}")
    cap_source = obj.get("cap_source")
    return Location(
        location_id=_location_id(obj),
        name=text(obj, "name"),
        kind=kind,
        municipality_code=municipality,
        province=province,
        capacity=_count(obj, "capacity", required=True) or 0,
        cap=_count(obj, "cap"),
        # Anything but a string has always been read as "no source" (contract v1).
        cap_source=optional_text(obj, "cap_source") if isinstance(cap_source, str) else None,
        active=boolean(obj, "active", default=True),
    )


def occupancy_to_domain(raw: bytes | None, *, timestamp: float | None = None) -> OccupancyReport:
    """An OccupancyReport, or :class:`InvalidReport`. ``timestamp``: the Kafka timestamp of the
    message (seconds since the epoch), for the plausibility of the date; None skips the check
    of how far the date lies ahead."""
    obj = decode_object(raw)
    return OccupancyReport(
        event_id=text(obj, "event_id"),
        location_id=_location_id(obj),
        date=_report_date(obj, timestamp),
        occupancy=_count(obj, "occupancy", required=True) or 0,
        capacity=_count(obj, "capacity"),
        without_bed=_count(obj, "without_bed") or 0,
        slept_outside=_count(obj, "slept_outside") or 0,
        reported_at=moment(obj, "reported_at", required=False),
    )


def intake_to_domain(raw: bytes | None, *, timestamp: float | None = None) -> IntakeReport:
    """An IntakeReport, or :class:`InvalidReport`; ``timestamp`` as for
    :func:`occupancy_to_domain`."""
    obj = decode_object(raw)
    return IntakeReport(
        event_id=text(obj, "event_id"),
        location_id=_location_id(obj),
        date=_report_date(obj, timestamp),
        arrivals=_count(obj, "arrivals") or 0,
        transfers_out=_count(obj, "transfers_out") or 0,
        departures=_count(obj, "departures") or 0,
        unplaced=_count(obj, "unplaced") or 0,
    )


# ---------------------------------------------------------------------------- dead letters


def dead_letter_key(key: bytes | None) -> bytes | None:
    """The message key for a dead letter: the original key, cut to DEAD_LETTER_KEY_BYTES."""
    return None if key is None else bytes(key[:DEAD_LETTER_KEY_BYTES])


def dead_letter(
    *,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    reason: str,
    detail: str,
    payload: bytes | None,
) -> dict[str, Any]:
    """The DeadLetter record of contract v1: the original bytes kept, as text when they are.

    It always fits the broker's limit for one message (DEAD_LETTER_MAX_BYTES, with a key from
    :func:`dead_letter_key`): at most DEAD_LETTER_PAYLOAD_BYTES of the original value are kept,
    and ``payload_truncated``, ``payload_size`` and ``payload_sha256`` (of the whole original
    value; both null when the message had none) say what was there."""
    short_key = dead_letter_key(key)
    record: dict[str, Any] = {
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "key": short_key.decode("utf-8", "replace") if short_key is not None else None,
        "reason": reason,
        "detail": cut(detail, DEAD_LETTER_DETAIL_CHARS),
    }
    if payload is None:
        record.update(payload=None, payload_truncated=False, payload_size=None, payload_sha256=None)
        return record
    payload = bytes(payload)
    try:
        kept, truncated = _text_prefix(payload.decode("utf-8"), DEAD_LETTER_PAYLOAD_BYTES)
        record["payload"] = kept
    except UnicodeDecodeError:
        head = payload[:DEAD_LETTER_PAYLOAD_BYTES]
        record["payload"] = base64.b64encode(head).decode("ascii")
        record["payload_encoding"] = "base64"
        truncated = len(head) < len(payload)
    record["payload_truncated"] = truncated
    record["payload_size"] = len(payload)
    record["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    return record


def _escaped_size(text: str) -> int:
    """Bytes ``text`` takes as a JSON string (control characters become six bytes each)."""
    return len(orjson.dumps(text)) - 2


def _text_prefix(text: str, limit: int) -> tuple[str, bool]:
    """The longest start of ``text`` that takes at most ``limit`` bytes written as a JSON
    string, and whether that is less than all of it."""
    if len(text) <= limit and _escaped_size(text) <= limit:
        return text, False
    low, high = 0, min(len(text), limit)  # every character takes at least one byte
    while low < high:
        middle = (low + high + 1) // 2
        if _escaped_size(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low], True
