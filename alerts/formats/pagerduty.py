"""The PagerDuty Events API v2 body of an alert change (trigger or resolve), without the routing
key: the notifier puts that in front.

Pure: no httpx, no clock, no secret. Must not import httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

from typing import Any, Final

from alerts.model import AlertEvent, AlertStatus, Severity

__all__ = ["PAGERDUTY_SEVERITY", "pagerduty_event"]

#: Our severities on PagerDuty's (critical, error, warning, info).
PAGERDUTY_SEVERITY: Final = {
    Severity.CRITICAL: "critical",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}
_SUMMARY_MAX: Final = 1024


def pagerduty_event(
    event: AlertEvent, *, source: str = "opvangwacht", client_url: str | None = None
) -> dict[str, Any]:
    """The Events API v2 body for this alert change (trigger or resolve), without
    ``routing_key``: the notifier puts that in front."""
    action = {"event_action": "resolve", "dedup_key": event.alert_id}
    if event.status is AlertStatus.RESOLVED:
        return action
    payload: dict[str, Any] = {
        "summary": event.summary[:_SUMMARY_MAX],
        "source": source,
        "severity": PAGERDUTY_SEVERITY[event.severity],
        "timestamp": event.starts_at,
        "component": f"{event.subject.kind.value}/{event.subject.id}",
        "class": event.rule,
        "custom_details": event.to_dict(),
    }
    if event.province:
        payload["group"] = event.province
    body: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": event.alert_id,
        "payload": payload,
        "client": "opvangwacht",
    }
    if client_url:
        body["client_url"] = client_url
    return body
