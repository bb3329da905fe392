"""The audit trail: every routing decision, delivery attempt, acknowledgement and escalation.

Written to ``opvang.audit`` (keyed by alert_id) by the agents, one of the typed entries below
each; :class:`AuditLog` follows that topic from its start and keeps the recent history of each
alert in memory for ``GET /api/alerts/{id}/history``. Entries never hold a secret, a token or a
full phone number: what goes in is built from sanitised notifier errors and the alert's own
summary.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict
from typing import Any, ClassVar

from streams.messages import decode_audit_entry
from streams.state.follow import Skipped, follow_topic

__all__ = [
    "AckForwarded",
    "Acknowledged",
    "AlertChanged",
    "AttemptFailed",
    "AuditEntry",
    "AuditLog",
    "Delivered",
    "DeliveryReported",
    "Digested",
    "Escalated",
    "Grouped",
    "Held",
    "NotSent",
    "Queued",
    "ReceiverEnabled",
    "Reminded",
    "Routed",
]


@dataclasses.dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the trail; ``kind`` is its ``type`` on the topic, the fields its body."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"type": self.kind, **body}


@dataclasses.dataclass(frozen=True, slots=True)
class AlertChanged(AuditEntry):
    kind: ClassVar[str] = "change"
    event: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Routed(AuditEntry):
    """What routing decided for one receiver: send, silenced, inhibited, ..."""

    kind: ClassVar[str] = "routed"
    revision: int
    receiver: str
    action: str
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Delivered(AuditEntry):
    kind: ClassVar[str] = "attempt"
    receiver: str
    channel: str
    revision: int
    notification_id: str
    attempt: int
    status_code: int
    provider_id: str | None
    provider_ids: list[str]
    latency_ms: float
    text: str
    outcome: str = "delivered"


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptFailed(AuditEntry):
    """A failed attempt; ``outcome`` is ``retry``, or why it was given up (``dead``, ...)."""

    kind: ClassVar[str] = "attempt"
    receiver: str
    channel: str
    revision: int
    notification_id: str
    attempt: int
    status_code: int | None
    error: str
    outcome: str
    next_attempt_at: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Queued(AuditEntry):
    kind: ClassVar[str] = "queued"
    receiver: str
    notification_id: str
    reason: str
    next_attempt_at: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Held(AuditEntry):
    """Held back by quiet hours or the text budget until ``release_at``."""

    kind: ClassVar[str] = "held"
    receiver: str
    reason: str
    release_at: str


@dataclasses.dataclass(frozen=True, slots=True)
class NotSent(AuditEntry):
    """Not sent: the receiver is switched off (``reason`` says why)."""

    kind: ClassVar[str] = "skipped"
    receiver: str
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Grouped(AuditEntry):
    kind: ClassVar[str] = "grouped"
    receiver: str
    group: str


@dataclasses.dataclass(frozen=True, slots=True)
class Digested(AuditEntry):
    kind: ClassVar[str] = "digest"
    receiver: str
    digest: str


@dataclasses.dataclass(frozen=True, slots=True)
class Reminded(AuditEntry):
    """A reminder sent (``wanted``) or skipped because routing no longer sends it."""

    receiver: str
    notification_id: str
    wanted: bool = True

    def to_dict(self) -> dict[str, Any]:
        kind = "reminder" if self.wanted else "reminder-skipped"
        return {"type": kind, "receiver": self.receiver, "notification_id": self.notification_id}


@dataclasses.dataclass(frozen=True, slots=True)
class ReceiverEnabled(AuditEntry):
    kind: ClassVar[str] = "enabled"
    receiver: str
    by: str


@dataclasses.dataclass(frozen=True, slots=True)
class AckForwarded(AuditEntry):
    kind: ClassVar[str] = "ack-forwarded"
    receiver: str
    outcome: str
    error: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Escalated(AuditEntry):
    kind: ClassVar[str] = "escalated"
    receiver: str
    level: int
    since: str


@dataclasses.dataclass(frozen=True, slots=True)
class Acknowledged(AuditEntry):
    kind: ClassVar[str] = "ack"
    by: str
    comment: str


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryReported(AuditEntry):
    """An SMS provider's delivery report, matched to its alert by the provider's message id."""

    kind: ClassVar[str] = "delivery-report"
    provider: str
    provider_id: str
    status: str
    detail: str | None


class AuditLog:
    def __init__(self, *, per_alert: int = 200, alerts: int = 5000) -> None:
        self._entries: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        #: Provider message id -> alert_id, so that a delivery report finds its alert.
        self._provider_ids: OrderedDict[str, str] = OrderedDict()
        self._per_alert = per_alert
        self._alerts = alerts
        #: Set once the trail on the topic when following began has been read.
        self.ready = asyncio.Event()

    def add(self, alert_id: str, entry: dict[str, Any]) -> None:
        history = self._entries.pop(alert_id, [])
        history.append(entry)
        for provider_id in [entry.get("provider_id"), *(entry.get("provider_ids") or ())]:
            if provider_id:
                self._provider_ids[str(provider_id)] = alert_id
        while len(self._provider_ids) > self._alerts * 4:
            self._provider_ids.popitem(last=False)
        self._entries[alert_id] = history[-self._per_alert :]
        while len(self._entries) > self._alerts:
            self._entries.popitem(last=False)

    def history(self, alert_id: str) -> list[dict[str, Any]]:
        return list(self._entries.get(alert_id, ()))

    def knows(self, alert_id: str) -> bool:
        """Whether the trail holds a change of ``alert_id`` or a routing decision about one (the
        first entries of every published alert; acks and delivery reports do not count, since
        anyone may send those for any id)."""
        return any(
            entry.get("type") in ("change", "routed") for entry in self._entries.get(alert_id, ())
        )

    def alert_for(self, provider_id: str) -> str | None:
        return self._provider_ids.get(provider_id)

    def dead(self) -> list[dict[str, Any]]:
        """Every notification given up on that this worker remembers, newest last."""
        return [
            {"alert_id": alert_id, **entry}
            for alert_id, entries in self._entries.items()
            for entry in entries
            if entry.get("type") == "attempt" and entry.get("outcome") in ("dead", "disabled")
        ]

    def apply(self, alert_id: str, value: bytes | None) -> None:
        """One record of the audit topic. An entry whose fields the readers use have the wrong
        types (or that is no JSON object) raises :class:`~alerts.errors.InvalidReport`, which
        the follow loop logs and counts; a tombstone is nothing."""
        if value is None:
            return
        self.add(alert_id, decode_audit_entry(value))

    async def follow(self, bootstrap: str, topic: str, *, skipped: Skipped | None = None) -> None:
        await follow_topic(bootstrap, topic, self.apply, self.ready, skipped=skipped)
