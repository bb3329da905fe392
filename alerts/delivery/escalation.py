"""Escalation: a critical alert nobody acknowledged goes to the next receiver on the list.

One :class:`Watch` per critical, firing alert. Every ``after`` minutes without an
acknowledgement, the next receiver on the escalation list is told. A resolved alert, one that is
no longer critical, or an acknowledgement ends the watch. Times are given, never read.

Pure. Must not import httpx, faust, aiokafka or ``streams``, nor ``alerts.dispatch`` or
``alerts.notify``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from alerts.errors import ConfigError
from alerts.model import AlertEvent, AlertStatus, Severity

__all__ = ["EscalationPolicy", "Watch", "acknowledge", "due", "parse_escalation", "watch"]


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    after: dt.timedelta = dt.timedelta(minutes=15)
    receivers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Watch:
    event: AlertEvent
    since: dt.datetime
    level: int = 0
    acknowledged_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event.to_dict(),
            "since": self.since.isoformat(),
            "level": self.level,
            "acknowledged_by": self.acknowledged_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Watch:
        return cls(
            AlertEvent.from_dict(data["event"]),
            dt.datetime.fromisoformat(data["since"]),
            int(data.get("level", 0)),
            data.get("acknowledged_by"),
        )


def watch(current: Watch | None, event: AlertEvent, now: dt.datetime) -> Watch | None:
    """Start, keep or end the watch on an alert after one of its changes."""
    if event.status is AlertStatus.RESOLVED or event.severity is not Severity.CRITICAL:
        return None
    if current is None:
        return Watch(event, now)
    return replace(current, event=event)


def acknowledge(current: Watch | None, by: str) -> Watch | None:
    return None if current is None else replace(current, acknowledged_by=by)


def due(current: Watch, policy: EscalationPolicy, now: dt.datetime) -> tuple[Watch, str | None]:
    """The receiver to escalate to now, if any, and the watch after it."""
    if current.acknowledged_by is not None or current.level >= len(policy.receivers):
        return current, None
    if now - current.since < policy.after * (current.level + 1):
        return current, None
    return replace(current, level=current.level + 1), policy.receivers[current.level]


def parse_escalation(raw: Any, receivers: Sequence[str]) -> EscalationPolicy:
    """``escalation: {after_minutes: 15, receivers: [ministerie-dienstdoende, ...]}``."""
    if raw is None:
        return EscalationPolicy()
    if not isinstance(raw, Mapping):
        raise ConfigError("escalation must be a mapping with after_minutes and receivers")
    minutes = raw.get("after_minutes", 15)
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0:
        raise ConfigError("escalation.after_minutes must be a positive number")
    names = raw.get("receivers") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError("escalation.receivers must be a list of receiver names")
    for name in names:
        if name not in receivers:
            raise ConfigError(f"escalation.receivers: no receiver named {name!r}")
    return EscalationPolicy(dt.timedelta(minutes=float(minutes)), tuple(names))
