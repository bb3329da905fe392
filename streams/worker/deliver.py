"""The delivery stage: notifications in, messages to webhooks, SMS providers, PagerDuty and
Alertmanager out, each receiver's ledger kept in a table keyed by receiver.

One receiver's notifications arrive in order on one partition; its ledger (confirmed ids,
retries, held digests, groups, reminders) lives on the same partition. Records come in batches;
every receiver's share of a batch is worked through in order, receivers side by side, and each
ledger is written once per batch, after the batch's audit entries and dead notifications are
acknowledged and before its offsets are committed.

What ``kill -9`` does: before the ledger write, the batch's records come again after the restart,
and the ledger (which notes the offset of the last record it took in) tells which were handled;
a message sent but not yet in a written ledger is sent again with the same notification id, which
receivers deduplicate by (``webhook-id``). After the ledger write nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import faust
import httpx
import structlog

from alerts.catalogue import urgent
from alerts.delivery import grouping as groups
from alerts.delivery import ledger as delivery
from alerts.delivery.bundle import fold, members_of
from alerts.delivery.retry import schedule_for
from alerts.dispatch.admit import admit, counts_against_budget
from alerts.dispatch.decision import Action
from alerts.dispatch.dispatcher import targets
from alerts.errors import InvalidReport
from alerts.model import AlertEvent
from alerts.notify.base import Acknowledger, DeliveryError, Notifier
from alerts.notify.factory import build_acknowledger, build_notifier
from streams.messages import (
    EnableReceiver,
    Notification,
    NotificationMessage,
    ReceiverAck,
    ReceiverTick,
    decode_notification_message,
    encode_notification_message,
)
from streams.records import encode
from streams.state.audit import (
    AckForwarded,
    AttemptFailed,
    Delivered,
    Digested,
    Grouped,
    Held,
    NotSent,
    Queued,
    ReceiverEnabled,
    Reminded,
)
from streams.state.batch import Overlay
from streams.worker.context import Context
from streams.worker.guarantee import Record

__all__ = ["Delivery", "register"]

log = structlog.get_logger("opvangwacht.worker")

#: Records taken from the notifications topic at once (or whatever came within BATCH_WITHIN s).
BATCH_SIZE = 256
BATCH_WITHIN = 0.02
#: Receivers served side by side; each one's notifications stay in order.
RECEIVERS_AT_ONCE = 32
#: Each receiver has an HTTP client of its own: it sends one request at a time, so one kept-alive
#: connection serves it. With one client for all, httpcore checks every idle connection of the
#: shared pool (a socket poll through anyio each) for every request: about a fifth of the CPU an
#: HTTP request costs the worker with 8 receivers, and more with more.
RECEIVER_LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=1)
#: How often every receiver's ledger is woken for due retries and digests.
TICK_SECONDS = 5.0


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class Delivery:
    """Applies notification records to receivers' ledgers and acts on the decisions."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cursor = ctx.runner.cursor()
        #: Each receiver's retry waits: its own ``retry`` list, else its channel's default.
        self._schedules = {spec.name: schedule_for(spec) for spec in ctx.config.receivers}
        self.notifiers: dict[str, Notifier] = {}
        self.acknowledgers: dict[str, Acknowledger] = {}
        self._lanes = asyncio.Semaphore(RECEIVERS_AT_ONCE)

    async def open(self, clients: contextlib.AsyncExitStack) -> None:
        """One notifier (and HTTP client) per configured receiver."""
        for spec in self.ctx.config.receivers:
            client = await clients.enter_async_context(httpx.AsyncClient(limits=RECEIVER_LIMITS))
            notifier = build_notifier(spec, client, self.ctx.settings.secrets)
            self.notifiers[spec.name] = notifier
            acknowledger = build_acknowledger(spec, notifier)
            if acknowledger is not None:
                self.acknowledgers[spec.name] = acknowledger

    async def handle(self, records: list[Record]) -> list[Overlay]:
        """One batch of the notifications topic (the batch handler)."""
        ctx = self.ctx
        ledgers = Overlay(ctx.tables.ledgers)
        work: dict[str, list[tuple[int, int, NotificationMessage]]] = {}
        for record in records:
            try:
                message = decode_notification_message(record.value)
            except InvalidReport as exc:
                await ctx.runner.reject(record, exc)
                continue
            receiver = message.receiver
            if receiver not in self.notifiers:
                log.warning("notification for an unknown receiver dropped", receiver=receiver)
                continue
            work.setdefault(receiver, []).append((record.partition, record.offset, message))
        done = await asyncio.gather(
            *(self._lane(self.notifiers[name], items) for name, items in work.items())
        )
        for (name, items), (stored, updated) in zip(work.items(), done, strict=True):
            if updated != stored or stored is None:
                ledgers.set(items[-1][0], name, updated)
        return [ledgers]

    async def _lane(
        self, notifier: Notifier, records: list[tuple[int, int, NotificationMessage]]
    ) -> tuple[delivery.Ledger | None, delivery.Ledger]:
        """One receiver's share of a batch, (partition, offset, message) in order: (the ledger as
        stored, the ledger after). A record the stored ledger already took in (read again after
        a restart) is skipped."""
        async with self._lanes:
            stored: delivery.Ledger | None = self.ctx.tables.ledgers.get(notifier.name)
            ledger = stored if stored is not None else delivery.Ledger(notifier.name)
            for partition, offset, message in records:
                if ledger.has_applied(partition, offset):
                    continue
                ledger = await self._apply(notifier, ledger, message)
                ledger = delivery.mark_applied(ledger, partition, offset)
            return stored, ledger

    async def _apply(
        self, notifier: Notifier, ledger: delivery.Ledger, message: NotificationMessage
    ) -> delivery.Ledger:
        """One record of the notifications topic, applied to its receiver's ledger."""
        if isinstance(message, ReceiverTick):
            return await self._on_tick(notifier, ledger)
        if isinstance(message, ReceiverAck):
            await self._acknowledge(notifier.name, message)
            return ledger
        if isinstance(message, EnableReceiver):
            enabled = ReceiverEnabled(notifier.name, message.by)
            await self.ctx.runner.audit(f"receiver:{notifier.name}", enabled)
            return dataclasses.replace(ledger, disabled=None, resting_until=None)
        return await self._on_notification(notifier, ledger, message)

    async def _on_notification(
        self, notifier: Notifier, ledger: delivery.Ledger, message: Notification
    ) -> delivery.Ledger:
        nid, event, queued = message.notification_id, message.event, message.queued_at
        if ledger.knows(nid):
            return ledger  # redelivered after a restart: already confirmed, queued or held
        if ledger.disabled:
            await self.ctx.runner.audit(event.alert_id, NotSent(notifier.name, ledger.disabled))
            return ledger
        change = nid == delivery.notification_id(event, notifier.name)  # not an escalation
        if change and notifier.channel == "sms":
            ledger, text_it = fold(ledger, event)
            if not text_it:
                why = "folded: this morning count was texted already, nothing critical is new"
                for member in members_of(event):
                    alert_id = member.rsplit(":", 1)[0]
                    await self.ctx.runner.audit(alert_id, NotSent(notifier.name, why))
                self.ctx.metrics.notifications.labels("sms", notifier.name, "folded").inc()
                return ledger
        now = self.ctx.clock()
        item = delivery.Pending(nid, event, 0, now, queued)
        grouping = message.group
        if change:
            ledger = groups.remember(ledger, event, grouping.repeat if grouping else None, now)
        if grouping is not None:
            ledger, send_now = groups.group_arrival(
                ledger, item, grouping, now, urgent=urgent(event)
            )
            if not send_now:
                grouped = Grouped(notifier.name, grouping.key)
                await self.ctx.runner.audit(event.alert_id, grouped)
                self.ctx.metrics.notifications.labels(
                    notifier.channel, notifier.name, "grouped"
                ).inc()
                return ledger
        return await self._deliver(notifier, ledger, item)

    async def _deliver(
        self, notifier: Notifier, ledger: delivery.Ledger, item: delivery.Pending
    ) -> delivery.Ledger:
        """Quiet hours and the text budget, then one attempt; while the receiver rests (it did
        not answer a moment ago), a place in its queue instead of another timeout."""
        ctx = self.ctx
        event, nid = item.event, item.notification_id
        now = ctx.clock()
        decision = admit(event, ledger, ctx.config.routing, now)
        if decision.action is Action.SEND:
            if ledger.resting(now):
                queued = Queued(
                    notifier.name,
                    nid,
                    "the receiver did not answer; waits for its retry",
                    _iso(ledger.resting_until),
                )
                await ctx.runner.audit(event.alert_id, queued)
                return delivery.defer(ledger, item)
            return await self._attempt(
                notifier,
                ledger,
                event,
                nid,
                attempts=item.attempts + 1,
                first_queued_at=item.first_queued_at,
            )
        release_at = decision.release_at or now
        held_entry = Held(notifier.name, decision.reason, release_at.isoformat())
        await ctx.runner.audit(event.alert_id, held_entry)
        ctx.metrics.notifications.labels(
            notifier.channel, notifier.name, decision.action.value
        ).inc()
        held = delivery.Pending(nid, event, 0, release_at, item.first_queued_at)
        return delivery.hold(ledger, held)

    async def _attempt(
        self,
        notifier: Notifier,
        ledger: delivery.Ledger,
        event: AlertEvent,
        nid: str,
        *,
        attempts: int,
        first_queued_at: dt.datetime,
    ) -> delivery.Ledger:
        """One delivery attempt and its bookkeeping: confirmed, to be retried, or given up. A
        reminder or an escalation is a message of its own: its notification id is its message id
        (a webhook's ``webhook-id``), so a receiver's deduplication does not drop it as the alert
        change it saw."""
        ctx = self.ctx
        try:
            result = await notifier.send(event, message_id=nid)
        except DeliveryError as exc:
            return await self._failed(
                notifier,
                ledger,
                event,
                nid,
                exc,
                attempts=attempts,
                first_queued_at=first_queued_at,
            )
        ctx.metrics.notification_attempts.labels(notifier.channel, notifier.name, "ok").inc()
        ctx.metrics.notifications.labels(notifier.channel, notifier.name, "delivered").inc()
        delivered = Delivered(
            notifier.name,
            notifier.channel,
            event.revision,
            nid,
            attempts,
            result.status_code,
            result.provider_id,
            list(result.provider_ids),
            round(result.latency_s * 1000, 1),
            event.summary,
        )
        await ctx.runner.audit(event.alert_id, delivered)
        log.info(
            "delivered",
            receiver=notifier.name,
            alert_id=event.alert_id,
            revision=event.revision,
            notification_id=nid,
            status_code=result.status_code,
            latency_ms=round(result.latency_s * 1000, 1),
        )
        counted = counts_against_budget(event, notifier.name, ctx.config.routing)
        return delivery.delivered(ledger, nid, ctx.clock(), counted=counted)

    async def _failed(
        self,
        notifier: Notifier,
        ledger: delivery.Ledger,
        event: AlertEvent,
        nid: str,
        exc: DeliveryError,
        *,
        attempts: int,
        first_queued_at: dt.datetime,
    ) -> delivery.Ledger:
        """A failed attempt: retried later, or given up and sent to the dead notifications."""
        ctx = self.ctx
        schedule = self._schedules[notifier.name]
        retry_after = (
            None if exc.retry_after is None else min(exc.retry_after, schedule.max_retry_after)
        )
        verdict = delivery.failed(
            ledger,
            event,
            nid,
            delivery.Failure(
                exc.recoverable,
                retry_after,
                exc.disable,
                str(exc),
                unreachable=exc.recoverable and exc.status_code is None,
            ),
            ctx.clock(),
            attempts=attempts,
            first_queued_at=first_queued_at,
            schedule=schedule.delays,
        )
        outcome = verdict.gave_up or "retry"
        ctx.metrics.notification_attempts.labels(notifier.channel, notifier.name, outcome).inc()
        failed = AttemptFailed(
            notifier.name,
            notifier.channel,
            event.revision,
            nid,
            attempts,
            exc.status_code,
            str(exc),
            outcome,
            _iso(verdict.next_attempt_at),
        )
        await ctx.runner.audit(event.alert_id, failed)
        log.warning(
            "delivery failed",
            receiver=notifier.name,
            alert_id=event.alert_id,
            attempt=attempts,
            error=str(exc),
            outcome=outcome,
        )
        if verdict.gave_up is not None:
            ctx.metrics.notifications.labels(notifier.channel, notifier.name, "failed").inc()
            dead = {
                "notification_id": nid,
                "receiver": notifier.name,
                "channel": notifier.channel,
                "attempts": attempts,
                "reason": verdict.gave_up,
                "error": str(exc),
                "status_code": exc.status_code,
                "alert": event.to_dict(),
            }
            await ctx.runner.emit(ctx.topics.dead_notifications, nid.encode(), encode(dead))
        return verdict.ledger

    async def _on_tick(self, notifier: Notifier, ledger: delivery.Ledger) -> delivery.Ledger:
        """Due retries (oldest first; after one that got no answer the rest wait with it),
        digests whose quiet hours ended, groups whose wait or interval is over, and reminders."""
        ctx = self.ctx
        now = ctx.clock()
        for item in ledger.due(now):
            if ledger.resting(now):
                break
            ledger = await self._attempt(
                notifier,
                ledger,
                item.event,
                item.notification_id,
                attempts=item.attempts + 1,
                first_queued_at=item.first_queued_at,
            )
        ledger, ready = delivery.release(ledger, now)
        if ready:
            ledger = await self._digest(notifier, ledger, ready, now, direct=True)
        ledger, flushed = groups.flush_groups(ledger, now)
        for _key, items in flushed:
            if notifier.channel == "sms" and len(items) > 1:
                ledger = await self._digest(notifier, ledger, items, now, direct=False)
            else:
                for item in items:
                    ledger = await self._deliver(notifier, ledger, item)
        ledger, reminders = groups.due_reminders(ledger, now)
        for item in reminders:
            decisions = targets(
                item.event, ctx.config.routing, now, extra_silences=ctx.silences.active()
            )
            wanted = any(d.receiver == notifier.name and d.action is Action.SEND for d in decisions)
            reminded = Reminded(notifier.name, item.notification_id, wanted=wanted)
            await ctx.runner.audit(item.event.alert_id, reminded)
            if wanted:
                ledger = await self._deliver(notifier, ledger, item)
        return ledger

    async def _digest(
        self,
        notifier: Notifier,
        ledger: delivery.Ledger,
        items: tuple[delivery.Pending, ...],
        now: dt.datetime,
        *,
        direct: bool,
    ) -> delivery.Ledger:
        """One message for several: quiet-hour digests go out as they are (``direct``), a
        group's digest still passes quiet hours and the budget."""
        digest = delivery.digest_event(notifier.name, items, now)
        for item in items:
            await self.ctx.runner.audit(
                item.event.alert_id, Digested(notifier.name, digest.alert_id)
            )
        nid = delivery.notification_id(digest, notifier.name)
        first = min(p.first_queued_at for p in items)
        if direct:
            return await self._attempt(
                notifier, ledger, digest, nid, attempts=1, first_queued_at=first
            )
        pending = delivery.Pending(nid, digest, 0, now, first)
        return await self._deliver(notifier, ledger, pending)

    async def _acknowledge(self, receiver: str, message: ReceiverAck) -> None:
        """Pass a human acknowledgement on to on-call tooling that takes one (PagerDuty)."""
        acknowledger = self.acknowledgers.get(receiver)
        if acknowledger is None:
            return
        alert_id = message.alert_id
        try:
            await acknowledger.acknowledge(alert_id)
            outcome, error = "acknowledged", None
        except DeliveryError as exc:
            outcome, error = "failed", str(exc)
        await self.ctx.runner.audit(alert_id, AckForwarded(receiver, outcome, error))


def register(app: faust.App, ctx: Context) -> Delivery:
    """The delivery agent and the timer that wakes every receiver's ledger. Delivery has no
    stall watch: its handler needs the agent's HTTP clients (left as it was; see
    docs/architecture.md)."""
    stage = Delivery(ctx)

    @app.agent(ctx.topics.notifications, concurrency=1, name="deliver_notifications")
    async def deliver_notifications(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as clients:
            await stage.open(clients)
            # Stream.take_events hands over a batch at a time.
            taken = stream.take_events(BATCH_SIZE, within=BATCH_WITHIN)  # type: ignore[attr-defined]
            async for events in taken:
                await ctx.runner.run_batch(stage.cursor, events, stage.handle)
                yield None

    @app.timer(interval=TICK_SECONDS, on_leader=True)  # type: ignore[untyped-decorator]
    async def tick_receivers() -> None:
        """Wake every receiver's ledger: retries that are due, digests whose quiet hours ended,
        groups whose wait or interval is over, reminders (so their times have a 5 s
        granularity)."""
        for spec in ctx.config.receivers:
            tick = encode_notification_message(ReceiverTick(spec.name))
            await ctx.runner.edge.send(ctx.topics.notifications, spec.name.encode(), tick, None)

    return stage
