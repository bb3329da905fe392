"""The audit trail: every routing decision, delivery attempt, acknowledgement and escalation.

Written to ``opvang.audit`` (keyed by alert_id) by the agents; :class:`AuditLog` follows that
topic from its start and keeps the recent history of each alert in memory for
``GET /api/alerts/{id}/history``. Entries never hold a secret, a token or a full phone number:
what goes in is built from sanitised notifier errors and the alert's own summary.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from streams.messages import decode_audit_entry
from streams.state.follow import Skipped, follow_topic

__all__ = ["AuditLog"]


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
