"""The delivery ledger of one receiver: what was confirmed, what waits for a retry, what is held
for a digest, and when a text budget was spent. Pure bookkeeping; the delivery agent sends.

Guarantees it helps keep:
- a notification id that was confirmed is never sent again (a redelivered record is skipped);
- a failed attempt is retried on the receiver's schedule (the caller passes its waits: see
  ``alerts.notify.retry.schedule_for``), and a receiver's Retry-After is respected; after the
  last one the notification is dead, not lost;
- 410 Gone switches the receiver off until an operator turns it back on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from alerts.model import NATIONAL, AlertEvent, AlertStatus

__all__ = [
    "Failure",
    "Ledger",
    "Pending",
    "Verdict",
    "delivered",
    "digest_event",
    "failed",
    "hold",
    "notification_id",
    "release",
]

#: Confirmed ids a ledger remembers: far more than one receiver gets between two restarts.
REMEMBERED: Final = 2000


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


@dataclass(frozen=True, slots=True)
class Ledger:
    receiver: str
    confirmed: tuple[str, ...] = ()
    sent_at: tuple[dt.datetime, ...] = ()
    pending: tuple[Pending, ...] = ()
    held: tuple[Pending, ...] = ()
    disabled: str | None = None  # why, when switched off

    def knows(self, notification: str) -> bool:
        return notification in self.confirmed or any(
            p.notification_id == notification for p in (*self.pending, *self.held)
        )

    def due(self, now: dt.datetime) -> list[Pending]:
        return [p for p in self.pending if p.next_attempt_at <= now]

    def oldest_pending(self) -> dt.datetime | None:
        return min((p.first_queued_at for p in (*self.pending, *self.held)), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "confirmed": list(self.confirmed),
            "sent_at": [t.isoformat() for t in self.sent_at],
            "pending": [p.to_dict() for p in self.pending],
            "held": [p.to_dict() for p in self.held],
            "disabled": self.disabled,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ledger:
        return cls(
            data["receiver"],
            tuple(data.get("confirmed", ())),
            tuple(dt.datetime.fromisoformat(t) for t in data.get("sent_at", ())),
            tuple(Pending.from_dict(p) for p in data.get("pending", ())),
            tuple(Pending.from_dict(p) for p in data.get("held", ())),
            data.get("disabled"),
        )


def _without(items: Sequence[Pending], notification: str) -> tuple[Pending, ...]:
    return tuple(p for p in items if p.notification_id != notification)


def delivered(ledger: Ledger, notification: str, now: dt.datetime) -> Ledger:
    """Confirmed by the receiver: remember it, count it against the text budget window."""
    day_ago = now - dt.timedelta(days=1)
    return replace(
        ledger,
        confirmed=(*ledger.confirmed, notification)[-REMEMBERED:],
        sent_at=(*(t for t in ledger.sent_at if t > day_ago), now),
        pending=_without(ledger.pending, notification),
        held=_without(ledger.held, notification),
    )


@dataclass(frozen=True, slots=True)
class Failure:
    recoverable: bool
    retry_after: float | None = None
    disable: bool = False
    message: str = ""


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
) -> Verdict:
    """An attempt (number ``attempts``) did not go through: schedule the next one or give up.

    ``schedule``: the seconds to wait after attempt 1, 2, ...; after the last, it is dead."""
    rest = _without(ledger.pending, notification)
    if failure.disable:
        why = f"switched off after: {failure.message}"
        return Verdict(replace(ledger, pending=rest, disabled=why), gave_up="disabled")
    steps = tuple(schedule)
    if not failure.recoverable or attempts > len(steps):
        return Verdict(replace(ledger, pending=rest), gave_up="dead")
    wait = float(steps[attempts - 1])
    if failure.retry_after is not None:
        wait = max(wait, failure.retry_after)
    when = now + dt.timedelta(seconds=wait)
    entry = Pending(notification, event, attempts, when, first_queued_at, failure.message)
    return Verdict(replace(ledger, pending=(*rest, entry)), next_attempt_at=when)


def hold(ledger: Ledger, item: Pending) -> Ledger:
    """Keep a notification for the receiver's next digest."""
    return replace(ledger, held=(*_without(ledger.held, item.notification_id), item))


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
