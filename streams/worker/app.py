"""The Faust application: topics, tables and the thin agents that connect them.

Path of an occupancy report::

    opvang.occupancy -> process_reports (decode, look up location, alerts.engine.on_occupancy)
        -> location table
        -> opvang.alerts                          (alert state changes)
        -> internal.province-contributions        (keyed by province)
            -> aggregate_provinces -> province table
            -> internal.national-contributions    (keyed NL)
                -> aggregate_nation -> national table
    opvang.alerts -> deliver_alerts -> webhooks

Agents run with concurrency 1, table values are reassigned whole, never mutated in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import datetime as dt
import hmac
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from importlib import resources
from typing import Any, cast

import faust
import faust.transport.drivers.aiokafka as faust_aiokafka
import httpx
import structlog
from aiohttp import web as aiohttp_web
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from alerts import engine
from alerts.capacity.location import Applied
from alerts.capacity.totals import Contribution
from alerts.catalogue import urgent
from alerts.delivery import escalation
from alerts.delivery import ledger as delivery
from alerts.delivery.grouping import due_reminders, flush_groups, group_arrival, remember
from alerts.delivery.retry import schedule_for
from alerts.dispatch.admit import counts_against_budget, pace
from alerts.dispatch.decision import Action
from alerts.dispatch.dispatcher import targets
from alerts.dispatch.matchers import alert_labels
from alerts.dispatch.silence import parse_silence
from alerts.errors import ConfigError, InvalidReport
from alerts.formats import oasis_cap as cap
from alerts.model import AlertEvent, AlertStatus, IntakeReport, OccupancyReport
from alerts.notify.base import DeliveryError, DeliveryResult, Notifier
from alerts.notify.dlr import InvalidDeliveryReport, parse_report
from alerts.notify.factory import build_notifier
from alerts.notify.webhook import WebhookNotifier, webhook_id
from streams.logging import logging_dict_config
from streams.messages import (
    Acknowledgement,
    ContributionBundle,
    EnableReceiver,
    EscalationTick,
    Mark,
    Notification,
    NotificationMessage,
    ReceiverAck,
    ReceiverTick,
    decode_escalation_message,
    decode_national_message,
    decode_notification_message,
    decode_province_message,
    encode_escalation_message,
    encode_national_message,
    encode_notification_message,
    encode_province_message,
)
from streams.metrics import PipelineMetrics, StateCollector, StateView
from streams.records import (
    dead_letter,
    dead_letter_key,
    encode,
    intake_to_domain,
    occupancy_to_domain,
)
from streams.reference import load_municipalities
from streams.settings import Settings, load_alerting_config
from streams.state import codecs
from streams.state.aggregates import AggregateHead, AggregateStore, MemberRow
from streams.state.audit import AuditLog
from streams.state.batch import BATCH_MAX, Overlay, batches
from streams.state.locations import LocationHead, LocationStore, WeekRow
from streams.state.progress import MarkLog, PartitionProgress, observe, partition_of, progress
from streams.state.registry import LocationRegistry
from streams.state.silences import SilenceBook
from streams.state.split import Changes, VersionedRows
from streams.web import api
from streams.worker.guarantee import Cursor, GapReader, Outputs, Record, commit_offsets

__all__ = ["app", "config", "metrics", "registry", "settings"]

log = structlog.get_logger("opvangwacht.worker")

settings = Settings.from_env()
config = load_alerting_config(settings.config_path)

#: The largest message the worker writes (changelog values included), well above any record's
#: expected size; the producer and the changelog topics are configured for it.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024

#: How long the broker may hold a fetch of the worker's consumer when none of its partitions has
#: new messages. Faust fixes it at 1.5 s, and aiokafka keeps one fetch in flight per broker: when
#: a restarted worker finishes reading its changelogs, the partitions it then resumes wait for the
#: fetch that is still held, up to 1.5 s before the first report, and partitions that catch up
#: during recovery wait the same way. In the year benchmark (150 days, same code, one run each)
#: a restart took 15.9 s with 1.5 s and 11.3 s with 100 ms. Set on the consumer Faust creates,
#: before it starts.
FETCH_MAX_WAIT_MS = 100
_create_worker_consumer = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer
#: The producer's batch size per partition (see the app's settings below).
PRODUCER_BATCH_BYTES = 1024 * 1024


def _worker_consumer(self: Any, transport: Any) -> Any:
    consumer = _create_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
    return consumer


# Faust has no setting for it; its consumer factory is wrapped instead (checked on faust-streaming
# 0.15; tests/agents/test_consumer_settings.py fails if a new Faust stops calling it).
faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _worker_consumer  # type: ignore[method-assign]

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.broker_address}",
    store="memory://",
    datadir=str(settings.data_dir),
    web_port=settings.web_port,
    web_bind=settings.web_host,
    web_host=settings.web_host,
    topic_partitions=settings.partitions,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    stream_wait_empty=False,
    logging_config=logging_dict_config(),
    producer_acks=-1,
    producer_max_request_size=MAX_MESSAGE_BYTES,
    # Agents wait for the broker to acknowledge a batch's writes before the next step
    # (streams.worker.guarantee), and aiokafka has one request in flight per partition: with Faust's
    # 16 kB batches, a backlog batch's heads to one changelog partition took a dozen round trips
    # in a row (130 ms a batch, measured by opvang_batch_step_seconds). A megabyte is one trip.
    producer_max_batch_size=PRODUCER_BATCH_BYTES,
    # With a worker id the worker is a static member of its group: restarted after a crash, it
    # gets its partitions back at once instead of after the old member's session timed out.
    consumer_group_instance_id=settings.worker_id,
    # Faust's own table and router browsers would publish raw table contents: not ours to show.
    web_router_enabled=False,
    web_tables_enabled=False,
    table_key_serializer="json",
    table_value_serializer="json",
)

_raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
#: The topics agents read: Faust never commits their offsets itself (``acks=False``); each agent
#: commits what it has made durable (``streams.worker.guarantee``).
_input: dict[str, Any] = {**_raw, "acks": False}
reports_topic = app.topic(settings.topic("occupancy"), settings.topic("intake"), **_input)
alerts_topic = app.topic(settings.topic("alerts"), partitions=settings.partitions, **_raw)
deadletter_topic = app.topic(settings.topic("deadletter"), partitions=1, **_raw)
dead_notifications_topic = app.topic(settings.topic("notifications.dead"), partitions=1, **_raw)
province_topic = app.topic(
    settings.topic("internal.province-contributions"), partitions=settings.partitions, **_input
)
national_topic = app.topic(
    settings.topic("internal.national-contributions"), partitions=1, **_input
)
notifications_topic = app.topic(
    settings.topic("notifications"), partitions=settings.partitions, **_input
)
audit_topic = app.topic(settings.topic("audit"), partitions=1, **_raw)
silences_topic = app.topic(settings.topic("silences"), partitions=1, **_raw)
acks_topic = app.topic(settings.topic("acks"), partitions=settings.partitions, **_raw)
# The escalation agent reads alert changes and acknowledgements together, both keyed by alert_id.
escalation_input = app.topic(settings.topic("alerts"), settings.topic("acks"), **_input)

prometheus_registry = CollectorRegistry()
metrics = PipelineMetrics.create(prometheus_registry)

#: Changelog topics that Kafka compacts while the worker runs, not only after a week: segments
#: roll every ten seconds, and the cleaner takes a segment as soon as a tenth of it is outdated. A
#: restart then reads about one value per key plus the newest seconds of each partition, not the
#: whole history. A segment must be larger than the largest message, or the broker refuses it.
CHANGELOG_CONFIG = {
    "segment.ms": str(10 * 1000),
    "segment.bytes": str(2 * MAX_MESSAGE_BYTES),
    "min.cleanable.dirty.ratio": "0.1",
    # The nation's record carries every province's members for the days still open; Kafka's
    # default of 1 MB per message must never be what stops the worker.
    "max.message.bytes": str(MAX_MESSAGE_BYTES),
}

#: For the row tables of the split stores only (weeks of a location, members of a province or the
#: nation): deleted rows leave the compacted changelog after a minute instead of a day. When
#: locations kept a row per day, a year of reports deleted about 130,000 of them, and with Kafka's
#: default those tombstones were most of what a restart read. A reader slower than this may miss
#: a tombstone and keep a row nobody deleted; for these tables that is harmless, because a record
#: is rebuilt only from the rows its head lists (``streams.state.split``). Tables whose deletes mean
#: something (escalations, ledgers) keep Kafka's default: no restart may bring back their entries.
ROWS_CHANGELOG_CONFIG = {**CHANGELOG_CONFIG, "delete.retention.ms": str(60 * 1000)}


def _state_table(name: str, partitions: int, kind: Any = None, *, rows: bool = False) -> Any:
    """A table on a compacted changelog. With ``kind``, its values are the core's records
    themselves: writes to the changelog go through the record codec, and on recovery Faust reads
    the changelog back as plain JSON, which ``_to_value`` turns into the record again. ``rows``
    marks the row table of a split store (see ROWS_CHANGELOG_CONFIG)."""
    recovered = metrics.recovered.labels(name)

    async def count_recovered(event: Any) -> None:
        recovered.inc()

    table: Any = app.Table(
        name,
        default=None,
        partitions=partitions,
        extra_topic_configs=ROWS_CHANGELOG_CONFIG if rows else CHANGELOG_CONFIG,
        on_changelog_event=count_recovered,
    )
    if kind is not None:
        table.value_serializer = codecs.serializer(kind)
        table._to_value = codecs.from_changelog(kind)
    apply_all = table.apply_changelog_batch

    def apply_newest(batch: Iterable[Any]) -> None:
        # Recovery hands over up to 1000 changelog events at a time, often several for one key:
        # only the newest of each is applied (and turned into a record), in the order written.
        newest: dict[Any, Any] = {}
        for event in batch:
            key = table._to_key(event.key)
            newest.pop(key, None)
            newest[key] = event
        apply_all(list(newest.values()))

    table.apply_changelog_batch = apply_newest
    return table


# The row tables hold versioned rows (``streams.state.split``); rows and heads written before
# versions
# were kept read as version 0 with no input offsets.
location_table = LocationStore(
    _state_table("location-heads", settings.partitions, LocationHead),
    _state_table("location-weeks", settings.partitions, VersionedRows(WeekRow), rows=True),
)
province_table = AggregateStore(
    _state_table("province-heads", settings.partitions, AggregateHead),
    _state_table("province-members", settings.partitions, VersionedRows(MemberRow), rows=True),
)
national_table = AggregateStore(
    _state_table("national-heads", 1, AggregateHead),
    _state_table("national-members", 1, VersionedRows(MemberRow), rows=True),
)
ledger_table = _state_table("delivery-ledger", settings.partitions, delivery.Ledger)
escalation_table = _state_table("escalations", settings.partitions, escalation.Watch)
#: How far each input partition has been read (``streams.state.progress.PartitionProgress``), keyed
#: by
#: the input partition.
progress_table = _state_table("input-progress", settings.partitions, PartitionProgress)
#: The input marks each province partition has read, keyed by that partition; the nation's, "NL".
marks_table = _state_table("province-marks", settings.partitions, MarkLog)
national_marks_table = _state_table("nation-marks", 1, MarkLog)

registry = LocationRegistry()
audit_log = AuditLog()
silences = SilenceBook()
#: How long an SMS delivery report waits for the audit trail to be read after a start. Kept short,
#: so that the provider gets an answer (503, send it again later) rather than a timeout of its own.
AUDIT_WAIT_SECONDS = 10.0
#: How often every receiver's ledger is woken for due retries and digests.
TICK_SECONDS = 5.0
#: Each receiver's retry waits: its own ``retry`` list, else its channel's default.
_schedules = {spec.name: schedule_for(spec) for spec in config.receivers}
# Start every counter people alert on at zero, so the first dead letter or failed notification
# after a start is an increase Prometheus can see.
for _topic in (settings.topic("occupancy"), settings.topic("intake")):
    for _outcome in (
        "applied",
        "duplicate",
        "correction",
        "dead_letter:invalid_json",
        "dead_letter:schema",
        "dead_letter:out_of_range",
        "dead_letter:unknown_location",
    ):
        metrics.events.labels(_topic, _outcome)
for _spec in config.receivers:
    for _outcome in ("delivered", "failed"):
        metrics.notifications.labels(_spec.kind, _spec.name, _outcome)
# Faust's own sensors (messages, events, table operations, sends, offsets, rebalances) in the same
# registry, named opvang_faust_*: consumer lag = end offset - committed offset per partition.
_faust_metrics = FaustMetrics.create(prometheus_registry, "opvang_faust")
# Faust times events in milliseconds under an "_ms" name; Prometheus wants seconds. Our own
# opvang_event_to_alert_seconds covers that ground, so Faust's histogram is not exported.
prometheus_registry.unregister(_faust_metrics.events_runtime_latency)
app.monitor = PrometheusMonitor(metrics=_faust_metrics)


# ---------------------------------------------------------------- helpers (the edge's plumbing)

#: The messages of the batch being handled (``streams.worker.guarantee.Outputs``): every send of an
#: agent registers its delivery future here, and the batch awaits them before it writes state.
_outputs: contextvars.ContextVar[Outputs | None] = contextvars.ContextVar("outputs", default=None)


async def emit(
    topic: Any, key: bytes | None, value: bytes | None, partition: int | None = None
) -> None:
    """Send a message; inside a batch, the batch waits for its delivery before writing state."""
    outputs = _outputs.get()
    if outputs is not None:
        await outputs.send(topic, key, value, partition)
    else:
        await topic.send(key=key, value=value, partition=partition)


async def send_dead_letter(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    error: InvalidReport,
    value: bytes | None,
) -> None:
    record = dead_letter(
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        reason=error.reason,
        detail=error.detail,
        payload=value,
    )
    await emit(deadletter_topic, dead_letter_key(key), encode(record))
    metrics.events.labels(topic, f"dead_letter:{error.reason}").inc()
    log.warning("dead letter", topic=topic, offset=offset, reason=error.reason, detail=error.detail)


async def _reject(record: Record, error: InvalidReport) -> None:
    await send_dead_letter(
        record.topic, record.partition, record.offset, record.key, error, record.value
    )


async def _each(records: list[Record], handle_one: Callable[[Record], Awaitable[None]]) -> None:
    """Handle a batch's records one by one: one that does not decode is dead-lettered with its
    reason, one the core fails on as ``internal``; the batch goes on either way."""
    for record in records:
        try:
            await handle_one(record)
        except InvalidReport as exc:
            await _reject(record, exc)
        except Exception as exc:
            log.exception("record failed", topic=record.topic, offset=record.offset)
            await _reject(record, _internal(exc))


def _internal(exc: BaseException) -> InvalidReport:
    """An input that made an agent fail: dead-lettered, so the batch and the worker go on."""
    return InvalidReport("internal", f"{type(exc).__name__}: {exc}"[:500])


async def publish_alerts(events: tuple[AlertEvent, ...], source_timestamp: float | None) -> None:
    for alert in events:
        await emit(alerts_topic, alert.alert_id.encode(), encode(alert.to_dict()))
        metrics.alert_events.labels(alert.rule, alert.status.value).inc()
        if source_timestamp:
            metrics.event_to_alert.observe(max(0.0, time.time() - source_timestamp))
        log.info(
            "alert",
            alert_id=alert.alert_id,
            rule=alert.rule,
            status=alert.status.value,
            revision=alert.revision,
            event_date=alert.event_date.isoformat(),
            summary=alert.summary,
        )
        await audit(alert.alert_id, {"type": "change", "event": alert.to_dict()})
        await route_alert(alert)


#: Reads back the records Faust's stream skipped (``streams.worker.guarantee``).
gap_reader = GapReader(settings.broker_address, max_bytes=MAX_MESSAGE_BYTES)


def _fatal(exc: BaseException) -> None:
    """A batch whose outputs or state could not be written: nothing of it was committed, so the
    worker stops with a non-zero exit code and its supervisor restarts it at the uncommitted
    offsets. Carrying on would skip the batch. While the worker is stopping (SIGTERM), a write
    cut off by the producer or the event loop closing is expected: the batch is read again at
    the next start all the same, and the exit stays clean."""
    if app.should_stop:
        log.info("batch left unwritten by the stop; it is read again at the next start")
        return
    log.critical("batch failed; stopping so that it is read again", error=repr(exc))
    logging.shutdown()
    os._exit(70)


async def run_batch(
    cursor: Cursor,
    events: Sequence[Any],
    handle: Callable[[list[Record]], Awaitable[list[Overlay]]],
) -> None:
    """One batch of an agent: handle every record (sending its outputs) and stage its state;
    then hand the batch to the agent's writer, which waits for the outputs and changed rows,
    then the heads, then deletes rows and commits the input offsets (``streams.worker.guarantee``),
    while the agent goes on with the next batch."""
    async with cursor.lock():
        await _run_batch(cursor, events, handle)


async def _run_batch(
    cursor: Cursor,
    events: Sequence[Any],
    handle: Callable[[list[Record]], Awaitable[list[Overlay]]],
) -> None:
    name = getattr(handle, "__name__", "batch").lstrip("_")
    try:
        clock = time.perf_counter()
        records = await cursor.admit(events)
        if not records:
            return
        outputs = Outputs()
        token = _outputs.set(outputs)
        try:
            overlays = await handle(records)
        finally:
            _outputs.reset(token)
        changes = Changes()
        for overlay in overlays:
            overlay.stage(changes)
        _lap(metrics.batch_steps, name, "handle", clock)
        writer = _writers.get(name)
        if writer is None:
            writer = _writers[name] = BatchWriter(name)
        await writer.put(outputs, changes, cursor.done(records))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        _fatal(exc)


class BatchWriter:
    """Writes an agent's batches in order, one at a time, in the steps of
    ``streams.worker.guarantee``: outputs and rows acknowledged, then heads (and plain table values)
    acknowledged, then deletes, then the input offsets committed. The agent hands a batch over
    and goes on with the next one; up to WRITER_BACKLOG wait here (the queue's bound), so the
    agent's handling and the broker's round trips overlap. The rows of a batch are sent only
    after the heads of the batch before are acknowledged: a row is never more than one version
    ahead of the head on the changelog (``streams.state.split``)."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self._queue: asyncio.Queue[tuple[Outputs, Changes, dict[TP, int]]]
        self._queue = asyncio.Queue(WRITER_BACKLOG)
        self._task: asyncio.Task[None] | None = None
        #: Offsets durable but not committed yet, and when offsets were last committed.
        self._uncommitted: dict[TP, int] = {}
        self._committed_at = 0.0

    async def put(self, outputs: Outputs, changes: Changes, offsets: dict[TP, int]) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        await self._queue.put((outputs, changes, offsets))

    async def _run(self) -> None:
        steps = metrics.batch_steps
        while True:
            outputs, changes, offsets = await self._queue.get()
            try:
                clock = time.perf_counter()
                await outputs.settle(await Changes.send(changes.rows))
                clock = _lap(steps, self.agent, "outputs_and_rows", clock)
                await Changes.settle(await Changes.send(changes.heads))
                clock = _lap(steps, self.agent, "heads", clock)
                await Changes.send(changes.deletes)
                self._uncommitted.update(offsets)
                # Committing is for a quick restart and the lag metrics, not for correctness (the
                # heads carry the offsets): in a backlog it is done twice a second, not per batch.
                if self._queue.qsize() == 0 or clock - self._committed_at >= COMMIT_EVERY:
                    await commit_offsets(app, self._uncommitted)
                    self._uncommitted = {}
                    self._committed_at = clock
                    _lap(steps, self.agent, "commit", clock)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _fatal(exc)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every batch handed over is written (tests)."""
        await self._queue.join()


#: Batches an agent may hand its writer before it waits: in live traffic a batch every 50 ms meets
#: writes that take a few round trips to the broker each.
WRITER_BACKLOG = 8
#: Seconds between offset commits while batches queue up for a writer; an idle writer commits at
#: once, so the input lag reaches 0 as soon as the worker has caught up.
COMMIT_EVERY = 0.5

#: One writer per agent, made on its first batch.
_writers: dict[str, BatchWriter] = {}


def _lap(histogram: Any, agent: str, step: str, since: float) -> float:
    now = time.perf_counter()
    histogram.labels(agent, step).observe(now - since)
    return now


async def _reset_cursors(*_: Any, **__: Any) -> None:
    """After a rebalance the committed offsets are the truth again (``Cursor.reset``)."""
    for cursor in _cursors:
        cursor.reset()


# ---------------------------------------------------------------- agents


@app.task  # type: ignore[untyped-decorator]  # faust leaves Service.task untyped
async def follow_locations() -> None:
    await registry.follow(settings.broker_address, settings.topic("locations"), send_dead_letter)


def _count_read_back(topic: str, count: int) -> None:
    metrics.read_back.labels(topic).inc(count)


reports_cursor = Cursor(app, gap_reader, _count_read_back)
provinces_cursor = Cursor(app, gap_reader, _count_read_back)
nation_cursor = Cursor(app, gap_reader, _count_read_back)
notifications_cursor = Cursor(app, gap_reader, _count_read_back)
escalation_cursor = Cursor(app, gap_reader, _count_read_back)
_cursors = (
    reports_cursor,
    provinces_cursor,
    nation_cursor,
    notifications_cursor,
    escalation_cursor,
)
app.on_partitions_revoked.connect(_reset_cursors)
app.on_partitions_assigned.connect(_reset_cursors)


#: How often each agent checks that its partitions move (see ``_watch``).
STALL_CHECK_SECONDS = 5.0


async def _watch(
    cursor: Cursor,
    topics: Iterable[str],
    handle: Callable[[list[Record]], Awaitable[list[Overlay]]],
    last: dict[TP, int],
) -> None:
    """A partition with records past the agent's position that did not move since the last check
    is stalled: after a restart, Faust's consumer has been seen to stop fetching partitions for
    good (the year benchmark: 425 of 800 new reports, then nothing for minutes, with lag on half
    the input partitions). Its records are read straight from the broker and go through the same
    batch path. Never during a rebalance or a recovery (a stall check then handled records
    beside Faust's own table recovery, and the crash test caught false report_missing alerts),
    and only once the locations are loaded."""
    state: Any = app
    busy = (
        state.rebalancing
        or getattr(state, "in_recovery", False)
        or not state.flow_control.is_active()
        or not cast(Any, app.tables).recovery.completed.is_set()
        or not registry.ready.is_set()
    )
    if busy:
        # A rebalance pauses every stream and may read tables back: nothing is stalled then, and
        # nothing may be handled beside Faust's recovery.
        last.clear()
        return
    wanted = set(topics)
    tps = [tp for tp in app.consumer.assignment() if tp.topic in wanted]
    behind = await cursor.behind(tps)
    stalled = {tp: span for tp, span in behind.items() if last.get(tp) == span[0]}
    last.clear()
    last.update({tp: span[0] for tp, span in behind.items()})
    for tp, (start, end) in stalled.items():
        records = await gap_reader.read(tp.topic, tp.partition, start, end)
        log.warning(
            "partition stalled; reading it directly",
            topic=tp.topic,
            partition=tp.partition,
            start=start,
            end=end,
            records=len(records),
        )
        metrics.read_back.labels(tp.topic).inc(len(records))
        for first in range(0, len(records), BATCH_MAX):
            chunk = records[first : first + BATCH_MAX]
            await run_batch(cursor, [_Event(r) for r in chunk], handle)


@dataclasses.dataclass(frozen=True, slots=True)
class _Event:
    """A record read from the broker, in the shape of a stream's event."""

    message: Record


_stall_marks: dict[str, dict[TP, int]] = {}


def _stall_watch(
    name: str,
    cursor: Cursor,
    topics: Iterable[str],
    handle: Callable[[list[Record]], Awaitable[list[Overlay]]],
) -> None:
    last = _stall_marks.setdefault(name, {})
    topic_names = tuple(topics)

    async def check() -> None:
        try:
            await _watch(cursor, topic_names, handle, last)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the broker did not answer: try again at the next check
            log.warning("stall check failed", agent=name, error=str(exc)[:300])

    check.__name__ = f"watch_{name}"
    app.timer(interval=STALL_CHECK_SECONDS)(check)


@app.agent(reports_topic, concurrency=1)
async def process_reports(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    # The stream is taken from at once; reports wait for the locations inside the first batch.
    # (Waiting before the first ``take_events`` left a restarted worker, whose locations arrive
    # just after its partitions, without a consumer of its input: seen in the kill -9 test.)
    async for events in batches(stream):
        await registry.ready.wait()
        await run_batch(reports_cursor, events, _ingest)
        yield None


async def _ingest(records: list[Record]) -> list[Overlay]:
    locations, progress_rows, outbox = Overlay(location_table), Overlay(progress_table), _Outbox()
    await _each(records, lambda record: _process_report(record, locations, progress_rows, outbox))
    await outbox.flush()
    return [locations, progress_rows]


class _Outbox:
    """A batch's contributions, one message per province instead of one per report: the province
    agent then reads a few hundred messages a day instead of one per location report. Within a
    province the order is kept, and a mark goes out only after everything before it."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Contribution]] = {}

    def add(self, share: Contribution) -> None:
        self.pending.setdefault(share.province, []).append(share)

    async def flush(self) -> None:
        for province, items in self.pending.items():
            bundle = encode_province_message(ContributionBundle(tuple(items)))
            await emit(province_topic, province.encode(), bundle)
        self.pending.clear()


async def _process_report(
    record: Record, locations: Overlay, progress_rows: Overlay, outbox: _Outbox
) -> None:
    topic, partition = record.topic, record.partition
    kind = "intake" if topic == settings.topic("intake") else "occupancy"
    try:
        report: OccupancyReport | IntakeReport = (
            intake_to_domain(record.value, timestamp=record.timestamp)
            if kind == "intake"
            else occupancy_to_domain(record.value, timestamp=record.timestamp)
        )
        location = await registry.lookup(report.location_id, timestamp=record.timestamp)
        if location is None:
            raise InvalidReport(
                "unknown_location",
                f"no location {report.location_id!r} on {settings.topic('locations')}; "
                "publish it first (opvangwacht load-locations)",
            )
    except InvalidReport as exc:
        await _reject(record, exc)
        return
    with structlog.contextvars.bound_contextvars(
        event_id=report.event_id, location_id=report.location_id
    ):
        # Offsets per input partition: a producer that keys by something else than the
        # location_id spreads one location over several partitions, each with its own offsets.
        # The state itself always goes to the location's own changelog partition.
        source = f"{kind}:{partition}"
        home = partition_of(report.location_id, settings.partitions)
        if record.offset <= locations.offsets(report.location_id).get(source, -1):
            # Read again after a restart: the stored record already reflects this report.
            metrics.events.labels(topic, "reread").inc()
        else:
            stored: engine.LocationRecord | None = locations.get(report.location_id)
            current = (
                stored if stored is not None else engine.LocationRecord.new(report.location_id)
            )
            if isinstance(report, OccupancyReport):
                outcome = engine.on_occupancy(location, current, report, config)
            else:
                outcome = engine.on_intake(location, current, report, config)
            metrics.events.labels(topic, outcome.applied.value).inc()
            kept = current if outcome.applied is Applied.DUPLICATE else outcome.record
            locations.set(home, report.location_id, kept, {source: record.offset})
            await publish_alerts(outcome.events, record.timestamp)
            for share in outcome.contributions:
                outbox.add(share)
        key = str(partition)
        state: PartitionProgress = progress_rows.get(key) or PartitionProgress()
        if state.seen(kind, record.offset):
            return
        state, mark = observe(
            state, kind, report.date, record.offset, expect_intake=config.expect_intake
        )
        progress_rows.set(partition, key, state)
        if mark is not None:
            await outbox.flush()
            await _broadcast_mark(partition, mark)


async def _broadcast_mark(source: int, date: dt.date) -> None:
    """Tell every province partition how far this input partition has been read."""
    mark = encode_province_message(Mark(source, date))
    for partition in range(settings.partitions):
        await emit(province_topic, b"__mark__", mark, partition)


def _marks(table: Overlay, key: str) -> MarkLog:
    found: MarkLog | None = table.get(key)
    return found if found is not None else MarkLog()


def _add_mark(
    table: Overlay, key: str, log_: MarkLog, record: Record, source: int, date: dt.date
) -> MarkLog:
    added = log_.add(source, record.offset, date)
    if added is not log_:
        committed = cast(Any, app.consumer)._committed_offset.get(
            TP(record.topic, record.partition)
        )
        if committed is not None:
            added = added.fold(int(committed))
        table.set(record.partition, key, added)
    return added


async def _close_province(
    partition: int,
    provinces: Overlay,
    record: engine.AggregateRecord,
    reached: dt.date | None,
    source: Record,
) -> None:
    outcome = engine.close_days(record, config, engine.province_rules, progress=reached)
    provinces.set(partition, record.subject_id, outcome.record, {"in": source.offset})
    await publish_alerts(outcome.events, source.timestamp)
    for date, asylum, ukrainian in outcome.closed_days:
        for totals, is_asylum in ((asylum, True), (ukrainian, False)):
            if totals.locations == 0 and not is_asylum:
                continue
            share = engine.province_share(outcome.record, date, totals, asylum=is_asylum)
            await emit(national_topic, b"NL", encode_national_message(share))


@app.agent(province_topic, concurrency=1)
async def aggregate_provinces(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    async for events in batches(stream):
        await run_batch(provinces_cursor, events, _aggregate_provinces)
        yield None


async def _aggregate_provinces(records: list[Record]) -> list[Overlay]:
    provinces, marks = Overlay(province_table), Overlay(marks_table)
    await _each(records, lambda record: _aggregate_province(record, provinces, marks))
    return [provinces, marks]


def _handled(table: Overlay, key: str, record: Record) -> bool:
    """Whether the stored aggregate already reflects this message (read again after a crash)."""
    return record.offset <= table.offsets(key).get("in", -1)


async def _aggregate_province(record: Record, provinces: Overlay, marks: Overlay) -> None:
    partition = record.partition
    message = decode_province_message(record.value)
    key = str(partition)
    mark_log = _marks(marks, key)
    if isinstance(message, Mark):
        mark_log = _add_mark(marks, key, mark_log, record, message.source, message.date)
        found = mark_log.as_of(record.offset)
        reached = progress(found, found.keys())
        codes = sorted(
            code
            for code in provinces.all_keys()
            if partition_of(code, settings.partitions) == partition
        )
        for code in codes:
            stored_record: engine.AggregateRecord | None = provinces.get(code)
            if stored_record is not None and not _handled(provinces, code, record):
                await _close_province(partition, provinces, stored_record, reached, record)
        if reached is not None:
            # After this partition's province days: the nation reads them in this order.
            forward = encode_national_message(Mark(partition, reached))
            await emit(national_topic, b"NL", forward)
        return
    found = mark_log.as_of(record.offset)
    reached = progress(found, found.keys())
    # Judged once per message: the first item of a bundle marks its province with this offset.
    handled = {i.province for i in message.items if _handled(provinces, i.province, record)}
    for item in message.items:
        if item.province in handled:
            continue
        stored: engine.AggregateRecord | None = provinces.get(item.province)
        current = stored if stored is not None else engine.AggregateRecord(item.province)
        await _close_province(
            partition, provinces, engine.on_contribution(current, item), reached, record
        )


@app.agent(national_topic, concurrency=1)
async def aggregate_nation(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    async for events in batches(stream):
        await run_batch(nation_cursor, events, _aggregate_national)
        yield None


async def _aggregate_national(records: list[Record]) -> list[Overlay]:
    nation, marks = Overlay(national_table), Overlay(national_marks_table)
    await _each(records, lambda record: _aggregate_nation(record, nation, marks))
    return [nation, marks]


async def _aggregate_nation(record: Record, nation: Overlay, marks: Overlay) -> None:
    partition = record.partition
    message = decode_national_message(record.value)
    mark_log = _marks(marks, "NL")
    stored: engine.AggregateRecord | None = nation.get("NL")
    current = stored if stored is not None else engine.AggregateRecord("NL")
    if isinstance(message, Mark):
        mark_log = _add_mark(marks, "NL", mark_log, record, message.source, message.date)
    elif not _handled(nation, "NL", record):
        current = engine.on_contribution(current, message)
    if _handled(nation, "NL", record):
        return
    found = mark_log.as_of(record.offset)
    reached = progress(found, found.keys())
    outcome = engine.close_days(current, config, engine.national_rules, progress=reached)
    nation.set(partition, "NL", outcome.record, {"in": record.offset})
    await publish_alerts(outcome.events, record.timestamp)


# ---------------------------------------------------------------- delivery


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def audit(alert_id: str, entry: dict[str, Any]) -> None:
    record = {"time": _now().isoformat(), **entry}
    await emit(audit_topic, alert_id.encode(), encode(record))


#: The labels of every alert firing in this worker, by alert_id: what the configured inhibition
#: rules match their sources against. Built from the tables on first use (after a restart) and
#: kept up to date with every change this worker publishes. With several workers each knows the
#: alerts of its own partitions only.
_firing: dict[str, dict[str, str]] | None = None


def _firing_labels() -> dict[str, dict[str, str]]:
    global _firing
    if _firing is None:
        _firing = {}
        for state in api.firing_states(_state_view()):
            if state.last_event is not None:
                event = AlertEvent.from_dict(dict(state.last_event))
                _firing[event.alert_id] = alert_labels(event)
    return _firing


async def route_alert(alert: AlertEvent) -> None:
    """Routing, silences and inhibition, in the step that made the alert change: every receiver
    that must hear of it gets a notification record on the notifications topic (with its route's
    grouping, when the route groups or repeats)."""
    firing = _firing_labels()
    others = [labels for alert_id, labels in firing.items() if alert_id != alert.alert_id]
    if alert.status is AlertStatus.FIRING:
        firing[alert.alert_id] = alert_labels(alert)
    else:
        firing.pop(alert.alert_id, None)
    for decision in targets(
        alert, config.routing, _now(), firing=others, extra_silences=silences.active()
    ):
        await audit(
            alert.alert_id,
            {
                "type": "routed",
                "revision": alert.revision,
                "receiver": decision.receiver,
                "action": decision.action.value,
                "reason": decision.reason,
            },
        )
        if decision.action is not Action.SEND:
            metrics.notifications.labels("-", decision.receiver, decision.action.value).inc()
            continue
        notification = Notification(
            delivery.notification_id(alert, decision.receiver),
            decision.receiver,
            _now(),
            alert,
            decision.grouping,
        )
        await emit(
            notifications_topic,
            decision.receiver.encode(),
            encode_notification_message(notification),
        )


async def _send(notifier: Notifier, event: AlertEvent, nid: str) -> DeliveryResult:
    """A reminder or an escalation is a message of its own: a webhook gets its notification id as
    ``webhook-id``, so a receiver's deduplication does not drop it as the alert change it saw."""
    if isinstance(notifier, WebhookNotifier) and nid != webhook_id(event, notifier.name):
        return await notifier.send(event, message_id=nid)
    return await notifier.send(event)


async def _attempt(
    notifier: Notifier,
    ledger: delivery.Ledger,
    event: AlertEvent,
    nid: str,
    *,
    attempts: int,
    first_queued_at: dt.datetime,
) -> delivery.Ledger:
    """One delivery attempt and its bookkeeping: confirmed, to be retried, or given up."""
    base = {"receiver": notifier.name, "channel": notifier.channel, "revision": event.revision}
    try:
        result = await _send(notifier, event, nid)
    except DeliveryError as exc:
        schedule = _schedules[notifier.name]
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
                bool(getattr(exc, "disable", False)),
                str(exc),
                unreachable=exc.recoverable and exc.status_code is None,
            ),
            _now(),
            attempts=attempts,
            first_queued_at=first_queued_at,
            schedule=schedule.delays,
        )
        outcome = verdict.gave_up or "retry"
        metrics.notification_attempts.labels(notifier.channel, notifier.name, outcome).inc()
        await audit(
            event.alert_id,
            {
                **base,
                "type": "attempt",
                "notification_id": nid,
                "attempt": attempts,
                "status_code": exc.status_code,
                "error": str(exc),
                "outcome": outcome,
                "next_attempt_at": (
                    verdict.next_attempt_at.isoformat() if verdict.next_attempt_at else None
                ),
            },
        )
        log.warning(
            "delivery failed",
            receiver=notifier.name,
            alert_id=event.alert_id,
            attempt=attempts,
            error=str(exc),
            outcome=outcome,
        )
        if verdict.gave_up is not None:
            metrics.notifications.labels(notifier.channel, notifier.name, "failed").inc()
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
            await emit(dead_notifications_topic, nid.encode(), encode(dead))
        return verdict.ledger
    metrics.notification_attempts.labels(notifier.channel, notifier.name, "ok").inc()
    metrics.notifications.labels(notifier.channel, notifier.name, "delivered").inc()
    await audit(
        event.alert_id,
        {
            **base,
            "type": "attempt",
            "notification_id": nid,
            "attempt": attempts,
            "status_code": result.status_code,
            "provider_id": result.provider_id,
            "provider_ids": list(getattr(result, "provider_ids", ()) or ()),
            "latency_ms": round(result.latency_s * 1000, 1),
            "text": event.summary,
            "outcome": "delivered",
        },
    )
    log.info(
        "delivered",
        receiver=notifier.name,
        alert_id=event.alert_id,
        revision=event.revision,
        notification_id=nid,
        status_code=result.status_code,
        latency_ms=round(result.latency_s * 1000, 1),
    )
    counted = counts_against_budget(event, notifier.name, config.routing)
    return delivery.delivered(ledger, nid, _now(), counted=counted)


async def _deliver(
    notifier: Notifier, ledger: delivery.Ledger, item: delivery.Pending
) -> delivery.Ledger:
    """Quiet hours and the text budget, then one attempt; while the receiver rests (it did not
    answer a moment ago), a place in its queue instead of another timeout."""
    event, nid = item.event, item.notification_id
    now = _now()
    decision = pace(event, notifier.name, config.routing, now, ledger.sent_at)
    if decision.action is Action.SEND:
        if ledger.resting(now):
            await audit(
                event.alert_id,
                {
                    "type": "queued",
                    "receiver": notifier.name,
                    "notification_id": nid,
                    "reason": "the receiver did not answer; waits for its retry",
                    "next_attempt_at": _iso(ledger.resting_until),
                },
            )
            return delivery.defer(ledger, item)
        return await _attempt(
            notifier,
            ledger,
            event,
            nid,
            attempts=item.attempts + 1,
            first_queued_at=item.first_queued_at,
        )
    release_at = decision.release_at or now + dt.timedelta(hours=1)
    await audit(
        event.alert_id,
        {
            "type": "held",
            "receiver": notifier.name,
            "reason": decision.reason,
            "release_at": release_at.isoformat(),
        },
    )
    metrics.notifications.labels(notifier.channel, notifier.name, decision.action.value).inc()
    return delivery.hold(ledger, delivery.Pending(nid, event, 0, release_at, item.first_queued_at))


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


async def _on_notification(
    notifier: Notifier, ledger: delivery.Ledger, message: Notification
) -> delivery.Ledger:
    nid, event, queued = message.notification_id, message.event, message.queued_at
    if ledger.knows(nid):
        return ledger  # redelivered after a restart: already confirmed, queued or held
    if ledger.disabled:
        await audit(
            event.alert_id,
            {"type": "skipped", "receiver": notifier.name, "reason": ledger.disabled},
        )
        return ledger
    now = _now()
    item = delivery.Pending(nid, event, 0, now, queued)
    grouping = message.group
    if nid == delivery.notification_id(event, notifier.name):  # an alert change, not an escalation
        ledger = remember(ledger, event, grouping.repeat if grouping else None, now)
    if grouping is not None:
        ledger, send_now = group_arrival(ledger, item, grouping, now, urgent=urgent(event))
        if not send_now:
            await audit(
                event.alert_id,
                {"type": "grouped", "receiver": notifier.name, "group": grouping.key},
            )
            metrics.notifications.labels(notifier.channel, notifier.name, "grouped").inc()
            return ledger
    return await _deliver(notifier, ledger, item)


async def _on_tick(notifier: Notifier, ledger: delivery.Ledger) -> delivery.Ledger:
    """Due retries (oldest first; after one that got no answer the rest wait with it), digests
    whose quiet hours ended, groups whose wait or interval is over, and reminders."""
    now = _now()
    for item in ledger.due(now):
        if ledger.resting(now):
            break
        ledger = await _attempt(
            notifier,
            ledger,
            item.event,
            item.notification_id,
            attempts=item.attempts + 1,
            first_queued_at=item.first_queued_at,
        )
    ledger, ready = delivery.release(ledger, now)
    if ready:
        ledger = await _digest(notifier, ledger, ready, now, direct=True)
    ledger, flushed = flush_groups(ledger, now)
    for _key, items in flushed:
        if notifier.channel == "sms" and len(items) > 1:
            ledger = await _digest(notifier, ledger, items, now, direct=False)
        else:
            for item in items:
                ledger = await _deliver(notifier, ledger, item)
    ledger, reminders = due_reminders(ledger, now)
    for item in reminders:
        decisions = targets(item.event, config.routing, now, extra_silences=silences.active())
        wanted = any(d.receiver == notifier.name and d.action is Action.SEND for d in decisions)
        await audit(
            item.event.alert_id,
            {
                "type": "reminder" if wanted else "reminder-skipped",
                "receiver": notifier.name,
                "notification_id": item.notification_id,
            },
        )
        if wanted:
            ledger = await _deliver(notifier, ledger, item)
    return ledger


async def _digest(
    notifier: Notifier,
    ledger: delivery.Ledger,
    items: tuple[delivery.Pending, ...],
    now: dt.datetime,
    *,
    direct: bool,
) -> delivery.Ledger:
    """One message for several: quiet-hour digests go out as they are (``direct``), a group's
    digest still passes quiet hours and the budget."""
    digest = delivery.digest_event(notifier.name, items, now)
    for item in items:
        await audit(
            item.event.alert_id,
            {"type": "digest", "receiver": notifier.name, "digest": digest.alert_id},
        )
    nid = delivery.notification_id(digest, notifier.name)
    first = min(p.first_queued_at for p in items)
    if direct:
        return await _attempt(notifier, ledger, digest, nid, attempts=1, first_queued_at=first)
    return await _deliver(notifier, ledger, delivery.Pending(nid, digest, 0, now, first))


async def _acknowledge(notifier: Notifier, message: ReceiverAck) -> None:
    """Pass a human acknowledgement on to on-call tooling that knows the word (PagerDuty)."""
    alert_id = message.alert_id
    acknowledge = getattr(notifier, "acknowledge", None)
    if acknowledge is None:
        return
    try:
        await acknowledge(alert_id)
        outcome, error = "acknowledged", None
    except DeliveryError as exc:
        outcome, error = "failed", str(exc)
    await audit(
        alert_id,
        {"type": "ack-forwarded", "receiver": notifier.name, "outcome": outcome, "error": error},
    )


async def _apply(
    notifier: Notifier, ledger: delivery.Ledger, message: NotificationMessage
) -> delivery.Ledger:
    """One record of the notifications topic, applied to its receiver's ledger."""
    if isinstance(message, ReceiverTick):
        return await _on_tick(notifier, ledger)
    if isinstance(message, ReceiverAck):
        await _acknowledge(notifier, message)
        return ledger
    if isinstance(message, EnableReceiver):
        await audit(
            f"receiver:{notifier.name}",
            {"type": "enabled", "receiver": notifier.name, "by": message.by},
        )
        return dataclasses.replace(ledger, disabled=None, resting_until=None)
    return await _on_notification(notifier, ledger, message)


async def _lane(
    notifier: Notifier,
    records: list[tuple[int, int, NotificationMessage]],
    lanes: asyncio.Semaphore,
) -> tuple[delivery.Ledger | None, delivery.Ledger]:
    """One receiver's share of a batch, (partition, offset, message) in order: (the ledger as
    stored, the ledger after). A record the stored ledger already took in (read again after a
    restart) is skipped."""
    async with lanes:
        stored: delivery.Ledger | None = ledger_table.get(notifier.name)
        ledger = stored if stored is not None else delivery.Ledger(notifier.name)
        for partition, offset, message in records:
            if ledger.has_applied(partition, offset):
                continue
            ledger = await _apply(notifier, ledger, message)
            ledger = delivery.mark_applied(ledger, partition, offset)
        return stored, ledger


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


@app.agent(notifications_topic, concurrency=1)
async def deliver_notifications(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    """One receiver's notifications arrive in order on one partition; its ledger (confirmed ids,
    retries, held digests, groups, reminders) lives in a table keyed by receiver on the same
    partition. Records come in batches; every receiver's share of a batch is worked through in
    order, receivers side by side, and each ledger is written once per batch, after the batch's
    audit entries and dead notifications are acknowledged and before its offsets are committed:
    a crash before that write makes the records come again, and the ledger (which notes the
    offset of the last record it took in) tells which of them were already handled."""
    async with contextlib.AsyncExitStack() as clients:
        notifiers = {}
        for spec in config.receivers:
            client = await clients.enter_async_context(httpx.AsyncClient(limits=RECEIVER_LIMITS))
            notifiers[spec.name] = build_notifier(spec, client, os.environ)
        lanes = asyncio.Semaphore(RECEIVERS_AT_ONCE)
        # Stream.take_events hands over a batch at a time.
        batches = stream.take_events(BATCH_SIZE, within=BATCH_WITHIN)  # type: ignore[attr-defined]

        async def handle(records: list[Record]) -> list[Overlay]:
            ledgers = Overlay(ledger_table)
            work: dict[str, list[tuple[int, int, NotificationMessage]]] = {}
            for record in records:
                try:
                    message = decode_notification_message(record.value)
                except InvalidReport as exc:
                    await _reject(record, exc)
                    continue
                receiver = message.receiver
                if receiver not in notifiers:
                    log.warning("notification for an unknown receiver dropped", receiver=receiver)
                    continue
                work.setdefault(receiver, []).append((record.partition, record.offset, message))
            done = await asyncio.gather(
                *(_lane(notifiers[name], items, lanes) for name, items in work.items())
            )
            for (name, items), (stored, updated) in zip(work.items(), done, strict=True):
                if updated != stored or stored is None:
                    ledgers.set(items[-1][0], name, updated)
            return [ledgers]

        async for events in batches:
            await run_batch(notifications_cursor, events, handle)
            yield None


@app.timer(interval=TICK_SECONDS, on_leader=True)  # type: ignore[untyped-decorator]
async def tick_receivers() -> None:
    """Wake every receiver's ledger: retries that are due, digests whose quiet hours ended,
    groups whose wait or interval is over, reminders (so their times have a 5 s granularity)."""
    for spec in config.receivers:
        tick = encode_notification_message(ReceiverTick(spec.name))
        await notifications_topic.send(key=spec.name.encode(), value=tick)


@app.agent(escalation_input, concurrency=1)
async def escalate(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    """Critical alerts nobody acknowledged go, every ``after`` minutes, to the next receiver on
    the escalation list. Alert changes start and end a watch, acknowledgements and ticks (from
    :func:`tick_escalations`) arrive on the acks topic."""
    async for events in batches(stream):
        await run_batch(escalation_cursor, events, _escalate_batch)
        yield None


async def _escalate_batch(records: list[Record]) -> list[Overlay]:
    watches = Overlay(escalation_table)
    await _each(records, lambda record: _escalate_one(record, watches))
    return [watches]


async def _escalate_one(record: Record, watches: Overlay) -> None:
    policy = config.escalation
    message = decode_escalation_message(record.value)
    alert_id = message.alert_id
    current: escalation.Watch | None = watches.get(alert_id)
    if isinstance(message, Acknowledgement):
        updated = escalation.acknowledge(current, message.by)
    elif isinstance(message, EscalationTick):
        updated = current
        if current is not None:
            updated, receiver = escalation.due(current, policy, _now())
            if receiver is not None:
                await _escalate_to(receiver, updated)
    else:  # an alert change from the alerts topic
        updated = escalation.watch(current, message, _now())
    if updated != current:
        watches.set(record.partition, alert_id, updated)


# Every agent but delivery (whose handler lives inside the agent, with its HTTP clients) is
# watched for partitions that stop moving.
_stall_watch(
    "reports", reports_cursor, (settings.topic("occupancy"), settings.topic("intake")), _ingest
)
_stall_watch(
    "provinces", provinces_cursor, (province_topic.get_topic_name(),), _aggregate_provinces
)
_stall_watch("nation", nation_cursor, (national_topic.get_topic_name(),), _aggregate_national)
_stall_watch(
    "escalation",
    escalation_cursor,
    (settings.topic("alerts"), settings.topic("acks")),
    _escalate_batch,
)


async def _escalate_to(receiver: str, watch: escalation.Watch) -> None:
    alert = watch.event
    await audit(
        alert.alert_id,
        {
            "type": "escalated",
            "receiver": receiver,
            "level": watch.level,
            "since": watch.since.isoformat(),
        },
    )
    notification = Notification(
        f"{delivery.notification_id(alert, receiver)}.esc{watch.level}", receiver, _now(), alert
    )
    await emit(notifications_topic, receiver.encode(), encode_notification_message(notification))
    log.warning("escalated", alert_id=alert.alert_id, receiver=receiver, level=watch.level)


@app.timer(interval=TICK_SECONDS, on_leader=True)  # type: ignore[untyped-decorator]
async def tick_escalations() -> None:
    """Wake every watched alert on its own partition, so the table is written where it lives."""
    if not config.escalation.receivers:
        return
    for alert_id in list(escalation_table.keys()):
        tick = encode_escalation_message(EscalationTick(str(alert_id)))
        await acks_topic.send(key=str(alert_id).encode(), value=tick)


@app.task  # type: ignore[untyped-decorator]  # faust leaves Service.task untyped
async def follow_audit() -> None:
    # Only once the tables are back: the audit topic holds every alert change and delivery of
    # the past, and reading it at the same time as the changelogs made a restart after a year
    # take 14 s instead of about 7 (docs/performance.md). What waits for it: the alert history,
    # the dead-notification list, and matching SMS delivery reports to their alerts.
    await cast(Any, app.tables).recovery.completed.wait()
    await audit_log.follow(settings.broker_address, settings.topic("audit"), skipped=_skipped)


@app.task  # type: ignore[untyped-decorator]  # faust leaves Service.task untyped
async def follow_silences() -> None:
    await silences.follow(settings.broker_address, settings.topic("silences"), skipped=_skipped)


def _skipped(topic: str, reason: str) -> None:
    """A record on the audit or silences topic that could not be applied (logged by the
    follower; counted here)."""
    metrics.events.labels(topic, f"skipped:{reason}").inc()


# ---------------------------------------------------------------- web

# The web part's own imports, kept with it.
from alerts.notify.dlr import parse_cm_reports  # noqa: E402
from streams.web.http import (  # noqa: E402
    BodyError,
    form_fields,
    json_object,
    optional_text,
    page_policy,
    read_body,
    read_json_object,
)
from streams.web.http import install as install_web_headers  # noqa: E402
from streams.web.reports import ReportKeys, called_urls  # noqa: E402
from streams.worker import faust_patches as static_member  # noqa: E402

# A restart with the same OPVANG_WORKER_ID on another web port joins its group (see the module).
static_member.install()


def _on_webserver_init(web: Any) -> None:
    """Faust's hook before its aiohttp server starts: every answer gets the headers of
    streams.web.http (nosniff, a Content-Security-Policy)."""
    install_web_headers(web.web_app)


app.on_webserver_init = _on_webserver_init  # type: ignore[method-assign]


def _state_view() -> StateView:
    locations = []
    for location_id, stored in list(location_table.items()):
        location = registry.get(location_id)
        if location is not None and stored is not None:
            locations.append((location, stored))
    provinces = {code: stored for code, stored in list(province_table.items()) if stored}
    ledgers = [stored for _, stored in list(ledger_table.items()) if stored is not None]
    return StateView(locations, provinces, national_table.get("NL"), config, ledgers, _now())


prometheus_registry.register(StateCollector(_state_view))


@app.page("/")
async def status_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """The operations centre's page: plain HTML and script, no build step, no external assets;
    its inline script and style allowed by their hashes, nothing else."""
    return web.html(_STATUS_PAGE, headers={"Content-Security-Policy": _STATUS_PAGE_POLICY})


_STATUS_PAGE = (resources.files("streams") / "web" / "index.html").read_text(encoding="utf-8")
_STATUS_PAGE_POLICY = page_policy(_STATUS_PAGE)


@app.page("/health")
async def health(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    recovering = bool(getattr(app, "in_recovery", False))
    remaining = 0
    if recovering:
        try:
            remaining = int(cast(Any, app.tables).recovery.active_remaining_total())
        except Exception:
            remaining = -1
    body, code = api.health_document(
        ready=registry.ready.is_set(),
        recovering=recovering,
        remaining=remaining,
        locations=len(registry),
        topic_prefix=settings.topic_prefix,
    )
    return web.json(body, status=code)


@app.page("/metrics")
async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    # Built directly: Faust's helper refuses a charset inside content_type, and the Prometheus
    # text format's content type carries one.
    body = generate_latest(prometheus_registry)
    response = aiohttp_web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
    return cast(faust.web.Response, response)


def _json(web: faust.web.View, body: Any) -> faust.web.Response:
    if body is None:
        return web.json({"error": "not found"}, status=404)
    return web.json(body)


@app.page("/api/national")
async def api_national(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    return _json(web, api.national_document(_state_view()))


@app.page("/api/provinces")
async def api_provinces(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    return _json(web, api.provinces_list(_state_view()))


@app.page("/api/provinces/{code}")
async def api_province(
    web: faust.web.View, request: faust.web.Request, code: str
) -> faust.web.Response:
    return _json(web, api.province_detail(_state_view(), code))


@app.page("/api/locations")
async def api_locations(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    return _json(web, api.locations_list(_state_view()))


@app.page("/api/locations/{location_id}")
async def api_location(
    web: faust.web.View, request: faust.web.Request, location_id: str
) -> faust.web.Response:
    return _json(web, api.location_detail(_state_view(), location_id))


@app.page("/api/alerts")
async def api_alerts(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    filters = {key: str(request.query.get(key, "")) for key in ("severity", "rule", "province")}
    body = api.active_alerts(_state_view(), filters)
    for alert in body["alerts"]:
        alert.update(_acknowledgement(str(alert.get("alert_id", ""))))
    return _json(web, body)


def _acknowledgement(alert_id: str) -> dict[str, Any]:
    """Who acknowledged the alert's current firing period, and when (from the audit trail)."""
    acks = [entry for entry in audit_log.history(alert_id) if entry.get("type") == "ack"]
    changes = [e for e in audit_log.history(alert_id) if e.get("type") == "change"]
    last_fired = max(
        (str(e.get("time", "")) for e in changes if e.get("event", {}).get("status") == "firing"),
        default="",
    )
    current = [a for a in acks if str(a.get("time", "")) >= last_fired]
    if not current:
        return {"acknowledged_by": None, "acknowledged_at": None}
    return {"acknowledged_by": current[-1].get("by"), "acknowledged_at": current[-1].get("time")}


# ---------------------------------------------------------------- changes (token required)


def _authorised(request: faust.web.Request) -> str | None:
    """None when the request may change things; otherwise why not (for a 401/403 body)."""
    if not settings.api_token:
        return "changes are switched off: start the worker with OPVANG_API_TOKEN set"
    given = str(request.headers.get("Authorization", ""))
    if not hmac.compare_digest(given.encode(), f"Bearer {settings.api_token}".encode()):
        return "send the API token as 'Authorization: Bearer <token>'"
    return None


def _aiohttp_request(request: faust.web.Request) -> aiohttp_web.Request:
    """The aiohttp request behind Faust's (its aiohttp driver hands views aiohttp's own)."""
    return cast(aiohttp_web.Request, request)


def _refused(view: faust.web.View, error: BodyError) -> faust.web.Response:
    return view.json({"error": error.reason}, status=error.status)


async def _alert_exists(alert_id: str) -> bool | None:
    """Whether ``alert_id`` was ever published: this worker's state holds it, or the audit trail
    (which every worker reads whole) has its changes. None: the trail is still being read after
    a start, so nobody can tell yet."""
    if api.published_alert(_state_view(), alert_id) is not None or audit_log.knows(alert_id):
        return True
    try:
        await asyncio.wait_for(audit_log.ready.wait(), timeout=AUDIT_WAIT_SECONDS)
    except TimeoutError:
        return None
    return audit_log.knows(alert_id)


def _still_reading(view: faust.web.View) -> faust.web.Response:
    return view.json(
        {"error": "the worker is still reading its audit trail; send it again"},
        status=503,
        headers={"Retry-After": "30"},
    )


@app.page("/api/alerts/{alert_id}/history")
async def api_alert_history(
    web: faust.web.View, request: faust.web.Request, alert_id: str
) -> faust.web.Response:
    return web.json({"alert_id": alert_id, "history": audit_log.history(alert_id)})


@app.page("/api/notifications/dead")
async def api_dead_notifications(
    web: faust.web.View, request: faust.web.Request
) -> faust.web.Response:
    return web.json({"dead": audit_log.dead()})


@app.page("/api/alerts/{alert_id}/ack")
class AcknowledgeView(faust.web.View):
    async def post(self, request: faust.web.Request, alert_id: str) -> faust.web.Response:
        refused = _authorised(request)
        if refused is not None:
            return self.json({"error": refused}, status=401)
        try:
            body = await read_json_object(_aiohttp_request(request), empty=True)
            by, comment = optional_text(body, "by", 200), optional_text(body, "comment")
        except BodyError as exc:
            return _refused(self, exc)
        if not by:
            return self.json({"error": 'say who acknowledges: {"by": "name"}'}, status=400)
        exists = await _alert_exists(alert_id)
        if exists is None:
            return _still_reading(self)
        if not exists:
            return self.json({"error": f"no alert {alert_id[:200]!r}"}, status=404)
        await audit(alert_id, {"type": "ack", "by": by, "comment": comment})
        ack_record = {"type": "ack", "alert_id": alert_id, "by": by}
        await acks_topic.send(key=alert_id.encode(), value=encode(ack_record))
        for spec in config.receivers:
            if spec.kind == "pagerduty":
                ack = {"type": "ack", "receiver": spec.name, "alert_id": alert_id, "by": by}
                await notifications_topic.send(key=spec.name.encode(), value=encode(ack))
        return self.json({"alert_id": alert_id, "acknowledged_by": by}, status=202)


@app.page("/api/silences")
class SilencesView(faust.web.View):
    async def get(self, request: faust.web.Request) -> faust.web.Response:
        return self.json({"silences": [s.to_dict() for s in silences.active()]})

    async def post(self, request: faust.web.Request) -> faust.web.Response:
        refused = _authorised(request)
        if refused is not None:
            return self.json({"error": refused}, status=401)
        try:
            body = await read_json_object(_aiohttp_request(request))
        except BodyError as exc:
            return _refused(self, exc)
        silence_id = f"api-{uuid.uuid4().hex[:12]}"
        try:
            parse_silence(body, silence_id)
        except ConfigError as exc:
            return self.json({"error": str(exc)}, status=400)
        await silences_topic.send(key=silence_id.encode(), value=encode(body))
        return self.json({"silence_id": silence_id}, status=201)


@app.page("/api/silences/{silence_id}")
class SilenceView(faust.web.View):
    async def delete(self, request: faust.web.Request, silence_id: str) -> faust.web.Response:
        refused = _authorised(request)
        if refused is not None:
            return self.json({"error": refused}, status=401)
        try:
            await read_json_object(
                _aiohttp_request(request), empty=True
            )  # none is needed; a bad one is refused
        except BodyError as exc:
            return _refused(self, exc)
        await silences_topic.send(key=silence_id.encode(), value=None)
        return self.json({"silence_id": silence_id, "expired": True})


#: The keys the SMS providers that sign their delivery reports sign them with (streams.web.reports).
_report_keys = ReportKeys.from_receivers(config.receivers, os.environ)


@app.page("/api/sms/reports/{provider}/{token}")
class DeliveryReportView(faust.web.View):
    """Delivery reports from the SMS providers. They cannot send our API token in a header, so
    the callback URL carries OPVANG_DLR_TOKEN as its last path segment; Twilio's and
    MessageBird's reports must also carry their signature (403 without a valid one)."""

    async def _handle(self, request: faust.web.Request, provider: str, token: str) -> Any:
        expected = os.environ.get("OPVANG_DLR_TOKEN", "")
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            return self.json({"error": "unknown callback"}, status=404)
        query = {str(k): str(v) for k, v in request.query.items()}
        try:
            raw = await read_body(_aiohttp_request(request))
            form = []
            if "form" in str(request.headers.get("Content-Type", "")):
                form = form_fields(raw)
        except BodyError as exc:
            return _refused(self, exc)
        refusal = _report_keys.refusal(
            provider,
            urls=called_urls(_aiohttp_request(request)),
            headers=request.headers,
            body=raw,
            form=form,
            now=time.time(),
        )
        if refusal is not None:
            log.warning("delivery report refused", provider=provider[:40], reason=refusal)
            return self.json({"error": refusal}, status=403)
        try:
            if provider == "cm":
                reports = parse_cm_reports(json_object(raw))
            else:
                reports = parse_report(provider, body=raw, query=query, form=dict(form))
        except BodyError as exc:
            return _refused(self, exc)
        except (InvalidDeliveryReport, ValueError) as exc:
            return self.json({"error": str(exc)}, status=400)
        try:
            # A report is matched to its alert through the audit trail: after a start, wait
            # until the trail has been read, or ask the provider to send the report again.
            await asyncio.wait_for(audit_log.ready.wait(), timeout=AUDIT_WAIT_SECONDS)
        except TimeoutError:
            return self.json(
                {"error": "the worker is still reading its audit trail; send the report again"},
                status=503,
                headers={"Retry-After": "30"},
            )
        for found in reports:
            alert_id = audit_log.alert_for(found.provider_id) or "unmatched"
            await audit(
                alert_id,
                {
                    "type": "delivery-report",
                    "provider": provider,
                    "provider_id": found.provider_id,
                    "status": found.status,
                    "detail": found.detail,
                },
            )
            metrics.notifications.labels("sms", provider, f"report:{found.status}").inc()
        return self.json({"accepted": len(reports)})

    async def get(self, request: faust.web.Request, provider: str, token: str) -> Any:
        return await self._handle(request, provider, token)

    async def post(self, request: faust.web.Request, provider: str, token: str) -> Any:
        return await self._handle(request, provider, token)


@app.page("/api/receivers/{name}/enable")
class EnableReceiverView(faust.web.View):
    """Turn a receiver back on after it answered 410 Gone (its ledger says why it was off)."""

    async def post(self, request: faust.web.Request, name: str) -> Any:
        refused = _authorised(request)
        if refused is not None:
            return self.json({"error": refused}, status=401)
        if name not in {spec.name for spec in config.receivers}:
            return self.json({"error": f"no receiver named {name[:200]!r}"}, status=404)
        try:
            by = optional_text(
                await read_json_object(_aiohttp_request(request), empty=True), "by", 200
            )
        except BodyError as exc:
            return _refused(self, exc)
        message = {"type": "enable", "receiver": name, "by": by}
        await notifications_topic.send(key=name.encode(), value=encode(message))
        return self.json({"receiver": name, "enabled": True}, status=202)


@app.page("/api/receivers")
async def api_receivers(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    rows = []
    for spec in config.receivers:
        ledger: delivery.Ledger | None = ledger_table.get(spec.name)
        oldest = ledger.oldest_pending() if ledger else None
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "municipality_code": spec.municipality_code,
                "province": spec.province,
                "disabled": ledger.disabled if ledger else None,
                "pending": len(ledger.pending) if ledger else 0,
                "held": len(ledger.held) if ledger else 0,
                "oldest_pending": oldest.isoformat() if oldest else None,
            }
        )
    return web.json({"receivers": rows})


# ---------------------------------------------------------------- CAP 1.2 for crisis systems

CAP_SENDER = os.environ.get("OPVANG_CAP_SENDER", "opvangwacht")
CAP_EXERCISE = os.environ.get("OPVANG_CAP_EXERCISE", "") not in ("", "0", "false")
_municipality_names = {m["code"]: m["name"] for m in load_municipalities()}


def _changes(alert_id: str) -> list[AlertEvent]:
    return [
        AlertEvent.from_dict(entry["event"])
        for entry in audit_log.history(alert_id)
        if entry.get("type") == "change" and isinstance(entry.get("event"), dict)
    ]


@app.page("/api/cap/{alert_id}")
async def api_cap(
    web: faust.web.View, request: faust.web.Request, alert_id: str
) -> faust.web.Response:
    changes = _changes(alert_id)
    if not changes:
        return web.json({"error": "not found"}, status=404)
    latest = max(changes, key=lambda e: e.revision)
    xml = cap.cap_message(
        latest,
        sender=CAP_SENDER,
        history=[e for e in changes if e.revision < latest.revision],
        exercise=CAP_EXERCISE,
        municipality_names=_municipality_names,
    )
    response = aiohttp_web.Response(body=xml.encode("utf-8"), content_type=cap.CAP_CONTENT_TYPE)
    return cast(faust.web.Response, response)


@app.page("/api/cap")
async def api_cap_feed(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """Atom feed of the active alerts, each entry linking to its CAP message."""
    url = request.url
    base = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
    active = [
        AlertEvent.from_dict(dict(state.last_event))
        for state in api.firing_states(_state_view())
        if state.last_event is not None
    ]
    feed = cap.atom_feed(
        active,
        feed_id=f"urn:opvangwacht:feed:{settings.topic_prefix}",
        updated=_now().replace(microsecond=0).isoformat(),
        self_url=f"{base}/api/cap",
        cap_url=lambda e: f"{base}/api/cap/{e.alert_id}",
        municipality_names=_municipality_names,
    )
    response = aiohttp_web.Response(body=feed.encode("utf-8"), content_type="application/atom+xml")
    return cast(faust.web.Response, response)
