"""The routing stage: every alert change a stage decides is published, written to the audit trail
and routed, in the step that made it.

``publish`` sends the change to the alerts topic, then asks the core which receivers must hear of
it (routes, silences, inhibition) and puts one notification per receiver on the notifications
topic, keyed by receiver; an SMS receiver gets one notification per evaluation, bundling what
that evaluation has for it (:func:`alerts.delivery.bundle.bundle_event`). Runs inside the batch
of the stage that made the change: all of it is among that batch's outputs, so a ``kill -9``
anywhere here sends it again after the restart and receivers deduplicate by notification id
(``webhook-id``; an SMS bundle's id is derived from its members, so it is the same again).
"""

from __future__ import annotations

import time

import structlog

from alerts.delivery.bundle import bundle_event, evaluations, segment_limit
from alerts.delivery.ledger import Grouping, notification_id
from alerts.dispatch.decision import Action
from alerts.dispatch.dispatcher import Firing, dispatch
from alerts.model import AlertEvent, AlertStatus
from alerts.receivers.specs import SmsSpec
from streams.messages import Notification, encode_notification_message
from streams.records import encode
from streams.state.audit import AlertChanged, Digested, Routed
from streams.web import api
from streams.worker.context import Context

__all__ = ["Router", "register"]

log = structlog.get_logger("opvangwacht.worker")


class Router:
    """Publishes and routes alert changes (see the module docstring)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        #: Every alert change this worker routed since it started, newest per alert_id: ahead of
        #: its own tables within a batch (they are written at the end of it).
        self._routed: dict[str, AlertEvent] = {}
        #: SMS receivers and the septets their segment budget allows.
        self._sms = {
            spec.name: segment_limit(spec.spec.segments)
            for spec in ctx.config.receivers
            if isinstance(spec.spec, SmsSpec)
        }

    def firing(self) -> Firing:
        """The alerts firing in the whole group, what the configured inhibition rules match
        their sources against: the group's picture (this worker's tables and the mirror of the
        others', ``streams.state.mirror``), with what this worker routed since, the newer
        revision of each alert winning. Read only when inhibition rules are configured."""
        if not self.ctx.config.routing.inhibit_rules:
            return Firing()
        newest: dict[str, AlertEvent] = {}
        for state in api.firing_states(self.ctx.state_view()):
            if state.last_event is not None:
                event = AlertEvent.from_dict(dict(state.last_event))
                newest[event.alert_id] = event
        for alert_id, event in self._routed.items():
            known = newest.get(alert_id)
            if known is None or event.revision >= known.revision:
                newest[alert_id] = event
        return Firing(e for e in newest.values() if e.status is AlertStatus.FIRING)

    async def publish(self, events: tuple[AlertEvent, ...], source_timestamp: float | None) -> None:
        for evaluation in evaluations(events):
            texts: dict[str, list[tuple[AlertEvent, Grouping | None]]] = {}
            for alert in evaluation:
                await self._publish_one(alert, source_timestamp, texts)
            for receiver, items in texts.items():
                message = bundle_event(
                    receiver,
                    [e for e, _ in items],
                    limit=self._sms[receiver],
                    status_url=self.ctx.settings.status_url,
                )
                if len(items) > 1:  # each member's history names the message it went in
                    for member, _ in items:
                        entry = Digested(receiver, message.alert_id)
                        await self.ctx.runner.audit(member.alert_id, entry)
                await self._emit(receiver, message, items[0][1])

    async def _publish_one(
        self,
        alert: AlertEvent,
        source_timestamp: float | None,
        texts: dict[str, list[tuple[AlertEvent, Grouping | None]]],
    ) -> None:
        ctx = self.ctx
        await ctx.runner.emit(ctx.topics.alerts, alert.alert_id.encode(), encode(alert.to_dict()))
        ctx.metrics.alert_events.labels(alert.rule, alert.status.value).inc()
        if source_timestamp:
            ctx.metrics.event_to_alert.observe(max(0.0, time.time() - source_timestamp))
        log.info(
            "alert",
            alert_id=alert.alert_id,
            rule=alert.rule,
            status=alert.status.value,
            revision=alert.revision,
            event_date=alert.event_date.isoformat(),
            summary=alert.summary,
        )
        await ctx.runner.audit(alert.alert_id, AlertChanged(alert.to_dict()))
        await self.route(alert, texts)

    async def route(
        self,
        alert: AlertEvent,
        texts: dict[str, list[tuple[AlertEvent, Grouping | None]]] | None = None,
    ) -> None:
        """Routing, silences and inhibition: every receiver that must hear of the change gets a
        notification record on the notifications topic (with its route's grouping, when the
        route groups or repeats). An SMS receiver's share goes to ``texts``, when given, for one
        message per evaluation."""
        ctx = self.ctx
        now = ctx.clock()
        decisions = dispatch(alert, ctx.config.routing, now, self.firing(), ctx.silences.active())
        self._routed[alert.alert_id] = alert
        for decision in decisions:
            routed = Routed(
                alert.revision, decision.receiver, decision.action.value, decision.reason
            )
            await ctx.runner.audit(alert.alert_id, routed)
            if decision.action is not Action.SEND:
                ctx.metrics.notifications.labels(
                    "-", decision.receiver, decision.action.value
                ).inc()
                continue
            if texts is not None and decision.receiver in self._sms:
                texts.setdefault(decision.receiver, []).append((alert, decision.grouping))
                continue
            await self._emit(decision.receiver, alert, decision.grouping)

    async def _emit(self, receiver: str, event: AlertEvent, grouping: Grouping | None) -> None:
        """One notification record: ``event`` (a change, or an SMS bundle of several) for
        ``receiver``, under its stable notification id."""
        ctx = self.ctx
        notification = Notification(
            notification_id(event, receiver), receiver, ctx.clock(), event, grouping
        )
        await ctx.runner.emit(
            ctx.topics.notifications, receiver.encode(), encode_notification_message(notification)
        )


def register(ctx: Context) -> Router:
    """The routing stage has no agent of its own: it runs inside the stages that make alert
    changes (ingest, aggregation), which the composition root hands this router."""
    return Router(ctx)
