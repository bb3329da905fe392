"""The notifier edge: sends alert events to receivers over httpx.

Every channel implements :class:`~alerts.notify.base.Notifier` and gets its ``httpx.AsyncClient``
from outside, so tests can hand it a mock transport or a real local server;
:func:`~alerts.notify.factory.build_notifier` makes one from a
:class:`~alerts.receivers.specs.ReceiverSpec`. May import httpx and the pure core; never faust,
aiokafka or ``streams``.
"""
