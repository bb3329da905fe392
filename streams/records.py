"""Wire records: bytes from a topic to domain values, and dead letters for what fails.

Each ``*_to_domain`` function takes the raw message value and returns a value from
:mod:`alerts.model`, or raises :class:`~alerts.errors.InvalidReport` whose ``reason`` is one of
``invalid_json``, ``schema``, ``out_of_range``. Unknown extra fields are ignored (contract v1).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from alerts.errors import InvalidReport
from alerts.model import LOCATION_KINDS, PROVINCES, IntakeReport, Location, OccupancyReport

__all__ = [
    "MAX_COUNT",
    "dead_letter",
    "decode_object",
    "encode",
    "intake_to_domain",
    "location_to_domain",
    "occupancy_to_domain",
]

#: No location holds a million people; a larger count is a typo or garbage, not a report.
MAX_COUNT: Final = 1_000_000

_LOCATION_ID = re.compile(r"[a-z0-9-]{1,64}")
_MUNICIPALITY = re.compile(r"GM[0-9]{4}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def encode(value: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (orjson: the encoder runs for every message the worker sends)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def decode_object(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise InvalidReport("invalid_json", "the message has no value")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidReport("invalid_json", f"not UTF-8: {exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidReport("invalid_json", f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidReport("schema", f"expected a JSON object, got {type(value).__name__}")
    return value


def _str(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidReport("schema", f"{name!r} is required and must be a non-empty string")
    return value


def _count(obj: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise InvalidReport("schema", f"{name!r} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidReport("schema", f"{name!r} must be a whole number, got {value!r}")
    if value < 0:
        raise InvalidReport("out_of_range", f"{name!r} cannot be negative, got {value}")
    if value > MAX_COUNT:
        raise InvalidReport("out_of_range", f"{name!r} = {value} is not a plausible count")
    return value


def _date(obj: Mapping[str, Any], name: str) -> dt.date:
    text = _str(obj, name)
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidReport(
            "schema", f"{name!r} must be an ISO date (YYYY-MM-DD), got {text!r}"
        ) from None


def _location_id(obj: Mapping[str, Any]) -> str:
    value = _str(obj, "location_id")
    if not _LOCATION_ID.fullmatch(value):
        raise InvalidReport("schema", f"'location_id' must match [a-z0-9-]{{1,64}}, got {value!r}")
    return value


def _reported_at(obj: Mapping[str, Any]) -> dt.datetime | None:
    value = obj.get("reported_at")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidReport("schema", "'reported_at' must be an RFC 3339 string")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidReport("schema", f"'reported_at' is not RFC 3339: {value!r}") from None
    if moment.tzinfo is None:
        raise InvalidReport("schema", "'reported_at' needs a time zone offset")
    return moment


def location_to_domain(raw: bytes | None) -> Location:
    obj = decode_object(raw)
    kind = _str(obj, "kind")
    if kind not in LOCATION_KINDS:
        raise InvalidReport("schema", f"'kind' must be one of {', '.join(LOCATION_KINDS)}")
    municipality = _str(obj, "municipality_code")
    if not _MUNICIPALITY.fullmatch(municipality):
        raise InvalidReport(
            "schema", f"'municipality_code' must be GM + 4 digits: {municipality!r}"
        )
    province = _str(obj, "province")
    if province not in PROVINCES:
        raise InvalidReport("schema", f"'province' must be one of {' '.join(PROVINCES)}")
    active = obj.get("active", True)
    if not isinstance(active, bool):
        raise InvalidReport("schema", "'active' must be true or false")
    cap_source = obj.get("cap_source")
    return Location(
        location_id=_location_id(obj),
        name=_str(obj, "name"),
        kind=kind,
        municipality_code=municipality,
        province=province,
        capacity=_count(obj, "capacity", required=True) or 0,
        cap=_count(obj, "cap"),
        cap_source=cap_source if isinstance(cap_source, str) else None,
        active=active,
    )


def occupancy_to_domain(raw: bytes | None) -> OccupancyReport:
    obj = decode_object(raw)
    return OccupancyReport(
        event_id=_str(obj, "event_id"),
        location_id=_location_id(obj),
        date=_date(obj, "date"),
        occupancy=_count(obj, "occupancy", required=True) or 0,
        capacity=_count(obj, "capacity"),
        without_bed=_count(obj, "without_bed") or 0,
        slept_outside=_count(obj, "slept_outside") or 0,
        reported_at=_reported_at(obj),
    )


def intake_to_domain(raw: bytes | None) -> IntakeReport:
    obj = decode_object(raw)
    return IntakeReport(
        event_id=_str(obj, "event_id"),
        location_id=_location_id(obj),
        date=_date(obj, "date"),
        arrivals=_count(obj, "arrivals") or 0,
        transfers_out=_count(obj, "transfers_out") or 0,
        departures=_count(obj, "departures") or 0,
        unplaced=_count(obj, "unplaced") or 0,
    )


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
    """The DeadLetter record of contract v1: the original bytes kept, as text when they are."""
    record: dict[str, Any] = {
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "reason": reason,
        "detail": detail,
    }
    if payload is None:
        record["payload"] = None
    else:
        try:
            record["payload"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            record["payload"] = base64.b64encode(payload).decode("ascii")
            record["payload_encoding"] = "base64"
    return record
