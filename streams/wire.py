"""Reading JSON from a topic without trusting it: bytes to plain values, and field readers.

Whatever bytes arrive, :func:`load_json` returns a value or raises
:class:`~alerts.errors.InvalidReport`, never anything else: not ``RecursionError`` for deep
nesting, not ``ValueError`` for a 5,000-digit integer, not ``UnicodeDecodeError``. Strings in what
it returns are always valid Unicode (a lone surrogate such as ``"\\ud800"`` is refused), so
whatever is built from them can be encoded again for a changelog or another topic.

The field readers (:func:`text`, :func:`count`, :func:`iso_date`, :func:`moment`, ...) are shared
by :mod:`streams.records` (the wire contract) and :mod:`streams.messages` (the worker's internal
messages). A ``detail`` never quotes more than :data:`QUOTE_CHARS` characters of the input.

Imports nothing from ``streams`` and nothing of Kafka or Faust.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from alerts.errors import InvalidReport

__all__ = [
    "MAX_DEPTH",
    "MAX_TEXT",
    "QUOTE_CHARS",
    "boolean",
    "count",
    "cut",
    "decode_object",
    "iso_date",
    "json_object",
    "load_json",
    "moment",
    "number",
    "optional_text",
    "quote",
    "text",
]

#: The deepest nesting of arrays and objects a reader accepts. The worker's deepest message (a
#: province's contribution to the nation, with its members) is 5 levels deep; orjson itself
#: refuses more than 1024, and Python code that walks a value recursively (``repr``, the
#: standard library's JSON encoder) fails near 1000.
MAX_DEPTH: Final = 64

#: The longest free text a reader accepts in a field it keeps (names, ids, sources).
MAX_TEXT: Final = 500

#: The most characters of an input value a ``detail`` quotes.
QUOTE_CHARS: Final = 100

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def json_object(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else InvalidReport (``schema``) naming ``where``."""
    if not isinstance(value, dict):
        raise InvalidReport("schema", f"{where} must be a JSON object, got {quote(value)}")
    return value


def quote(value: Any) -> str:
    """A short, safe rendering of an input value for a ``detail``: strings and numbers cut to
    :data:`QUOTE_CHARS` characters, containers by their kind only (their ``repr`` could be
    megabytes, or recurse a thousand levels deep)."""
    if isinstance(value, str):
        shown = repr(value[:QUOTE_CHARS])
        return shown if len(value) <= QUOTE_CHARS else f"{shown}… ({len(value)} characters)"
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        digits = str(value) if value.bit_length() <= 256 else f"a {value.bit_length()}-bit integer"
        return digits[:QUOTE_CHARS]
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"an object of {len(value)} fields"
    return type(value).__name__


def cut(detail: str, limit: int) -> str:
    """``detail`` shortened to ``limit`` characters (the last one an ellipsis when cut)."""
    return detail if len(detail) <= limit else detail[: limit - 1] + "…"


def _too_deep(value: Any) -> bool:
    """Whether arrays and objects in ``value`` nest more than :data:`MAX_DEPTH` levels. No
    recursion: an explicit stack of (container, its depth)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _grammar_only(raw: bytes) -> bool:
    """Whether ``raw`` is JSON by the standard library's more lenient reading (NaN, Infinity,
    numbers of any size, lone surrogates), without building any number: only to tell a value
    that is JSON but unusable (``schema``) from bytes that are not JSON (``invalid_json``)."""
    try:
        json.loads(
            raw.decode("utf-8"),
            parse_int=lambda _: None,
            parse_float=lambda _: None,
            parse_constant=lambda _: None,
        )
    except (ValueError, RecursionError, MemoryError):
        return False
    return True


def load_json(raw: bytes | None) -> Any:
    """Any JSON value from a message, or :class:`InvalidReport`:

    - ``invalid_json`` for no value, bytes that are not UTF-8, not JSON, or nested deeper than
      :data:`MAX_DEPTH` levels;
    - ``schema`` for JSON that holds a value no reader can use: ``NaN`` or ``Infinity``, a number
      beyond the range of a double (a 5,000-digit integer), a lone surrogate in a string.
    """
    if raw is None:
        raise InvalidReport("invalid_json", "the message has no value")
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InvalidReport("invalid_json", f"the value is {type(raw).__name__}, not bytes")
    raw = bytes(raw)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _refused(raw, exc) from None
    # Cheap first: a value with fewer brackets than the limit cannot nest deeper than it.
    if isinstance(value, dict | list) and _brackets(raw) > MAX_DEPTH and _too_deep(value):
        raise InvalidReport("invalid_json", f"nested deeper than {MAX_DEPTH} levels")
    return value


def _brackets(raw: bytes) -> int:
    return raw.count(b"[") + raw.count(b"{")


def _refused(raw: bytes, exc: orjson.JSONDecodeError) -> InvalidReport:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return InvalidReport(
            "invalid_json", f"not UTF-8: byte {bad.start} ({raw[bad.start : bad.start + 1]!r})"
        )
    why = cut(str(exc), QUOTE_CHARS)
    if "depth" in why:  # orjson: "depth limit exceeded" (tests/unit/test_wire.py pins it)
        return InvalidReport("invalid_json", f"nested deeper than {MAX_DEPTH} levels")
    if _grammar_only(raw):
        return InvalidReport(
            "schema",
            "holds a value no reader can use (NaN, Infinity, a number beyond ±1.8e308 or a "
            f"lone surrogate in a string): {why}",
        )
    return InvalidReport("invalid_json", f"not JSON: {why}")


def decode_object(raw: bytes | None) -> dict[str, Any]:
    """A JSON object from a message (see :func:`load_json`); anything else is ``schema``."""
    value = load_json(raw)
    if not isinstance(value, dict):
        raise InvalidReport("schema", f"expected a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


# ---------------------------------------------------------------------------- field readers


def text(obj: Mapping[str, Any], name: str, *, max_chars: int = MAX_TEXT) -> str:
    """A required, non-empty string of at most ``max_chars`` characters."""
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidReport("schema", f"{name!r} is required and must be a non-empty string")
    if len(value) > max_chars:
        raise InvalidReport(
            "schema", f"{name!r} is {len(value)} characters long, at most {max_chars} allowed"
        )
    return value


def optional_text(
    obj: Mapping[str, Any], name: str, *, default: str | None = None, max_chars: int = MAX_TEXT
) -> str | None:
    """A string (possibly empty) of at most ``max_chars`` characters, or ``default`` when the
    field is absent or null."""
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidReport("schema", f"{name!r} must be a string, got {quote(value)}")
    if len(value) > max_chars:
        raise InvalidReport(
            "schema", f"{name!r} is {len(value)} characters long, at most {max_chars} allowed"
        )
    return value


def count(
    obj: Mapping[str, Any],
    name: str,
    *,
    required: bool = False,
    maximum: int,
    range_reason: str = "out_of_range",
) -> int | None:
    """A whole number from 0 to ``maximum`` (a float without fraction counts), None when absent.
    A bool is not a number. Negative or too large: ``range_reason``."""
    value = obj.get(name)
    if value is None:
        if required:
            raise InvalidReport("schema", f"{name!r} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        else:
            raise InvalidReport("schema", f"{name!r} must be a whole number, got {quote(value)}")
    if value < 0:
        raise InvalidReport(range_reason, f"{name!r} cannot be negative, got {quote(value)}")
    if value > maximum:
        raise InvalidReport(range_reason, f"{name!r} = {quote(value)} is more than {maximum}")
    return value


def number(
    obj: Mapping[str, Any],
    name: str,
    *,
    required: bool = True,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    """A finite number (int or float, not a bool), None when absent and not ``required``."""
    value = obj.get(name)
    if value is None:
        if required:
            raise InvalidReport("schema", f"{name!r} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidReport("schema", f"{name!r} must be a number, got {quote(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidReport("schema", f"{name!r} must be a finite number")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidReport("schema", f"{name!r} = {quote(value)} is outside {minimum} … {maximum}")
    return value


def boolean(obj: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = obj.get(name, default)
    if not isinstance(value, bool):
        raise InvalidReport("schema", f"{name!r} must be true or false, got {quote(value)}")
    return value


def iso_date(obj: Mapping[str, Any], name: str) -> dt.date:
    """A required date written ``YYYY-MM-DD``."""
    value = obj.get(name)
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InvalidReport(
            "schema", f"{name!r} must be an ISO date (YYYY-MM-DD), got {quote(value)}"
        )
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidReport("schema", f"{name!r} is not a date: {quote(value)}") from None


def moment(obj: Mapping[str, Any], name: str, *, required: bool) -> dt.datetime | None:
    """An RFC 3339 time with a zone offset (``Z`` allowed) that has a UTC equivalent."""
    value = obj.get(name)
    if value is None:
        if required:
            raise InvalidReport("schema", f"{name!r} is required")
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidReport("schema", f"{name!r} must be an RFC 3339 string, got {quote(value)}")
    try:
        found = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidReport("schema", f"{name!r} is not RFC 3339: {quote(value)}") from None
    if found.tzinfo is None:
        raise InvalidReport("schema", f"{name!r} needs a time zone offset")
    try:
        found.astimezone(dt.UTC)  # 9999-12-31T23:00-05:00 has none
    except OverflowError:
        raise InvalidReport("schema", f"{name!r} is out of range: {quote(value)}") from None
    return found
