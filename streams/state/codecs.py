"""Faust codecs for table values: the tables hold the core's frozen records as Python objects,
and only the changelog sees JSON.

Without them every read of a table would rebuild a record from a dict; with them a read is a
dictionary lookup and the cost of JSON is paid once, on the write to the changelog topic.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from faust.serializers import codecs

__all__ = ["RecordCodec", "from_changelog", "serializer"]

log = structlog.get_logger("opvangwacht.codecs")


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
    """What a table's ``_to_value`` does during recovery: a changelog value (its bytes, or a dict
    already decoded from JSON) becomes a record. A value the worker cannot read (one it did not
    write: a hand-made or damaged changelog message) is read as no value, with a warning, instead
    of stopping the recovery and with it the worker."""

    def to_value(value: Any) -> Any:
        try:
            if isinstance(value, bytes | bytearray | memoryview):
                # The changelog is read as bytes (``streams.worker.app._state_table``).
                value = orjson.loads(value)
            if not isinstance(value, dict):
                return value if value is None or isinstance(value, (str, int, float)) else None
            return kind.from_dict(value)
        except Exception as exc:
            log.warning(
                "unreadable changelog value skipped",
                kind=getattr(kind, "__qualname__", str(kind)),
                error=f"{type(exc).__name__}: {str(exc)[:200]}",
            )
            return None

    return to_value
