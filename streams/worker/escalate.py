"""The escalation stage: critical alerts nobody acknowledged go, every ``after`` minutes, to the
next receiver on the escalation list.

Alert changes start and end a watch (a table keyed by alert_id); acknowledgements and the ticks
of :func:`register`'s timer arrive on the acks topic, keyed the same way, so a watch is read and
written on one partition. An escalation is a notification of its own (``<id>.esc<level>``) on the
notifications topic.

What ``kill -9`` does: the watch is written after the batch's notifications are acknowledged and
before its offsets are committed; a batch read again finds the watch at the level it had and
escalates again with the same notification id, which delivery deduplicates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import faust
import structlog

from alerts.delivery import escalation
from alerts.delivery.ledger import notification_id
from streams.messages import (
    Acknowledgement,
    EscalationTick,
    Notification,
    decode_escalation_message,
    encode_escalation_message,
    encode_notification_message,
)
from streams.state.audit import Escalated
from streams.state.batch import Overlay, batches
from streams.worker.context import Context
from streams.worker.guarantee import Record

__all__ = ["Escalation", "register"]

log = structlog.get_logger("opvangwacht.worker")

#: How often every watched alert is woken.
TICK_SECONDS = 5.0


class Escalation:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cursor = ctx.runner.cursor()

    async def escalate_batch(self, records: list[Record]) -> list[Overlay]:
        """One batch of alert changes and acknowledgements (the batch handler)."""
        watches = Overlay(self.ctx.tables.escalations)
        await self.ctx.runner.each(records, lambda record: self._one(record, watches))
        return [watches]

    async def _one(self, record: Record, watches: Overlay) -> None:
        policy = self.ctx.config.escalation
        message = decode_escalation_message(record.value)
        alert_id = message.alert_id
        current: escalation.Watch | None = watches.get(alert_id)
        if isinstance(message, Acknowledgement):
            updated = escalation.acknowledge(current, message.by)
        elif isinstance(message, EscalationTick):
            updated = current
            if current is not None:
                updated, receiver = escalation.due(current, policy, self.ctx.clock())
                if receiver is not None:
                    await self._escalate_to(receiver, updated)
        else:  # an alert change from the alerts topic
            updated = escalation.watch(current, message, self.ctx.clock())
        if updated != current:
            watches.set(record.partition, alert_id, updated)

    async def _escalate_to(self, receiver: str, watch: escalation.Watch) -> None:
        ctx = self.ctx
        alert = watch.event
        escalated = Escalated(receiver, watch.level, watch.since.isoformat())
        await ctx.runner.audit(alert.alert_id, escalated)
        nid = f"{notification_id(alert, receiver)}.esc{watch.level}"
        notification = Notification(nid, receiver, ctx.clock(), alert)
        await ctx.runner.emit(
            ctx.topics.notifications, receiver.encode(), encode_notification_message(notification)
        )
        log.warning("escalated", alert_id=alert.alert_id, receiver=receiver, level=watch.level)


def register(app: faust.App, ctx: Context) -> Escalation:
    """The escalation agent, its stall watch and the timer that wakes every watch."""
    stage = Escalation(ctx)

    @app.agent(ctx.topics.escalation_input, concurrency=1, name="escalate")
    async def escalate(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for events in batches(stream):
            await ctx.runner.run_batch(stage.cursor, events, stage.escalate_batch)
            yield None

    @app.timer(interval=TICK_SECONDS)  # type: ignore[untyped-decorator]
    async def tick_escalations() -> None:
        """Wake every watched alert this worker holds, on its own partition, so the table is
        written where it lives. Every worker of a group ticks the watches in its own table (the
        leader's table holds only its partitions); a watch a standby copy also holds is woken
        twice, which changes nothing: the second tick finds it already moved on."""
        if not ctx.config.escalation.receivers:
            return
        for alert_id in list(ctx.tables.escalations.keys()):
            tick = encode_escalation_message(EscalationTick(str(alert_id)))
            await ctx.runner.edge.send(ctx.topics.acks, str(alert_id).encode(), tick, None)

    ctx.runner.stall_watch(
        "escalation",
        stage.cursor,
        (ctx.settings.topic("alerts"), ctx.settings.topic("acks")),
        stage.escalate_batch,
        ready=ctx.registry.ready,
    )
    return stage
