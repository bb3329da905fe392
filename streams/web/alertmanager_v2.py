"""Alertmanager's API v2 for silences, as ``amtool silence add|query|expire|update`` speaks it:
its JSON shapes converted to and from the worker's own :class:`~alerts.dispatch.silence.Silence`.

``PostableSilence`` (``matchers`` of ``{name, value, isRegex, isEqual}``, ``startsAt``,
``endsAt``, ``createdBy``, ``comment``, optionally ``id`` to update one) becomes a Silence checked
by :func:`~alerts.dispatch.silence.parse_silence`, the same check every other way of making a
silence goes through; a Silence becomes a ``GettableSilence`` with its state at ``now``.

No I/O and no clock: the views pass ``now``. Must not import ``streams.worker``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Final

from alerts.dispatch.matchers import Matcher, all_match, parse_matchers
from alerts.dispatch.silence import Silence, parse_silence
from alerts.errors import ConfigError

__all__ = [
    "expired_version",
    "gettable",
    "matches_filter",
    "parse_filter",
    "silence_from_postable",
    "state",
    "status",
]

#: The one-character operators of a matcher, by (isRegex, isEqual).
_OPERATOR: Final = {
    (False, True): "=",
    (False, False): "!=",
    (True, True): "=~",
    (True, False): "!~",
}


def _iso(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Alertmanager writes times (``...T06:48:34.932Z``)."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _matcher_text(raw: Any, where: str) -> str:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a matcher is {{name, value, isRegex, isEqual}}")
    name, value = raw.get("name"), raw.get("value")
    regex, equal = raw.get("isRegex", False), raw.get("isEqual", True)
    if not isinstance(name, str) or not isinstance(value, str):
        raise ConfigError(f"{where}: a matcher needs a text name and value")
    if not isinstance(regex, bool) or not isinstance(equal, bool):
        raise ConfigError(f"{where}: isRegex and isEqual are true or false")
    if "\n" in value or "\r" in value:
        raise ConfigError(f"{where}: a matcher value cannot hold a line break")
    # parse_matchers reads `name op "value"`, dropping one quote at each end: the value is kept
    # exactly, quotes inside it included.
    return f'{name}{_OPERATOR[(regex, equal)]}"{value}"'


def silence_from_postable(body: Mapping[str, Any], silence_id: str, now: dt.datetime) -> Silence:
    """A PostableSilence as a Silence with the id ``silence_id``. ConfigError: one line for a 400
    (what is missing or wrong; an end in the past, as Alertmanager refuses it)."""
    where = "silence"
    raw = body.get("matchers")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: matchers must be a non-empty list")
    if len(raw) > 64:
        raise ConfigError(f"{where}: at most 64 matchers")
    texts = [_matcher_text(item, f"{where}.matchers[{i}]") for i, item in enumerate(raw)]
    if not any(m.matches({}) is False for m in parse_matchers(texts, f"{where}.matchers")):
        # Alertmanager's rule: a silence whose matchers all match the empty label set would
        # silence every alert there is.
        raise ConfigError(f"{where}: at least one matcher must not match an empty value")
    created_by, comment = body.get("createdBy"), body.get("comment")
    silence = parse_silence(
        {
            "matchers": texts,
            "starts_at": body.get("startsAt"),
            "ends_at": body.get("endsAt"),
            "author": created_by if isinstance(created_by, str) else None,
            "comment": comment if isinstance(comment, str) else None,
        },
        silence_id,
        where,
    )
    if silence.ends_at <= now:
        raise ConfigError(f"{where}: endsAt is in the past; a silence must end in the future")
    return silence


def state(silence: Silence, now: dt.datetime) -> str:
    """``pending``, ``active`` or ``expired`` at ``now`` (Alertmanager's SilenceState)."""
    if now < silence.starts_at:
        return "pending"
    return "active" if now < silence.ends_at else "expired"


def expired_version(silence: Silence, now: dt.datetime) -> Silence:
    """The silence ended at ``now`` (``amtool silence expire``): it stays readable as expired,
    as in Alertmanager. A pending one gets a start just before ``now``, so that its window is
    empty in the future and still a valid window."""
    starts = min(silence.starts_at, now - dt.timedelta(milliseconds=1))
    return dataclasses.replace(silence, starts_at=starts, ends_at=now)


def _wire_matcher(m: Matcher) -> dict[str, Any]:
    return {"name": m.label, "value": m.value, "isRegex": m.regex, "isEqual": not m.negate}


def gettable(silence: Silence, now: dt.datetime) -> dict[str, Any]:
    """A GettableSilence. The worker keeps no separate update time: ``updatedAt`` is the end
    of an expired silence, else its start."""
    current = state(silence, now)
    updated = silence.ends_at if current == "expired" else silence.starts_at
    return {
        "id": silence.silence_id,
        "status": {"state": current},
        "updatedAt": _iso(updated),
        "matchers": [_wire_matcher(m) for m in silence.matchers],
        "startsAt": _iso(silence.starts_at),
        "endsAt": _iso(silence.ends_at),
        "createdBy": silence.author,
        "comment": silence.comment,
    }


def parse_filter(values: Iterable[str]) -> tuple[Matcher, ...]:
    """The ``filter`` query parameters (``severity="critical"``, ``rule=~"cap.*"``)."""
    return parse_matchers(list(values), "filter")


def matches_filter(silence: Silence, filters: Iterable[Matcher]) -> bool:
    """Alertmanager's test: the silence's own matchers read as labels (name: value) must match
    every filter matcher."""
    labels = {m.label: m.value for m in silence.matchers}
    return all_match(filters, labels)


def status(version: str, started: dt.datetime) -> dict[str, Any]:
    """What ``GET /api/v2/status`` answers (amtool asks it before every command): one worker,
    ready; the version is the worker's own."""
    return {
        "cluster": {"name": "opvangwacht", "status": "ready", "peers": []},
        "config": {"original": ""},
        "uptime": _iso(started),
        "versionInfo": {
            "version": version,
            "branch": "",
            "buildDate": "",
            "buildUser": "opvangwacht",
            "goVersion": "none (opvangwacht is Python)",
            "revision": "",
        },
    }
