"""Contributions as they travel between the stages: a location's share to its province, a
province's share to the nation (``internal.*-contributions``). Decoded with every field checked,
as any input; the topics are written by the worker itself, so a well-formed value is the common
case and is let through quickly, and anything else gets the full check of ``streams.wire`` and
its reason (issue 12). Re-exported by :mod:`streams.messages`.

Imports no Kafka or Faust.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, cast

from alerts.capacity.totals import Contribution, MemberStatus
from alerts.errors import InvalidReport
from alerts.model import PROVINCES
from streams.wire import (
    MAX_TEXT,
    boolean,
    count,
    iso_date,
    json_object,
    optional_text,
    text,
)

__all__ = ["CONTRIBUTION_FIELDS", "MAX_TOTAL", "contribution_from_dict"]

#: Sums over provinces and the nation: far above any real total, far below what JSON readers in
#: other languages lose precision on (2**53).
MAX_TOTAL: Final = 10**12

#: Contribution's fields, each checked by contribution_from_dict (a test holds this to the
#: dataclass's fields).
CONTRIBUTION_FIELDS: Final = frozenset(
    (
        "location_id",
        "province",
        "date",
        "name",
        "municipality_code",
        "members",
        "occupancy",
        "capacity",
        "without_bed",
        "slept_outside",
        "locations",
        "arrivals_7d",
        "transfers_out_7d",
        "departures_7d",
        "flow_days",
        "active",
        "asylum",
        "final",
    )
)


def _member(obj: Mapping[str, Any]) -> MemberStatus:
    location_id = _text(obj, "location_id")
    date = _date(obj, "date")
    name = _optional_text(obj, "name", "")
    return MemberStatus(location_id, name or "", _optional_text(obj, "municipality_code"), date)


# The checks of streams.wire, each with a fast way through for the value a worker writes: a
# province reads a contribution per location and morning count, and a province's share to the
# nation lists every location. Anything else goes the whole way, which gives the same answer and
# raises the same InvalidReport (so a bad record gets the same reason and text as ever).


def _text(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if type(value) is str and 0 < len(value) <= MAX_TEXT:
        return value
    return text(obj, name)


def _optional_text(obj: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = obj.get(name)
    if value is None:
        return default
    if type(value) is str and len(value) <= MAX_TEXT:
        return value
    return optional_text(obj, name, default=default)


#: Date strings that passed :func:`streams.wire.iso_date`, and their dates: a worker writes the
#: same few dozen days over and over. Emptied when full, so it stays small whatever comes in.
_DATES: dict[str, dt.date] = {}
_DATES_KEPT: Final = 4096


def _date(obj: Mapping[str, Any], name: str) -> dt.date:
    value = obj.get(name)
    if type(value) is str:
        known = _DATES.get(value)
        if known is not None:
            return known
    date = iso_date(obj, name)  # a bad value raises here, so only good ones are kept
    if len(_DATES) >= _DATES_KEPT:
        _DATES.clear()
    _DATES[cast(str, value)] = date  # iso_date took it: a string
    return date


def _total(obj: Mapping[str, Any], name: str) -> int:
    value = obj.get(name)
    if type(value) is int and 0 <= value <= MAX_TOTAL:
        return value
    return count(obj, name, required=True, maximum=MAX_TOTAL, range_reason="schema") or 0


def _count(obj: Mapping[str, Any], name: str, default: int) -> int:
    value = obj.get(name)
    if type(value) is int and 0 <= value <= MAX_TOTAL:
        return value
    found = count(obj, name, maximum=MAX_TOTAL, range_reason="schema")
    return default if found is None else found


def _flag(obj: Mapping[str, Any], name: str, default: bool) -> bool:
    value = obj.get(name, default)
    if value is True or value is False:
        return value
    return boolean(obj, name, default=default)


def _plain(obj: Mapping[str, Any]) -> Contribution | None:
    """The value a worker writes for a location, checked in one pass without a call per field:
    every field of the right type and in range, no members. None for anything else, which
    :func:`contribution_from_dict` then checks field by field (and accepts or refuses as ever);
    what this accepts, that would accept with the same result."""
    get: Any = obj.get  # each value is checked below
    location_id = get("location_id")
    province = get("province")
    date = _DATES.get(get("date"))  # an unhashable value: TypeError, caught by the caller
    name = get("name", "")
    code = get("municipality_code")
    occupancy = get("occupancy")
    capacity = get("capacity")
    without_bed = get("without_bed", 0)
    slept_outside = get("slept_outside", 0)
    locations = get("locations", 1)
    arrivals = get("arrivals_7d", 0)
    transfers_out = get("transfers_out_7d", 0)
    departures = get("departures_7d", 0)
    flow_days = get("flow_days", 0)
    active = get("active", True)
    asylum = get("asylum", True)
    final = get("final", True)
    if (
        date is None
        or type(location_id) is not str
        or not 0 < len(location_id) <= MAX_TEXT
        or province not in PROVINCES
        or type(name) is not str
        or len(name) > MAX_TEXT
        or (code is not None and (type(code) is not str or len(code) > MAX_TEXT))
        or ("members" in obj and obj["members"] != [])
        or (active is not True and active is not False)
        or (asylum is not True and asylum is not False)
        or (final is not True and final is not False)
    ):
        return None
    for value in (
        occupancy,
        capacity,
        without_bed,
        slept_outside,
        locations,
        arrivals,
        transfers_out,
        departures,
        flow_days,
    ):
        if type(value) is not int or not 0 <= value <= MAX_TOTAL:
            return None
    return Contribution(
        location_id,
        province,
        date,
        occupancy,
        capacity,
        name,
        code,
        without_bed,
        slept_outside,
        active,
        asylum,
        locations,
        arrivals,
        transfers_out,
        departures,
        flow_days,
        final,
    )


def contribution_from_dict(obj: Mapping[str, Any]) -> Contribution:
    """A Contribution from its dict, every field checked, in the order of the fields (the first
    bad one gives the reason), and fields it does not know ignored."""
    try:
        plain = _plain(obj)
    except TypeError:  # an unhashable date or province
        plain = None
    if plain is not None:
        return plain
    location_id = _text(obj, "location_id")
    province = _text(obj, "province")
    if province not in PROVINCES:
        raise InvalidReport("schema", f"'province' must be one of {' '.join(PROVINCES)}")
    date = _date(obj, "date")
    occupancy = _total(obj, "occupancy")
    capacity = _total(obj, "capacity")
    without_bed = _count(obj, "without_bed", 0)
    slept_outside = _count(obj, "slept_outside", 0)
    locations = _count(obj, "locations", 1)
    arrivals = _count(obj, "arrivals_7d", 0)
    transfers_out = _count(obj, "transfers_out_7d", 0)
    departures = _count(obj, "departures_7d", 0)
    flow_days = _count(obj, "flow_days", 0)
    active = _flag(obj, "active", True)
    asylum = _flag(obj, "asylum", True)
    final = _flag(obj, "final", True)
    name = _optional_text(obj, "name", "")
    municipality_code = _optional_text(obj, "municipality_code")
    members = obj.get("members", [])
    if not isinstance(members, list):
        raise InvalidReport("schema", "'members' must be a list")
    listed = tuple(_member(json_object(m, "a member")) for m in members)
    return Contribution(
        location_id,
        province,
        date,
        occupancy,
        capacity,
        name or "",
        municipality_code,
        without_bed,
        slept_outside,
        active,
        asylum,
        locations,
        arrivals,
        transfers_out,
        departures,
        flow_days,
        final,
        listed,
    )
