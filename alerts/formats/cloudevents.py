"""The CloudEvents 1.0 envelope of a webhook delivery, and the stable message id a receiver
deduplicates on (``webhook-id``).

The webhook notifier puts these on the wire; ``alerts.simulate`` shows them without sending
anything. Pure: no httpx, no clock, no secret (the signing secrets are added by the notifier).
Must not import httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

from typing import Any, Final

from alerts.model import AlertEvent, AlertStatus

__all__ = ["CLOUDEVENTS_SOURCE", "EVENT_TYPES", "cloudevent", "webhook_id"]

CLOUDEVENTS_SOURCE: Final = "urn:opvangwacht"
EVENT_TYPES: Final = {
    AlertStatus.FIRING: "nl.opvangwacht.alert.firing",
    AlertStatus.RESOLVED: "nl.opvangwacht.alert.resolved",
}


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
