"""Alertmanager API v2 silences converted to and from the worker's Silence."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from alerts.errors import ConfigError
from streams.messages import decode_silence, encode_silence
from streams.web import alertmanager_v2 as am

NOW = dt.datetime(2026, 12, 3, 7, 0, tzinfo=dt.UTC)


def postable(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "matchers": [
            {"name": "rule", "value": "cap_.*", "isRegex": True, "isEqual": True},
            {"name": "severity", "value": "critical", "isRegex": False, "isEqual": False},
            {"name": "location_id", "value": 'ter "apel"', "isRegex": False},
        ],
        "startsAt": "2026-12-03T06:59:00.000Z",
        "endsAt": "2026-12-03T09:00:00.000Z",
        "createdBy": "dienstdoende",
        "comment": "onderhoud",
    }
    return {**body, **changes}


def test_a_postable_silence_round_trips_through_the_topic_and_back() -> None:
    silence = am.silence_from_postable(postable(), "id-1", NOW)
    again = decode_silence("id-1", encode_silence(silence))
    assert again == silence
    out = am.gettable(again, NOW)
    assert out["id"] == "id-1" and out["status"] == {"state": "active"}
    assert out["matchers"] == [
        {"name": "rule", "value": "cap_.*", "isRegex": True, "isEqual": True},
        {"name": "severity", "value": "critical", "isRegex": False, "isEqual": False},
        {"name": "location_id", "value": 'ter "apel"', "isRegex": False, "isEqual": True},
    ]
    assert out["endsAt"] == "2026-12-03T09:00:00.000Z"
    labels = {"rule": "cap_near", "severity": "warning", "location_id": 'ter "apel"'}
    assert all(m.matches(labels) for m in silence.matchers)
    assert not silence.matchers[1].matches({"severity": "critical"})


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"matchers": []}, "non-empty list"),
        ({"matchers": "rule=x"}, "non-empty list"),
        ({"matchers": [{"name": "rule"}]}, "text name and value"),
        ({"matchers": [{"name": "rule", "value": "x", "isRegex": "yes"}]}, "true or false"),
        ({"matchers": [{"name": "rule", "value": "(", "isRegex": True}]}, "regular expression"),
        ({"matchers": [{"name": "1rule", "value": "x"}]}, "cannot read matcher"),
        ({"matchers": [{"name": "rule", "value": "a\nb"}]}, "line break"),
        ({"matchers": [{"name": "rule", "value": ".*", "isRegex": True}]}, "empty value"),
        ({"matchers": [{"name": "rule", "value": "x", "isEqual": False}]}, "empty value"),
        ({"endsAt": "2026-12-03T06:00:00Z", "startsAt": "2026-12-03T05:00:00Z"}, "past"),
        ({"endsAt": "tomorrow"}, "RFC 3339"),
        ({"createdBy": ""}, "who silences"),
        ({"comment": 5}, "author and comment are text"),
        ({"matchers": [{"name": "rule", "value": "x"}] * 65}, "at most 64"),
    ],
)
def test_a_bad_postable_silence_is_one_line(changes: dict[str, Any], why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        am.silence_from_postable(postable(**changes), "id-1", NOW)


def test_states_and_expiry() -> None:
    later = postable(startsAt="2026-12-03T08:00:00Z")
    pending = am.silence_from_postable(later, "p", NOW)
    assert am.state(pending, NOW) == "pending"
    ended = am.expired_version(pending, NOW)
    assert am.state(ended, NOW) == "expired" and ended.ends_at == NOW
    assert decode_silence("p", encode_silence(ended)) == ended  # still a valid window
    active = am.silence_from_postable(postable(), "a", NOW)
    assert am.state(am.expired_version(active, NOW), NOW) == "expired"
    assert am.expired_version(active, NOW).starts_at == active.starts_at


def test_filters_read_the_silence_matchers_as_labels() -> None:
    silence = am.silence_from_postable(postable(), "a", NOW)
    assert am.matches_filter(silence, am.parse_filter(['severity="critical"']))
    assert am.matches_filter(silence, am.parse_filter(['rule=~"cap.*"', "location_id=~ter.*"]))
    assert not am.matches_filter(silence, am.parse_filter(["severity=warning"]))
    with pytest.raises(ConfigError):
        am.parse_filter(["no operator"])
