"""The delivery ledger of one receiver: what was confirmed, what waits for a retry, what is held
for a digest, and when a text budget was spent. Pure bookkeeping; the delivery agent sends.

Guarantees it helps keep:
- a notification id that was confirmed is never sent again (a redelivered record is skipped);
- a failed attempt is retried on the receiver's schedule (the caller passes its waits: see
  ``alerts.delivery.retry.schedule_for``), each wait moved by up to 20 % either way by a hash of the
  notification id and attempt (:func:`jittered`), and a receiver's Retry-After is respected; after
  the last one the notification is dead, not lost;
- 410 Gone switches the receiver off until an operator turns it back on;
- a receiver that did not answer at all (timeout, refused connection) is given a rest: what
  arrives for it meanwhile queues behind the failed notification instead of waiting for another
  timeout, so one unreachable receiver costs the others at most one timeout per retry step;
- grouping (``group_wait``, ``group_interval``) holds changes that arrive together and sends them
  at one moment; ``repeat_interval`` reminds a receiver of an alert that is still firing (the
  groups and reminders are kept here, :mod:`alerts.delivery.grouping` decides about them).

Pure. Must not import httpx, faust, aiokafka or ``streams``, nor ``alerts.dispatch`` or
``alerts.notify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from alerts.model import NATIONAL, AlertEvent, AlertStatus

__all__ = [
    "RETRY_JITTER",
    "Failure",
    "Group",
    "Grouping",
    "Ledger",
    "Pending",
    "Reminder",
    "Verdict",
    "defer",
    "delivered",
    "digest_event",
    "failed",
    "hold",
    "jittered",
    "mark_applied",
    "notification_id",
    "release",
    "without",
]

#: Confirmed ids a ledger remembers. Records read again after a restart are recognised by their
#: offset (``Ledger.applied``); these ids catch a notification that was *produced* twice (an
#: upstream step redone after a crash), which happens within moments of the first. The ledger is
#: written whole to its changelog, so this list is kept short: 2000 ids were 120 kB per write.
REMEMBERED: Final = 100


def notification_id(event: AlertEvent, receiver: str) -> str:
    """Stable per alert change and receiver: the same on every retry and every redelivery."""
    return f"{event.alert_id}.{event.revision}.{receiver}"


@dataclass(frozen=True, slots=True)
class Pending:
    """A notification waiting for its next attempt."""

    notification_id: str
    event: AlertEvent
    attempts: int
    next_attempt_at: dt.datetime
    first_queued_at: dt.datetime
    last_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "event": self.event.to_dict(),
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "first_queued_at": self.first_queued_at.isoformat(),
            "last_error": self.last_error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pending:
        return cls(
            data["notification_id"],
            AlertEvent.from_dict(data["event"]),
            int(data["attempts"]),
            dt.datetime.fromisoformat(data["next_attempt_at"]),
            dt.datetime.fromisoformat(data["first_queued_at"]),
            str(data.get("last_error", "")),
        )


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class Grouping:
    """How the route that chose this receiver wants its messages paced (seconds).

    ``key``: the group (route and ``group_by`` label values); ``wait``: how long the first message
    of a new group is held for others to join it; ``interval``: at least this long between two
    messages of one group; ``repeat``: remind of a still-firing alert after this long without
    news (None: never)."""

    key: str
    wait: float = 0.0
    interval: float = 0.0
    repeat: float | None = None

    @property
    def holds(self) -> bool:
        """Whether a message can ever wait for its group (else it goes out at once)."""
        return self.wait > 0 or self.interval > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "wait": self.wait,
            "interval": self.interval,
            "repeat": self.repeat,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grouping:
        repeat = data.get("repeat")
        return cls(
            str(data["key"]),
            float(data.get("wait", 0.0)),
            float(data.get("interval", 0.0)),
            None if repeat is None else float(repeat),
        )


@dataclass(frozen=True, slots=True)
class Group:
    """One group of one receiver: when it last sent, and what waits for its next message."""

    key: str
    interval: float
    last_sent_at: dt.datetime | None = None
    flush_at: dt.datetime | None = None
    items: tuple[Pending, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "interval": self.interval,
            "last_sent_at": _iso(self.last_sent_at),
            "flush_at": _iso(self.flush_at),
            "items": [p.to_dict() for p in self.items],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Group:
        return cls(
            str(data["key"]),
            float(data.get("interval", 0.0)),
            _time(data.get("last_sent_at")),
            _time(data.get("flush_at")),
            tuple(Pending.from_dict(p) for p in data.get("items", ())),
        )


@dataclass(frozen=True, slots=True)
class Reminder:
    """A firing alert this receiver was told about, to be repeated every ``every`` seconds."""

    event: AlertEvent
    every: float
    next_at: dt.datetime
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event.to_dict(),
            "every": self.every,
            "next_at": self.next_at.isoformat(),
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reminder:
        return cls(
            AlertEvent.from_dict(data["event"]),
            float(data["every"]),
            dt.datetime.fromisoformat(data["next_at"]),
            int(data.get("count", 0)),
        )


@dataclass(frozen=True, slots=True)
class Ledger:
    receiver: str
    confirmed: tuple[str, ...] = ()
    sent_at: tuple[dt.datetime, ...] = ()
    pending: tuple[Pending, ...] = ()
    held: tuple[Pending, ...] = ()
    disabled: str | None = None  # why, when switched off
    #: The receiver did not answer at all: new notifications queue until then (see defer).
    resting_until: dt.datetime | None = None
    groups: tuple[Group, ...] = ()
    reminders: tuple[Reminder, ...] = ()
    #: (partition, offset) of the last notifications-topic record applied to this ledger: a record
    #: at or before it, read again after a restart, was already taken into account.
    applied: tuple[int, int] | None = None
    #: SMS receivers: what the latest morning count texted (``alerts.delivery.bundle``), as a dict.
    morning: Mapping[str, Any] | None = None

    def has_applied(self, partition: int, offset: int) -> bool:
        return (
            self.applied is not None and self.applied[0] == partition and offset <= self.applied[1]
        )

    def _waiting(self) -> tuple[Pending, ...]:
        return (*self.pending, *self.held, *(p for g in self.groups for p in g.items))

    def knows(self, notification: str) -> bool:
        return notification in self.confirmed or any(
            p.notification_id == notification for p in self._waiting()
        )

    def due(self, now: dt.datetime) -> list[Pending]:
        """Retries whose time has come, oldest notification first (the receiver's order)."""
        ready = [p for p in self.pending if p.next_attempt_at <= now]
        return sorted(ready, key=lambda p: p.first_queued_at)

    def resting(self, now: dt.datetime) -> bool:
        return self.resting_until is not None and now < self.resting_until

    def oldest_pending(self) -> dt.datetime | None:
        return min((p.first_queued_at for p in self._waiting()), default=None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "receiver": self.receiver,
            "confirmed": list(self.confirmed),
            "sent_at": [t.isoformat() for t in self.sent_at],
            "pending": [p.to_dict() for p in self.pending],
            "held": [p.to_dict() for p in self.held],
            "disabled": self.disabled,
        }
        # Written only when used, so a ledger without them reads as before.
        if self.resting_until is not None:
            out["resting_until"] = self.resting_until.isoformat()
        if self.groups:
            out["groups"] = [g.to_dict() for g in self.groups]
        if self.reminders:
            out["reminders"] = [r.to_dict() for r in self.reminders]
        if self.applied is not None:
            out["applied"] = list(self.applied)
        if self.morning is not None:
            out["morning"] = dict(self.morning)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ledger:
        return cls(
            data["receiver"],
            tuple(data.get("confirmed", ())),
            tuple(dt.datetime.fromisoformat(t) for t in data.get("sent_at", ())),
            tuple(Pending.from_dict(p) for p in data.get("pending", ())),
            tuple(Pending.from_dict(p) for p in data.get("held", ())),
            data.get("disabled"),
            _time(data.get("resting_until")),
            tuple(Group.from_dict(g) for g in data.get("groups", ())),
            tuple(Reminder.from_dict(r) for r in data.get("reminders", ())),
            _applied(data.get("applied")),
            data.get("morning") if isinstance(data.get("morning"), Mapping) else None,
        )


def _applied(value: Any) -> tuple[int, int] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    return int(value[0]), int(value[1])


def mark_applied(ledger: Ledger, partition: int, offset: int) -> Ledger:
    """The record at ``offset`` of ``partition`` is now part of this ledger."""
    return replace(ledger, applied=(partition, offset))


def without(items: Sequence[Pending], notification: str) -> tuple[Pending, ...]:
    """``items`` without the one for ``notification``."""
    return tuple(p for p in items if p.notification_id != notification)


def delivered(
    ledger: Ledger, notification: str, now: dt.datetime, *, counted: bool = True
) -> Ledger:
    """Confirmed by the receiver: remember it; the receiver answers again, so it rests no more.
    ``counted``: it counts against a text budget (only receivers with a budget need the times;
    for the others the list would grow with every message of the day)."""
    day_ago = now - dt.timedelta(days=1)
    sent = (*(t for t in ledger.sent_at if t > day_ago), now) if counted else ledger.sent_at
    return replace(
        ledger,
        confirmed=(*ledger.confirmed, notification)[-REMEMBERED:],
        sent_at=sent,
        pending=without(ledger.pending, notification),
        held=without(ledger.held, notification),
        resting_until=None,
    )


@dataclass(frozen=True, slots=True)
class Failure:
    recoverable: bool
    retry_after: float | None = None
    disable: bool = False
    message: str = ""
    #: No answer at all (timeout, refused connection): the receiver rests until the retry.
    unreachable: bool = False


#: How far a retry wait may move either way (a fraction of it): the +-20 % of the Standard
#: Webhooks guidance (``alerts.delivery.retry``).
RETRY_JITTER: Final = 0.2


def jittered(wait: float, notification: str, attempt: int, spread: float = RETRY_JITTER) -> float:
    """``wait`` moved by up to ``spread`` of it either way, by an amount drawn from a hash of the
    notification id and the attempt number: no random source and no clock, so a replay or a test
    sees the same waits, while notifications that failed at the same moment come back spread
    over the whole band instead of all at once."""
    digest = hashlib.sha256(f"{notification}#{attempt}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64  # in [0, 1)
    return wait * (1 + spread * (2 * fraction - 1))


@dataclass(frozen=True, slots=True)
class Verdict:
    ledger: Ledger
    #: None when it will be tried again; otherwise why it is given up ("dead", "disabled").
    gave_up: str | None = None
    next_attempt_at: dt.datetime | None = None


def failed(
    ledger: Ledger,
    event: AlertEvent,
    notification: str,
    failure: Failure,
    now: dt.datetime,
    *,
    attempts: int,
    first_queued_at: dt.datetime,
    schedule: Sequence[float],
    jitter: float = RETRY_JITTER,
) -> Verdict:
    """An attempt (number ``attempts``) did not go through: schedule the next one or give up.

    ``schedule``: the seconds to wait after attempt 1, 2, ...; after the last, it is dead. Each
    wait is moved by up to ``jitter`` (a fraction) either way, by :func:`jittered`, so that
    notifications that failed together do not all come back at the same moment; a receiver's
    Retry-After is a floor under the result."""
    rest = without(ledger.pending, notification)
    if failure.disable:
        why = f"switched off after: {failure.message}"
        return Verdict(replace(ledger, pending=rest, disabled=why), gave_up="disabled")
    steps = tuple(schedule)
    if not failure.recoverable or attempts > len(steps):
        return Verdict(replace(ledger, pending=rest), gave_up="dead")
    wait = jittered(float(steps[attempts - 1]), notification, attempts, jitter)
    if failure.retry_after is not None:
        wait = max(wait, failure.retry_after)
    when = now + dt.timedelta(seconds=wait)
    entry = Pending(notification, event, attempts, when, first_queued_at, failure.message)
    resting = when if failure.unreachable else ledger.resting_until
    return Verdict(
        replace(ledger, pending=(*rest, entry), resting_until=resting), next_attempt_at=when
    )


def defer(ledger: Ledger, item: Pending) -> Ledger:
    """Queue a notification behind the receiver's retries without trying it now (the receiver
    rests): it is tried with them, at ``ledger.resting_until``; its attempts are not counted."""
    when = max(ledger.resting_until or item.next_attempt_at, item.next_attempt_at)
    entry = replace(item, next_attempt_at=when)
    return replace(ledger, pending=(*without(ledger.pending, item.notification_id), entry))


def hold(ledger: Ledger, item: Pending) -> Ledger:
    """Keep a notification for the receiver's next digest."""
    return replace(ledger, held=(*without(ledger.held, item.notification_id), item))


def release(ledger: Ledger, now: dt.datetime) -> tuple[Ledger, tuple[Pending, ...]]:
    """The held notifications whose time has come, in the order they were held."""
    ready = tuple(p for p in ledger.held if p.next_attempt_at <= now)
    if not ready:
        return ledger, ()
    left = tuple(p for p in ledger.held if p.next_attempt_at > now)
    return replace(ledger, held=left), ready


def digest_event(receiver: str, items: Sequence[Pending], now: dt.datetime) -> AlertEvent:
    """One message for everything held for ``receiver``: what a mayor reads in the morning."""
    events = [p.event for p in items]
    worst = max(events, key=lambda e: e.severity.rank)
    firing = sum(1 for e in events if e.status is AlertStatus.FIRING)
    lines = "; ".join(e.summary for e in events[:2])
    more = f" (+{len(events) - 2} meer)" if len(events) > 2 else ""
    summary = f"{len(events)} meldingen ({firing} actief): {lines}{more}"
    return AlertEvent(
        alert_id=f"digest-{receiver}",
        rule="digest",
        status=AlertStatus.FIRING,
        severity=worst.severity,
        subject=NATIONAL,
        province=None,
        municipality_code=None,
        value=len(events),
        threshold=0,
        summary=summary,
        starts_at=now.isoformat(),
        ends_at=None,
        event_date=max(e.event_date for e in events),
        revision=int(now.timestamp()),
        labels={"digest_of": ",".join(p.notification_id for p in items)},
    )
