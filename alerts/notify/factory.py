"""Build the notifier for a receiver spec: the one place that reads credentials out of ``env``.

``env`` is a mapping the composition root passes in (``os.environ``); a credential the spec names
but ``env`` lacks is a ConfigError naming the variable, never a value.

Part of the notifier edge: may import httpx and the pure core; must not import faust, aiokafka or
``streams``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import httpx

from alerts.errors import ConfigError
from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Acknowledger, Clock, Notifier
from alerts.notify.pagerduty import PagerDutyNotifier
from alerts.notify.sms import SmsNotifier
from alerts.notify.webhook import WebhookNotifier
from alerts.receivers.specs import (
    AlertmanagerSpec,
    PagerDutySpec,
    ReceiverSpec,
    SmsSpec,
    WebhookSpec,
)

__all__ = ["build_acknowledger", "build_notifier", "build_notifiers"]


def _secret(env: Mapping[str, str], name: str, receiver: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"receiver {receiver}: environment variable {name} is not set")
    return value


def build_notifier(
    spec: ReceiverSpec,
    client: httpx.AsyncClient,
    env: Mapping[str, str],
    clock: Clock = time.time,
) -> Notifier:
    channel = spec.spec
    if isinstance(channel, WebhookSpec):
        return WebhookNotifier(
            spec.name,
            channel.url,
            client,
            timeout=channel.timeout,
            headers=channel.headers,
            secrets=channel.secrets,
            envelope=channel.envelope,
            clock=clock,
        )
    if isinstance(channel, SmsSpec):
        sid = _secret(env, channel.account_sid_env, spec.name) if channel.account_sid_env else None
        return SmsNotifier(
            spec.name,
            client,
            provider=channel.provider,
            to=channel.to,
            sender=channel.sender,
            token=_secret(env, channel.token_env, spec.name),
            account_sid=sid,
            base_url=channel.base_url,
            timeout=channel.timeout,
            segments=channel.segments,
        )
    if isinstance(channel, PagerDutySpec):
        return PagerDutyNotifier(
            spec.name,
            client,
            routing_key=_secret(env, channel.routing_key_env, spec.name),
            url=channel.url,
            timeout=channel.timeout,
            source=channel.source,
            client_url=channel.client_url,
        )
    if isinstance(channel, AlertmanagerSpec):
        return AlertmanagerNotifier(
            spec.name,
            client,
            url=channel.url,
            timeout=channel.timeout,
            generator_url=channel.generator_url,
            token=_secret(env, channel.token_env, spec.name) if channel.token_env else None,
            clock=clock,
            firing_ttl_s=channel.firing_ttl_s,
        )
    raise ConfigError(f"receiver {spec.name}: unknown channel {spec.kind!r}")


def build_acknowledger(spec: ReceiverSpec, notifier: Notifier) -> Acknowledger | None:
    """The receiver's acknowledgement channel, when its kind has one: a PagerDuty receiver takes
    acknowledgements through the notifier :func:`build_notifier` made for it."""
    if isinstance(spec.spec, PagerDutySpec) and isinstance(notifier, PagerDutyNotifier):
        return notifier
    return None


def build_notifiers(
    specs: Iterable[ReceiverSpec],
    client: httpx.AsyncClient,
    env: Mapping[str, str],
    clock: Clock = time.time,
) -> list[Notifier]:
    return [build_notifier(spec, client, env, clock) for spec in specs]
