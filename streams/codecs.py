"""Faust codecs for table values: the tables hold the core's frozen records as Python objects,
and only the changelog sees JSON.

Without them every read of a table would rebuild a record from a dict; with them a read is a
dictionary lookup and the cost of JSON is paid once, on the write to the changelog topic.
"""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

__all__ = ["RecordCodec", "from_changelog", "serializer"]


class RecordCodec(codecs.Codec):
    """Any record with ``to_dict`` and a ``from_dict`` class method, as compact JSON."""

    def __init__(self, kind: Any) -> None:
        super().__init__()
        self.kind = kind

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj.to_dict())

    def _loads(self, s: bytes) -> Any:
        return self.kind.from_dict(orjson.loads(s))


def serializer(kind: Any) -> str:
    """The name of the codec for records of ``kind``, registered with Faust on first use."""
    name = f"opvang-{kind.__module__}.{kind.__qualname__}"
    if name not in codecs.codecs:
        codecs.register(name, RecordCodec(kind))
    return name


def from_changelog(kind: Any) -> Any:
    """What a table's ``_to_value`` does during recovery: a JSON dict becomes a record."""

    def to_value(value: Any) -> Any:
        return kind.from_dict(value) if isinstance(value, dict) else value

    return to_value
