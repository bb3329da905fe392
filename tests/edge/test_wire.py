"""streams.wire: the one safe way bytes from a topic become JSON values."""

from __future__ import annotations

import orjson
import pytest

from alerts.errors import InvalidReport
from streams.wire import MAX_DEPTH, decode_object, load_json, quote


def test_orjson_still_says_depth_when_it_refuses_nesting() -> None:
    # load_json tells "too deep" from other refusals by orjson's message, without a second
    # parse that would recurse a thousand levels: this pins the message.
    with pytest.raises(orjson.JSONDecodeError, match="depth"):
        orjson.loads(b"[" * 10_000 + b"]" * 10_000)


@pytest.mark.parametrize("depth", [1, MAX_DEPTH])
def test_nesting_up_to_the_limit_is_read(depth: int) -> None:
    value = load_json(b"[" * depth + b"]" * depth)
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1024, 1025, 100_000])
def test_nesting_beyond_the_limit_is_invalid_json(depth: int) -> None:
    with pytest.raises(InvalidReport) as caught:
        load_json(b'{"a":' * depth + b"1" + b"}" * depth)
    assert caught.value.reason == "invalid_json"
    assert "nested deeper" in caught.value.detail


def test_many_shallow_brackets_are_fine() -> None:
    raw = b'{"items": [' + b",".join([b'{"a": [1]}'] * 5000) + b"]}"
    assert len(load_json(raw)["items"]) == 5000


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "invalid_json"),
        (b"\xff", "invalid_json"),
        (b"NaN", "schema"),
        (b'["\\ud800"]', "schema"),
        (b"1" * 5000, "schema"),
        (b"[1,]", "invalid_json"),
    ],
)
def test_refusals(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        load_json(raw)
    assert caught.value.reason == reason


def test_decode_object_wants_an_object() -> None:
    assert decode_object(b'{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidReport) as caught:
        decode_object(b"[1]")
    assert (caught.value.reason, caught.value.detail) == (
        "schema",
        "expected a JSON object, got an array",
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("abc", "'abc'"),
        (7, "7"),
        (2**300, "a 301-bit integer"),
        (None, "None"),
        (True, "True"),
        ([1, 2], "a list of 2"),
        ({"a": 1}, "an object of 1 fields"),
    ],
)
def test_quote(value: object, shown: str) -> None:
    assert quote(value) == shown


def test_quote_cuts_long_text() -> None:
    shown = quote("x" * 10_000)
    assert shown.startswith("'" + "x" * 100 + "'…")
    assert len(shown) < 130
