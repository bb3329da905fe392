"""Silences: matchers and a time window, from the config file, the API or the silences topic.

Pure: takes ``now`` as an argument where it needs one, reads no clock. Must not import httpx,
faust, aiokafka or ``streams``; within ``alerts.dispatch`` only ``matchers``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from alerts.dispatch.matchers import Matcher, parse_matchers, scalar
from alerts.errors import ConfigError

__all__ = ["MAX_SILENCE_TEXT", "Silence", "parse_silence"]


@dataclass(frozen=True, slots=True)
class Silence:
    silence_id: str
    matchers: tuple[Matcher, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime
    author: str
    comment: str

    def active(self, now: dt.datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "silence_id": self.silence_id,
            "matchers": [m.to_dict() for m in self.matchers],
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "author": self.author,
            "comment": self.comment,
        }


def _moment(value: Any, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif not isinstance(value, str) or len(value) > 64:
        raise ConfigError(f"{where}: not an RFC 3339 time: {str(value)[:64]!r}")
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: not an RFC 3339 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{where}: the time needs a zone offset, e.g. 2026-11-27T22:00:00+01:00")
    return moment


#: The longest ``author`` and ``comment`` of a silence.
MAX_SILENCE_TEXT: Final = 1000


def parse_silence(raw: Mapping[str, Any], silence_id: str, where: str = "silence") -> Silence:
    """A silence from the config file, an API request or the silences topic: ``matchers`` (see
    :func:`parse_matchers`), ``starts_at`` and ``ends_at`` (RFC 3339 with an offset), ``author``
    and ``comment`` (text, at most MAX_SILENCE_TEXT characters each)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a silence is a mapping (matchers, starts_at, ends_at, ...)")
    for key in ("matchers", "starts_at", "ends_at", "author", "comment"):
        if key not in raw:
            raise ConfigError(f"{where}: missing {key!r}")
    matchers = parse_matchers(raw["matchers"], f"{where}.matchers")
    if not matchers:
        raise ConfigError(f"{where}: a silence needs at least one matcher")
    starts = _moment(raw["starts_at"], f"{where}.starts_at")
    ends = _moment(raw["ends_at"], f"{where}.ends_at")
    if ends <= starts:
        raise ConfigError(f"{where}: ends_at must be after starts_at")
    author, comment = scalar(raw["author"]), scalar(raw["comment"])
    if author is None or comment is None:
        raise ConfigError(f"{where}: author and comment are text")
    author, comment = author.strip(), comment.strip()
    if len(author) > MAX_SILENCE_TEXT or len(comment) > MAX_SILENCE_TEXT:
        raise ConfigError(f"{where}: author and comment are at most {MAX_SILENCE_TEXT} characters")
    if not author or not comment:
        raise ConfigError(f"{where}: say who silences this and why (author, comment)")
    return Silence(silence_id, matchers, starts, ends, author, comment)
