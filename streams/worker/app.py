"""The composition root: :func:`build_worker` makes the one Faust app of a worker process, with
every topic, table, follower, metric and client, and hands each stage what it needs.

Path of an occupancy report, one room each::

    opvang.occupancy -> ingest (decode, look up the location, alerts.engine.on_occupancy)
        -> location table, opvang.alerts, route (routing, silences, inhibition)
                                                -> opvang.notifications -> deliver -> receivers
        -> internal.province-contributions -> aggregate (provinces) -> province table
            -> internal.national-contributions -> aggregate (nation) -> national table
    opvang.alerts + opvang.acks -> escalate -> opvang.notifications
    POST /api/reports, /melden -> melden (the topics' decoders, the source's scope)
        -> opvang.occupancy, opvang.intake (as a producer would)

Nothing is created at import time: the CLI builds a worker from its settings and config, the
agent tests build one of their own with a recording :class:`~streams.worker.runner.Edge`. This is
the only module that creates topics, tables and the Faust app.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import importlib.metadata
from collections.abc import Callable, Collection, Iterable
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry, Info, ProcessCollector, generate_latest

from alerts.config import AlertingConfig
from alerts.delivery.escalation import Watch
from alerts.delivery.ledger import Ledger
from streams.logging import logging_dict_config
from streams.metrics import PipelineMetrics, StateCollector, StateView
from streams.settings import Settings
from streams.state import codecs
from streams.state.aggregates import AggregateHead, AggregateStore, MemberRow
from streams.state.audit import AuditLog
from streams.state.locations import LocationHead, LocationStore, WeekRow
from streams.state.mirror import Mirror, newest
from streams.state.progress import MarkLog, PartitionProgress, partition_of
from streams.state.registry import LocationRegistry
from streams.state.silences import SilenceBook
from streams.state.split import VersionedRows
from streams.web.http import install as install_web_headers
from streams.web.sources import Sources, load_sources
from streams.worker import (
    actions,
    aggregate,
    deliver,
    escalate,
    faust_patches,
    ingest,
    melden,
    monitor,
    route,
    views,
)
from streams.worker.context import Context, Tables, Topics
from streams.worker.guarantee import GapReader
from streams.worker.roster import InputRoster
from streams.worker.runner import Edge, Runner

__all__ = [
    "CONSUMER_FETCH_BYTES",
    "GC_THRESHOLDS",
    "MAX_MESSAGE_BYTES",
    "PRODUCER_BATCH_BYTES",
    "PRODUCER_LINGER_S",
    "Worker",
    "build_worker",
    "tune_garbage_collector",
]

#: The largest message the worker writes (changelog values included), well above any record's
#: expected size; the producer and the changelog topics are configured for it.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: The producer's batch size per partition. Agents wait for the broker to acknowledge a batch's
#: writes before the next step (streams.worker.guarantee), and aiokafka has one request in flight
#: per partition: with Faust's 16 kB batches, a backlog batch's heads to one changelog partition
#: took a dozen round trips in a row (130 ms a batch, measured by opvang_batch_step_seconds). A
#: megabyte is one trip.
PRODUCER_BATCH_BYTES = 1024 * 1024
#: How long the producer waits to fill a request (seconds). With no wait, every write that found
#: no request in flight went out in a request of its own; waiting costs at most 5 ms on each
#: acknowledged step of a batch. Measured in 60-day year runs: the broker's CPU 10.2 s instead of
#: 14.0 s and the worker's 45.4 s instead of 49.2 s (docs/performance.md, 2026-12-03 afternoon).
PRODUCER_LINGER_S = 0.005

#: How much the consumer fetches of one partition at a time (Faust's default: 1 MiB). Faust hands
#: the agents a poll's records in turn, at the pace of the slowest agent's buffer, and polls again
#: only when it has handed all of them over. During a backlog a poll held a megabyte of each of the
#: eight report partitions, about 40,000 reports and 14 s of the report agent's work, with only a
#: few province contributions, national shares and alerts, fetched at the poll before: those
#: agents stood still for the rest of it, and the stall watch read their partitions itself (38,252
#: records read twice over the year). With 256 KiB a poll is about 10,000 reports and every agent
#: gets its input in step; the stall watch read nothing in 120-day runs (docs/performance.md,
#: 2026-12-04). A record larger than this still comes through whole, as with 1 MiB before.
CONSUMER_FETCH_BYTES = 256 * 1024

#: The cyclic garbage collector's thresholds for the worker process (Python's: 700, 10, 10). The
#: worker holds every location's days, the provinces' members and Faust's own objects, a few
#: hundred thousand tracked objects, and allocates frozen records for every report: with
#: Python's thresholds the collector took 2.7 s of a 60-day year run's 47 s of CPU (a young
#: collection every 700 objects kept, a full one of about 150 ms every few thousand reports).
#: Almost all of the worker's garbage is freed by reference counting at once; the collector is
#: there for cycles (futures, tracebacks). 50,000 took it to 0.3 s, but a restarted worker's
#: peak memory after the year rose from 170 to 243 MB (goal: 250 MB), garbage waiting for the
#: rarer full collections; 20,000 is between (docs/performance.md, 2026-12-03 evening).
GC_THRESHOLDS = (20_000, 10, 10)

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
#: is rebuilt only from the rows its head lists (``streams.state.split``). Tables whose deletes
#: mean something (escalations, ledgers) keep Kafka's default: no restart may bring back their
#: entries.
ROWS_CHANGELOG_CONFIG = {**CHANGELOG_CONFIG, "delete.retention.ms": str(60 * 1000)}

#: The outcomes counted from zero at every start, so the first dead letter or failed
#: notification after a start is an increase Prometheus can see.
REPORT_OUTCOMES = (
    "applied",
    "duplicate",
    "correction",
    "dead_letter:invalid_json",
    "dead_letter:schema",
    "dead_letter:out_of_range",
    "dead_letter:unknown_location",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Worker:
    """A built worker: the Faust app to run, and its stages (the agent tests drive these)."""

    app: faust.App
    ctx: Context
    prometheus: CollectorRegistry
    #: The capacity gauges, outside ``prometheus``: /metrics appends their cached text.
    picture: StateCollector
    router: route.Router
    ingest: ingest.Ingest
    aggregation: aggregate.Aggregation
    delivery: deliver.Delivery
    escalation: escalate.Escalation

    def scrape(self, names: Collection[str] | None = None) -> bytes:
        """What /metrics sends: the registry as ``generate_latest`` writes it, then the capacity
        gauges from their per-record cache (``streams.gauges``): the same text as with the
        collector registered last in the registry, without formatting every sample again.

        ``names``: only the samples of these names (``/metrics?name[]=a&name[]=b``, as
        prometheus_client's own exporters filter: a counter's samples are ``<name>_total``)."""
        if not names:
            return generate_latest(self.prometheus) + self.picture.exposition()
        wanted = set(names)
        registry = self.prometheus.restricted_registry(wanted)
        return generate_latest(registry) + self.picture.exposition(wanted)

    def source_topics(self) -> list[str]:
        """Every topic an agent of this worker reads."""
        return sorted({t for a in self.app.agents.values() for t in a.channel.topics})


def _version() -> str:
    try:
        return importlib.metadata.version("opvangwacht")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_worker(
    settings: Settings,
    config: AlertingConfig,
    *,
    edge: Edge | None = None,
    sources: Sources | None = None,
) -> Worker:
    """The worker for ``settings`` and ``config``: the Faust app with every stage registered.
    ``sources``: who may send reports over HTTP (None: read from OPVANG_SOURCES' file)."""
    faust_patches.install()
    edge = edge or Edge()
    app = _app(settings)
    topics = _topics(app, settings)
    # Collectors that describe no names (the process collector, Faust's monitor) still answer a
    # scrape that asks for some samples only (``Worker.scrape``).
    prometheus = CollectorRegistry(support_collectors_without_names=True)
    metrics = PipelineMetrics.create(prometheus)
    tables = _tables(app, settings, metrics)
    reader = edge.reader or GapReader(settings.broker_address, max_bytes=MAX_MESSAGE_BYTES)
    runner = Runner(
        app,
        metrics,
        edge,
        reader=reader,
        deadletter_topic=topics.deadletter,
        audit_topic=topics.audit,
        clock=_now,
    )
    registry = LocationRegistry()

    mirror = _mirror(tables)
    mirrored_locations = LocationStore(mirror["location-heads"], mirror["location-weeks"])
    mirrored_provinces = AggregateStore(mirror["province-heads"], mirror["province-members"])
    mirrored_nation = AggregateStore(mirror["national-heads"], mirror["national-members"])

    def owner(table: Any) -> Callable[[str], bool]:
        """Whether this worker holds ``key``'s partition of ``table`` as an active one."""
        topic, count = table.changelog_topic.get_topic_name(), table.partitions
        # A key's partition never changes: hashed once (every scrape asks for every key).
        partitions: dict[str, TP] = {}

        def owned(key: str) -> bool:
            tp = partitions.get(key)
            if tp is None:
                tp = partitions[key] = TP(topic, partition_of(key, count))
            return bool(app.assignor.is_active(tp))

        return owned

    owns_location, owns_province = owner(tables.locations.heads), owner(tables.provinces.heads)
    owns_nation, owns_ledger = owner(tables.nation.heads), owner(tables.ledgers)

    def state_view() -> StateView:
        """The whole group's picture: this worker's tables for the partitions it owns, and for
        the others the newer of its tables and the mirror of the group's changelogs
        (``streams.state.mirror``)."""
        locations = []
        for location_id, stored in newest(
            tables.locations, mirrored_locations, owns_location
        ).items():
            location = registry.get(location_id)
            if location is not None:
                locations.append((location, stored))
        provinces = newest(tables.provinces, mirrored_provinces, owns_province)
        national = newest(tables.nation, mirrored_nation, owns_nation).get("NL")
        ledgers = {
            key: value
            for key in mirror["delivery-ledger"]
            if not owns_ledger(key) and (value := mirror["delivery-ledger"].get(key)) is not None
        }
        ledgers.update((k, v) for k, v in list(tables.ledgers.items()) if v is not None)
        return StateView(locations, provinces, national, config, list(ledgers.values()), _now())

    ctx = Context(
        settings=settings,
        config=config,
        app=app,
        topics=topics,
        tables=tables,
        metrics=metrics,
        runner=runner,
        registry=registry,
        audit_log=AuditLog(),
        silences=SilenceBook(),
        clock=_now,
        state_view=state_view,
        roster=InputRoster(
            reader, settings.topic("occupancy"), settings.topic("intake"), settings.partitions
        ),
    )
    _count_from_zero(metrics, settings, config)
    _monitor(app, prometheus)
    ProcessCollector(registry=prometheus)  # process_* (CPU, memory, open files)
    build = Info("opvangwacht_build", "The running worker's version.", registry=prometheus)
    build.info({"version": _version()})

    router = route.register(ctx)
    worker = Worker(
        app=app,
        ctx=ctx,
        prometheus=prometheus,
        picture=StateCollector(state_view),
        router=router,
        ingest=ingest.register(app, ctx, router.publish),
        aggregation=aggregate.register(app, ctx, router.publish),
        delivery=deliver.register(app, ctx),
        escalation=escalate.register(app, ctx),
    )
    _register_followers(app, ctx, mirror)
    views.register(app, ctx, worker.scrape)
    actions.register(app, ctx)
    melden.register(app, ctx, load_sources(settings.sources_path) if sources is None else sources)
    return worker


def _app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.broker_address}",
        store="memory://",
        datadir=str(settings.data_dir),
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        logging_config=logging_dict_config(),
        producer_acks=-1,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_linger=PRODUCER_LINGER_S,
        consumer_max_fetch_size=CONSUMER_FETCH_BYTES,
        Topic=faust_patches.DirectTopic,
        # With a worker id the worker is a static member of its group: restarted after a crash,
        # it gets its partitions back at once instead of after the old member's session timed
        # out.
        consumer_group_instance_id=settings.worker_id,
        # Several workers: a warm copy of every partition's tables on another worker, and a
        # session short enough that a dead worker's partitions move within seconds (a static
        # member keeps its partitions for that long too: the same timeout bounds both).
        table_standby_replicas=settings.standby_replicas,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 3,
        # Faust's own table and router browsers would publish raw table contents: not ours.
        web_router_enabled=False,
        web_tables_enabled=False,
        table_key_serializer="json",
        table_value_serializer="json",
    )

    def on_webserver_init(web: Any) -> None:
        """Faust's hook before its aiohttp server starts: every answer gets the headers of
        streams.web.http (nosniff, a Content-Security-Policy)."""
        install_web_headers(web.web_app)

    app.on_webserver_init = on_webserver_init  # type: ignore[method-assign]
    return app


def _topics(app: faust.App, settings: Settings) -> Topics:
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    # The topics agents read: Faust never commits their offsets itself (``acks=False``); each
    # agent commits what it has made durable (``streams.worker.guarantee``).
    read: dict[str, Any] = {**raw, "acks": False}
    name, partitions = settings.topic, settings.partitions
    return Topics(
        reports=app.topic(name("occupancy"), name("intake"), **read),
        occupancy=app.topic(name("occupancy"), **raw),
        intake=app.topic(name("intake"), **raw),
        alerts=app.topic(name("alerts"), partitions=partitions, **raw),
        deadletter=app.topic(name("deadletter"), partitions=1, **raw),
        dead_notifications=app.topic(name("notifications.dead"), partitions=1, **raw),
        province=app.topic(name("internal.province-contributions"), partitions=partitions, **read),
        national=app.topic(name("internal.national-contributions"), partitions=1, **read),
        notifications=app.topic(name("notifications"), partitions=partitions, **read),
        audit=app.topic(name("audit"), partitions=1, **raw),
        silences=app.topic(name("silences"), partitions=1, **raw),
        acks=app.topic(name("acks"), partitions=partitions, **raw),
        escalation_input=app.topic(name("alerts"), name("acks"), **read),
    )


def _tables(app: faust.App, settings: Settings, metrics: PipelineMetrics) -> Tables:
    # With three or more copies an acknowledged changelog write is on two brokers (streams.topics).
    insync = settings.min_insync_replicas
    durable = {} if insync is None else {"min.insync.replicas": str(insync)}

    def table(name: str, partitions: int, kind: Any = None, *, rows: bool = False) -> Any:
        configs = {**(ROWS_CHANGELOG_CONFIG if rows else CHANGELOG_CONFIG), **durable}
        return _state_table(app, metrics, name, partitions, kind, configs)

    n = settings.partitions
    # The row tables hold versioned rows (``streams.state.split``); rows and heads written before
    # versions were kept read as version 0 with no input offsets.
    return Tables(
        locations=LocationStore(
            table("location-heads", n, LocationHead),
            table("location-weeks", n, VersionedRows(WeekRow), rows=True),
        ),
        provinces=AggregateStore(
            table("province-heads", n, AggregateHead),
            table("province-members", n, VersionedRows(MemberRow), rows=True),
        ),
        nation=AggregateStore(
            table("national-heads", 1, AggregateHead),
            table("national-members", 1, VersionedRows(MemberRow), rows=True),
        ),
        ledgers=table("delivery-ledger", n, Ledger),
        escalations=table("escalations", n, Watch),
        progress=table("input-progress", n, PartitionProgress),
        province_marks=table("province-marks", n, MarkLog),
        nation_marks=table("nation-marks", 1, MarkLog),
    )


def _state_table(
    app: faust.App,
    metrics: PipelineMetrics,
    name: str,
    partitions: int,
    kind: Any = None,
    configs: dict[str, str] = CHANGELOG_CONFIG,
) -> Any:
    """A table on a compacted changelog. With ``kind``, its values are the core's records
    themselves: writes to the changelog go through the record codec, and on recovery Faust hands
    over the changelog's bytes, which ``_to_value`` turns into the record again. ``configs``
    are its changelog's (ROWS_CHANGELOG_CONFIG for the row table of a split store)."""
    recovered = metrics.recovered.labels(name)

    async def count_recovered(event: Any) -> None:
        recovered.inc()

    table: Any = app.Table(
        name,
        default=None,
        partitions=partitions,
        extra_topic_configs=configs,
        on_changelog_event=count_recovered,
    )
    if kind is not None:
        # Recovery reads the changelog as bytes, and a value becomes a record only when it is
        # applied: the newest of its key in a recovery batch (``apply_newest``). Read as JSON,
        # every value was decoded as it arrived, superseded ones too, and Faust's recovery
        # buffers held up to some ten thousand decoded values at once: about 80 MB of a
        # restarted worker's peak after the year (docs/performance.md, 2026-12-04 night).
        table.value_serializer = "raw"
        table.changelog_topic = table._new_changelog_topic()
        # Writes go through the record codec (``streams.state.split.send_changelog_many``).
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


def _count_from_zero(metrics: PipelineMetrics, settings: Settings, config: AlertingConfig) -> None:
    """Start every counter people alert on at zero (see REPORT_OUTCOMES)."""
    for topic in (settings.topic("occupancy"), settings.topic("intake")):
        for outcome in REPORT_OUTCOMES:
            metrics.events.labels(topic, outcome)
    for spec in config.receivers:
        for outcome in ("delivered", "failed"):
            metrics.notifications.labels(spec.kind, spec.name, outcome)


def _monitor(app: faust.App, prometheus: CollectorRegistry) -> None:
    """Faust's own sensors (messages, events, table operations, sends, offsets, rebalances) in
    the same registry, named opvang_faust_*: consumer lag = end offset - committed offset per
    partition. The per-event ones are counted in plain integers and exported at scrape time;
    Faust's two per-event histograms are not exported (``streams.worker.monitor``)."""
    monitor.install(app, prometheus, "opvang_faust")


def _mirror(tables: Tables) -> Mirror:
    """The tables of the picture, each from its changelog (``streams.state.mirror``)."""
    picture: dict[str, tuple[Any, Any]] = {
        "location-heads": (tables.locations.heads, LocationHead),
        "location-weeks": (tables.locations.rows, VersionedRows(WeekRow)),
        "province-heads": (tables.provinces.heads, AggregateHead),
        "province-members": (tables.provinces.rows, VersionedRows(MemberRow)),
        "national-heads": (tables.nation.heads, AggregateHead),
        "national-members": (tables.nation.rows, VersionedRows(MemberRow)),
        "delivery-ledger": (tables.ledgers, Ledger),
    }
    return Mirror(
        {
            name: (table.changelog_topic.get_topic_name(), table.partitions, kind)
            for name, (table, kind) in picture.items()
        }
    )


def _register_followers(app: faust.App, ctx: Context, mirror: Mirror) -> None:
    """The topics every worker reads whole and follows: the audit trail, the silences and the
    state tables' changelogs (the locations are followed by the ingest stage, which waits for
    them)."""
    settings = ctx.settings

    def skipped(topic: str, reason: str) -> None:
        """A record on the audit or silences topic that could not be applied (logged by the
        follower; counted here)."""
        ctx.metrics.events.labels(topic, f"skipped:{reason}").inc()

    @app.task  # type: ignore[untyped-decorator]  # faust leaves Service.task untyped
    async def follow_audit() -> None:
        # Only once the tables are back: the audit topic holds every alert change and delivery
        # of the past, and reading it at the same time as the changelogs made a restart after a
        # year take 14 s instead of about 7 (docs/performance.md). What waits for it: the alert
        # history, the dead-notification list, and matching SMS delivery reports to their alerts.
        await app.tables.recovery.completed.wait()  # type: ignore[attr-defined]
        await ctx.audit_log.follow(
            settings.broker_address, settings.topic("audit"), skipped=skipped
        )

    @app.task  # type: ignore[untyped-decorator]  # faust leaves Service.task untyped
    async def follow_picture() -> None:
        # After the worker's own recovery, like the audit trail: its changelog topics exist by
        # then, and the first reads of a restart are its own.
        await app.tables.recovery.completed.wait()  # type: ignore[attr-defined]

        def owned(topic: str, partition: int) -> bool:
            return bool(app.assignor.is_active(TP(topic, partition)))

        await mirror.follow(settings.broker_address, owned=owned, skipped=skipped)

    @app.task  # type: ignore[untyped-decorator]  # faust leaves Service.task untyped
    async def follow_silences() -> None:
        await ctx.silences.follow(
            settings.broker_address, settings.topic("silences"), skipped=skipped
        )


def tune_garbage_collector() -> None:
    """Set GC_THRESHOLDS, and move everything built so far (modules, Faust's app, the worker's
    services) out of the collector's sight: it lives as long as the process. Called once, by the
    ``worker`` command, just before the worker starts."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
