"""Who would be told what: a sequence of alert changes routed and paced the way the worker does
it, with the exact text each channel would send, and nothing sent.

For each alert change, in order: its decisions as the worker makes them
(:func:`alerts.dispatch.dispatcher.dispatch`: the route tree, audiences, silences, and inhibition
by the alerts of this run that are firing at that point), then for each receiver that must hear
of it quiet hours and the SMS budget (:func:`alerts.dispatch.admit.admit`, against a delivery
ledger per receiver kept as the worker keeps it), and the message: the SMS body as
:func:`alerts.receivers.sms_text.sms_text` renders it, the CloudEvent type and subject of a
webhook, the PagerDuty action and summary, the Alertmanager labels. ``streams.cli.route`` is the
command line for it (``opvangwacht route --dry-run``).

Time is an argument: each change is judged at its event time (the morning count of its
``event_date``, :func:`alerts.rules.lifecycle.event_time`) unless ``at`` fixes one moment for
all. Phone numbers come out masked, URLs as scheme://host:port only; no credential is ever part
of a result. Pure: must not import httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from alerts.config import AlertingConfig
from alerts.delivery.bundle import bundle_event, evaluations, fold
from alerts.delivery.ledger import Ledger, Pending, delivered, hold, notification_id
from alerts.dispatch.admit import admit, counts_against_budget
from alerts.dispatch.decision import Action, Decision
from alerts.dispatch.dispatcher import Firing, dispatch
from alerts.dispatch.silence import Silence
from alerts.formats.cloudevents import EVENT_TYPES, cloudevent, webhook_id
from alerts.formats.pagerduty import pagerduty_event
from alerts.model import AlertEvent, AlertStatus
from alerts.receivers.redact import mask_phone, safe_target
from alerts.receivers.sms_text import gsm7_units, segment_limit, sms_text
from alerts.receivers.specs import (
    AlertmanagerSpec,
    PagerDutySpec,
    ReceiverSpec,
    SmsSpec,
    WebhookSpec,
)
from alerts.rules.lifecycle import event_time

__all__ = [
    "BUNDLED",
    "DUPLICATE",
    "FOLDED",
    "DryRun",
    "Message",
    "Routed",
    "Target",
    "dry_run",
    "message",
]

#: Action of a change a receiver's ledger already knows (the same alert_id and revision again).
DUPLICATE: Final = "duplicate"
#: Action of an SMS-bound change that went in the message of another change of its evaluation.
BUNDLED: Final = "bundled"
#: Action of an SMS-bound change not texted: its morning count was texted already, and nothing
#: critical in it is new (:func:`alerts.delivery.bundle.morning_verdict`).
FOLDED: Final = "folded"


@dataclass(frozen=True, slots=True)
class Message:
    """What one channel would send: ``text`` is the line a person reads (the SMS body itself, or
    the summary in a webhook/PagerDuty/Alertmanager payload); ``fields`` the identifying parts of
    the payload (CloudEvent type and subject, PagerDuty action, masked numbers, ...)."""

    channel: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "text": self.text, **dict(self.fields)}


@dataclass(frozen=True, slots=True)
class Target:
    """One receiver's fate for one alert change. ``action``: a
    :class:`~alerts.dispatch.decision.Action` value (send, hold, over_budget, silenced, inhibited)
    or :data:`DUPLICATE`. ``message`` is what would go out (for send) or what waits for the
    digest (hold, over_budget); none otherwise."""

    receiver: str
    channel: str
    action: str
    reason: str = ""
    release_at: dt.datetime | None = None
    message: Message | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "channel": self.channel,
            "action": self.action,
            "reason": self.reason,
            "release_at": self.release_at.isoformat() if self.release_at else None,
            "message": self.message.to_dict() if self.message else None,
        }


@dataclass(frozen=True, slots=True)
class Routed:
    """One alert change, the moment it was judged at, and every receiver it concerns."""

    event: AlertEvent
    at: dt.datetime
    targets: tuple[Target, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "alert": self.event.to_dict(),
            "targets": [t.to_dict() for t in self.targets],
        }


@dataclass(frozen=True, slots=True)
class DryRun:
    routed: tuple[Routed, ...]

    @property
    def per_receiver(self) -> dict[str, Counter[str]]:
        """Receiver -> action -> count, receivers in the order they first appear."""
        counts: dict[str, Counter[str]] = {}
        for item in self.routed:
            for target in item.targets:
                counts.setdefault(target.receiver, Counter())[target.action] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        actions: Counter[str] = Counter(t.action for item in self.routed for t in item.targets)
        statuses = Counter(item.event.status.value for item in self.routed)
        return {
            "alerts": len(self.routed),
            "firing": statuses.get(AlertStatus.FIRING.value, 0),
            "resolved": statuses.get(AlertStatus.RESOLVED.value, 0),
            "unrouted": sum(1 for item in self.routed if not item.targets),
            "notifications": actions.get(Action.SEND.value, 0),
            "held": actions.get(Action.HOLD.value, 0),
            "over_budget": actions.get(Action.OVER_BUDGET.value, 0),
            "silenced": actions.get(Action.SILENCED.value, 0),
            "inhibited": actions.get(Action.INHIBITED.value, 0),
            "duplicate": actions.get(DUPLICATE, 0),
            "bundled": actions.get(BUNDLED, 0),
            "folded": actions.get(FOLDED, 0),
            "receivers": {name: dict(c) for name, c in self.per_receiver.items()},
        }


def message(event: AlertEvent, spec: ReceiverSpec) -> Message:
    """What ``spec``'s channel would send about ``event``: never a credential, never a whole
    phone number, never more of a URL than scheme://host:port."""
    channel = spec.spec
    if isinstance(channel, SmsSpec):
        limit = segment_limit(channel.segments)
        text = sms_text(event, limit)
        return Message(
            "sms",
            text,
            {
                "provider": channel.provider,
                "to": [mask_phone(n) for n in channel.to],
                "sender": channel.sender,
                "septets": gsm7_units(text),
                "limit": limit,
            },
        )
    if isinstance(channel, WebhookSpec):
        message_id = webhook_id(event, spec.name)
        fields: dict[str, Any] = {"url": safe_target(channel.url), "envelope": channel.envelope}
        if channel.envelope == "cloudevents":
            envelope = cloudevent(event, message_id)
            fields.update(type=envelope["type"], subject=envelope["subject"], id=envelope["id"])
        else:
            fields.update(type=EVENT_TYPES[event.status], subject=event.alert_id, id=message_id)
        fields["signed"] = bool(channel.secrets)
        return Message("webhook", event.summary, fields)
    if isinstance(channel, PagerDutySpec):
        body = pagerduty_event(event, source=channel.source, client_url=channel.client_url)
        payload = body.get("payload") or {}
        return Message(
            "pagerduty",
            str(payload.get("summary", event.summary)),
            {
                "url": safe_target(channel.url),
                "event_action": body["event_action"],
                "dedup_key": body["dedup_key"],
                **({"severity": payload["severity"]} if payload else {}),
            },
        )
    if isinstance(channel, AlertmanagerSpec):
        return Message(
            "alertmanager",
            event.summary,
            {
                "url": safe_target(channel.url),
                "alertname": event.rule,
                "severity": event.severity.value,
                "status": event.status.value,
            },
        )
    return Message(spec.kind, event.summary)


def dry_run(
    events: Iterable[AlertEvent],
    config: AlertingConfig,
    *,
    at: dt.datetime | None = None,
    silences: Iterable[Silence] = (),
    status_url: str | None = None,
) -> DryRun:
    """Route ``events`` in order as the worker would, sending nothing.

    ``at``: judge every change at this moment (silence windows, quiet hours, SMS budget);
    without it each change is judged at its own event time. ``silences``: silences made through
    the API, beside those in the configuration. ``status_url``: the status page's address
    (OPVANG_STATUS_URL), which SMS bundles end with when it fits. An SMS receiver gets one
    message per evaluation
    (:func:`alerts.delivery.bundle.evaluations`, :func:`~alerts.delivery.bundle.bundle_event`)
    and the morning rule (:func:`~alerts.delivery.bundle.fold`), as in the worker.
    """
    specs = {spec.name: spec for spec in config.receivers}
    extra = tuple(silences)
    ledgers: dict[str, Ledger] = {}
    firing = Firing()
    routed: list[Routed] = []
    for evaluation in evaluations(events):
        rows: list[tuple[AlertEvent, dt.datetime, list[Target | None]]] = []
        texts: dict[str, list[tuple[AlertEvent, list[Target | None], int]]] = {}
        for event in evaluation:
            now = at if at is not None else dt.datetime.fromisoformat(event_time(event.event_date))
            targets: list[Target | None] = []
            for decision in dispatch(event, config.routing, now, firing, extra):
                spec = specs.get(decision.receiver)
                if decision.action is Action.SEND and spec is not None and spec.kind == "sms":
                    texts.setdefault(spec.name, []).append((event, targets, len(targets)))
                    targets.append(None)  # filled in below, with the evaluation's message
                    continue
                targets.append(_target(event, decision, spec, ledgers, config, now))
            rows.append((event, now, targets))
        for name, items in texts.items():
            _text(specs[name], items, ledgers, config, rows[-1][1], status_url)
        routed.extend(
            Routed(event, now, tuple(t for t in targets if t is not None))
            for event, now, targets in rows
        )
    return DryRun(tuple(routed))


def _target(
    event: AlertEvent,
    decision: Decision,
    spec: ReceiverSpec | None,
    ledgers: dict[str, Ledger],
    config: AlertingConfig,
    now: dt.datetime,
) -> Target:
    """One receiver's fate for one change, its ledger in ``ledgers`` kept as the worker's."""
    channel = spec.kind if spec is not None else "?"
    if decision.action is not Action.SEND:
        return Target(decision.receiver, channel, decision.action.value, decision.reason)
    ledger = ledgers.get(decision.receiver) or Ledger(decision.receiver)
    nid = notification_id(event, decision.receiver)
    text = message(event, spec) if spec is not None else None
    if ledger.knows(nid):
        return Target(decision.receiver, channel, DUPLICATE, "this change was already sent")
    paced = admit(event, ledger, config.routing, now)
    if paced.action is Action.SEND:
        counted = counts_against_budget(event, decision.receiver, config.routing)
        ledgers[decision.receiver] = delivered(ledger, nid, now, counted=counted)
        return Target(decision.receiver, channel, paced.action.value, "", None, text)
    release = paced.release_at or now
    ledgers[decision.receiver] = hold(ledger, Pending(nid, event, 0, release, now))
    reason = f"{paced.reason}: waits for the digest at {release.isoformat()}"
    return Target(decision.receiver, channel, paced.action.value, reason, release, text)


def _text(
    spec: ReceiverSpec,
    items: list[tuple[AlertEvent, list[Target | None], int]],
    ledgers: dict[str, Ledger],
    config: AlertingConfig,
    now: dt.datetime,
    status_url: str | None = None,
) -> None:
    """An SMS receiver's share of one evaluation: one message (a bundle when several), under
    the morning rule; the first change carries the message, the others say they went with it."""
    assert isinstance(spec.spec, SmsSpec)
    members = [event for event, _, _ in items]
    limit = segment_limit(spec.spec.segments)
    bundle = bundle_event(spec.name, members, limit=limit, status_url=status_url)
    ledger = ledgers.get(spec.name) or Ledger(spec.name)
    ledger, text_it = (
        fold(ledger, bundle)
        if not ledger.knows(notification_id(bundle, spec.name))
        else (ledger, True)
    )
    ledgers[spec.name] = ledger
    if not text_it:
        why = "folded: this morning count was texted already, nothing critical is new"
        for _, targets, index in items:
            targets[index] = Target(spec.name, "sms", FOLDED, why)
        return
    decision = Decision(spec.name, Action.SEND)
    first = _target(bundle, decision, spec, ledgers, config, now)
    head, head_targets, head_index = items[0]
    head_targets[head_index] = first
    for _, targets, index in items[1:]:
        reason = f"in one sms with {head.alert_id} ({len(items)} changes)"
        targets[index] = Target(spec.name, "sms", BUNDLED, reason)
