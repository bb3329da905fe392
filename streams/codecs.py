"""Faust codecs for table values: the tables hold the core's frozen records as Python objects,
and only the changelog sees JSON.

Without them every read of a table would rebuild a record from a dict; with them a read is a
dictionary lookup and the cost of JSON is paid once, on the write to the changelog topic.
"""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

from alerts.capacity import DayRecord
from alerts.delivery import Ledger
from alerts.engine import AggregateRecord, LocationRecord
from alerts.escalation import Watch
from streams.aggregates import AggregateHead, MemberRow
from streams.locations import LocationHead

__all__ = [
    "AGGREGATE_HEAD",
    "AGGREGATE_RECORD",
    "DAY_RECORD",
    "LEDGER",
    "LOCATION_HEAD",
    "LOCATION_RECORD",
    "MEMBER_ROW",
    "WATCH",
    "from_changelog",
    "register",
]

LOCATION_RECORD = "opvang-location-record"
AGGREGATE_RECORD = "opvang-aggregate-record"


class _RecordCodec(codecs.Codec):
    kind: Any = None

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj.to_dict())

    def _loads(self, s: bytes) -> Any:
        return self.kind.from_dict(orjson.loads(s))


class LocationRecordCodec(_RecordCodec):
    kind = LocationRecord


class AggregateRecordCodec(_RecordCodec):
    kind = AggregateRecord


def from_changelog(kind: Any) -> Any:
    """What a table's ``_to_value`` does during recovery: a JSON dict becomes a record."""

    def to_value(value: Any) -> Any:
        return kind.from_dict(value) if isinstance(value, dict) else value

    return to_value


def register() -> None:
    codecs.register(LOCATION_RECORD, LocationRecordCodec())
    codecs.register(AGGREGATE_RECORD, AggregateRecordCodec())


class LedgerCodec(_RecordCodec):
    kind = Ledger


LEDGER = "opvang-delivery-ledger"
codecs.register(LEDGER, LedgerCodec())


class WatchCodec(_RecordCodec):
    kind = Watch


WATCH = "opvang-escalation-watch"
codecs.register(WATCH, WatchCodec())


class LocationHeadCodec(_RecordCodec):
    kind = LocationHead


LOCATION_HEAD = "opvang-location-head"
codecs.register(LOCATION_HEAD, LocationHeadCodec())


class DayRecordCodec(_RecordCodec):
    kind = DayRecord


DAY_RECORD = "opvang-day-record"
codecs.register(DAY_RECORD, DayRecordCodec())


class AggregateHeadCodec(_RecordCodec):
    kind = AggregateHead


AGGREGATE_HEAD = "opvang-aggregate-head"
codecs.register(AGGREGATE_HEAD, AggregateHeadCodec())


class MemberRowCodec(_RecordCodec):
    kind = MemberRow


MEMBER_ROW = "opvang-member-row"
codecs.register(MEMBER_ROW, MemberRowCodec())
