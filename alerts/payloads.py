"""What each channel sends about an alert change, as plain data: the CloudEvents envelope of a
webhook and the PagerDuty Events API v2 body (without the routing key).

The notifiers in ``alerts.notify`` put these on the wire; ``alerts.dryrun`` shows them without
sending anything. Pure: no httpx, no clock, no secret (the routing key and the signing secrets are
added by the notifiers). Must not import httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

from typing import Any, Final

from alerts.model import AlertEvent, AlertStatus, Severity

__all__ = [
    "CLOUDEVENTS_SOURCE",
    "EVENT_TYPES",
    "PAGERDUTY_SEVERITY",
    "cloudevent",
    "pagerduty_event",
    "webhook_id",
]

CLOUDEVENTS_SOURCE: Final = "urn:opvangwacht"
EVENT_TYPES: Final = {
    AlertStatus.FIRING: "nl.opvangwacht.alert.firing",
    AlertStatus.RESOLVED: "nl.opvangwacht.alert.resolved",
}
#: Our severities on PagerDuty's (critical, error, warning, info).
PAGERDUTY_SEVERITY: Final = {
    Severity.CRITICAL: "critical",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}
_SUMMARY_MAX: Final = 1024


def webhook_id(event: AlertEvent, receiver: str) -> str:
    """Stable across retries, different per change and per receiver."""
    return f"{event.alert_id}.{event.revision}.{receiver}"


def cloudevent(
    event: AlertEvent, message_id: str, source: str = CLOUDEVENTS_SOURCE
) -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode envelope around the alert event."""
    when = (
        event.ends_at if event.status is AlertStatus.RESOLVED and event.ends_at else event.starts_at
    )
    return {
        "specversion": "1.0",
        "type": EVENT_TYPES[event.status],
        "source": source,
        "id": message_id,
        "time": when,
        "subject": event.alert_id,
        "datacontenttype": "application/json",
        "data": event.to_dict(),
    }


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
