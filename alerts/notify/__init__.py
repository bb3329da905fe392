"""The notifier edge: sends alert events to receivers over httpx.

Every channel implements :class:`~alerts.notify.base.Notifier` and gets its ``httpx.AsyncClient``
from outside, so tests can hand it a mock transport or a real local server;
:func:`~alerts.notify.factory.build_notifier` makes one from a
:class:`~alerts.receivers.specs.ReceiverSpec`. May import httpx and the pure core; never faust,
aiokafka or ``streams``.
"""

from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Clock, DeliveryError, DeliveryResult, Notifier
from alerts.notify.factory import build_notifier, build_notifiers
from alerts.notify.pagerduty import PagerDutyNotifier
from alerts.notify.sms import SmsNotifier
from alerts.notify.webhook import WebhookNotifier

__all__ = [
    "AlertmanagerNotifier",
    "Clock",
    "DeliveryError",
    "DeliveryResult",
    "Notifier",
    "PagerDutyNotifier",
    "SmsNotifier",
    "WebhookNotifier",
    "build_notifier",
    "build_notifiers",
]
