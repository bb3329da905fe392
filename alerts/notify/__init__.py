"""The notifier edge: sends alert events to receivers over httpx.

Every channel implements :class:`~alerts.notify.base.Notifier` and gets its ``httpx.AsyncClient``
from outside, so tests can hand it a mock transport or a real local server. May import httpx and the
pure core; never faust, aiokafka or ``streams``.
"""

from alerts.notify.base import DeliveryError, DeliveryResult, Notifier
from alerts.notify.webhook import WebhookNotifier

__all__ = ["DeliveryError", "DeliveryResult", "Notifier", "WebhookNotifier"]
