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
import json
import random
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any, cast

import faust
import httpx
import structlog
from aiohttp import web as aiohttp_web
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from alerts import engine
from alerts.capacity import Applied, Contribution
from alerts.errors import InvalidReport
from alerts.model import AlertEvent, IntakeReport, OccupancyReport
from alerts.notify import DeliveryError, Notifier, WebhookNotifier
from alerts.notify.retry import RetryPolicy
from streams import api, codecs
from streams.logging import logging_dict_config
from streams.metrics import PipelineMetrics, StateCollector, StateView
from streams.records import (
    dead_letter,
    encode,
    intake_to_domain,
    occupancy_to_domain,
)
from streams.registry import LocationRegistry
from streams.settings import Settings, load_alerting_config

__all__ = ["app", "config", "metrics", "registry", "settings"]

log = structlog.get_logger("opvangwacht.worker")

settings = Settings.from_env()
config = load_alerting_config(settings.config_path)
retry_policy = RetryPolicy()

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
    # Faust's own table and router browsers would publish raw table contents: not ours to show.
    web_router_enabled=False,
    web_tables_enabled=False,
    table_key_serializer="json",
    table_value_serializer="json",
)

_raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
reports_topic = app.topic(settings.topic("occupancy"), settings.topic("intake"), **_raw)
alerts_topic = app.topic(settings.topic("alerts"), partitions=settings.partitions, **_raw)
deadletter_topic = app.topic(settings.topic("deadletter"), partitions=1, **_raw)
dead_notifications_topic = app.topic(settings.topic("notifications.dead"), partitions=1, **_raw)
province_topic = app.topic(
    settings.topic("internal.province-contributions"), partitions=settings.partitions, **_raw
)
national_topic = app.topic(settings.topic("internal.national-contributions"), partitions=1, **_raw)

codecs.register()
location_table = app.Table("location-state", default=None, partitions=settings.partitions)
province_table = app.Table("province-state", default=None, partitions=settings.partitions)
national_table = app.Table("national-state", default=None, partitions=1)
# Values are the core's records themselves; the codecs turn them into JSON for the changelog.
for _table, _codec, _kind in (
    (location_table, codecs.LOCATION_RECORD, engine.LocationRecord),
    (province_table, codecs.AGGREGATE_RECORD, engine.AggregateRecord),
    (national_table, codecs.AGGREGATE_RECORD, engine.AggregateRecord),
):
    # Writes to the changelog go through the codec; on recovery Faust reads the changelog back
    # as plain JSON, and ``_to_value`` turns it into the record again.
    _table.value_serializer = _codec  # type: ignore[attr-defined]
    _table._to_value = codecs.from_changelog(_kind)  # type: ignore[attr-defined]

registry = LocationRegistry()
prometheus_registry = CollectorRegistry()
metrics = PipelineMetrics.create(prometheus_registry)
# Faust's own sensors (messages, events, table operations, sends, offsets, rebalances) in the same
# registry, named opvang_faust_*: consumer lag = end offset - committed offset per partition.
app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(prometheus_registry, "opvang_faust"))


# ---------------------------------------------------------------- helpers (the edge's plumbing)


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
    await deadletter_topic.send(key=key, value=encode(record))
    metrics.events.labels(topic, f"dead_letter:{error.reason}").inc()
    log.warning("dead letter", topic=topic, offset=offset, reason=error.reason, detail=error.detail)


async def publish_alerts(events: tuple[AlertEvent, ...], source_timestamp: float | None) -> None:
    for alert in events:
        await alerts_topic.send(key=alert.alert_id.encode(), value=encode(alert.to_dict()))
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


def _location_record(location_id: str) -> engine.LocationRecord:
    stored: engine.LocationRecord | None = location_table.get(location_id)
    return stored if stored is not None else engine.LocationRecord.new(location_id)


# ---------------------------------------------------------------- agents


@app.task  # type: ignore[untyped-decorator]  # faust leaves Service.task untyped
async def follow_locations() -> None:
    await registry.follow(settings.broker_address, settings.topic("locations"), send_dead_letter)


@app.agent(reports_topic, concurrency=1)
async def process_reports(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    await registry.ready.wait()
    async for event in stream.events():
        message = event.message
        topic = message.topic
        try:
            report: OccupancyReport | IntakeReport = (
                intake_to_domain(event.value)
                if topic == settings.topic("intake")
                else occupancy_to_domain(event.value)
            )
            location = registry.get(report.location_id)
            if location is None:
                raise InvalidReport(
                    "unknown_location",
                    f"no location {report.location_id!r} on {settings.topic('locations')}; "
                    "publish it first (opvangwacht load-locations)",
                )
        except InvalidReport as exc:
            await send_dead_letter(
                topic, message.partition, message.offset, message.key, exc, event.value
            )
            yield None
            continue
        with structlog.contextvars.bound_contextvars(
            event_id=report.event_id, location_id=report.location_id
        ):
            record = _location_record(report.location_id)
            if isinstance(report, OccupancyReport):
                outcome = engine.on_occupancy(location, record, report, config)
            else:
                outcome = engine.on_intake(location, record, report, config)
            metrics.events.labels(topic, outcome.applied.value).inc()
            if outcome.applied is not Applied.DUPLICATE:
                location_table[report.location_id] = outcome.record
            await publish_alerts(outcome.events, message.timestamp)
            for share in outcome.contributions:
                await province_topic.send(
                    key=location.province.encode(), value=encode(share.to_dict())
                )
        yield None


@app.agent(province_topic, concurrency=1)
async def aggregate_provinces(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    async for event in stream.events():
        item = Contribution.from_dict(json.loads(event.value))
        stored: engine.AggregateRecord | None = province_table.get(item.province)
        record = stored if stored is not None else engine.AggregateRecord(item.province)
        outcome = engine.close_days(
            engine.on_contribution(record, item), config, engine.province_rules
        )
        province_table[item.province] = outcome.record
        await publish_alerts(outcome.events, event.message.timestamp)
        for date, asylum, ukrainian in outcome.closed_days:
            for totals, is_asylum in ((asylum, True), (ukrainian, False)):
                if totals.locations == 0 and not is_asylum:
                    continue
                share = engine.province_share(outcome.record, date, totals, asylum=is_asylum)
                await national_topic.send(key=b"NL", value=encode(share.to_dict()))
        yield None


@app.agent(national_topic, concurrency=1)
async def aggregate_nation(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    async for event in stream.events():
        item = Contribution.from_dict(json.loads(event.value))
        stored: engine.AggregateRecord | None = national_table.get("NL")
        record = stored if stored is not None else engine.AggregateRecord("NL")
        outcome = engine.close_days(
            engine.on_contribution(record, item), config, engine.national_rules
        )
        national_table["NL"] = outcome.record
        await publish_alerts(outcome.events, event.message.timestamp)
        yield None


def build_notifiers(client: httpx.AsyncClient) -> list[Notifier]:
    return [
        WebhookNotifier(r.name, r.url, client, timeout=r.timeout, headers=r.headers)
        for r in config.receivers
    ]


async def deliver(notifier: Notifier, alert: AlertEvent, rng: random.Random) -> bool:
    """Try until delivered, a permanent error, or the last attempt; True when delivered."""
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await notifier.send(alert)
        except DeliveryError as exc:
            final = not exc.recoverable or retry_policy.gives_up_after(attempt)
            metrics.notification_attempts.labels(
                notifier.channel, notifier.name, "error" if final else "retry"
            ).inc()
            log.warning(
                "delivery failed",
                receiver=notifier.name,
                alert_id=alert.alert_id,
                attempt=attempt,
                error=str(exc),
                final=final,
            )
            if final:
                metrics.notifications.labels(notifier.channel, notifier.name, "failed").inc()
                dead = {
                    "receiver": notifier.name,
                    "channel": notifier.channel,
                    "attempts": attempt,
                    "error": str(exc),
                    "status_code": exc.status_code,
                    "alert": alert.to_dict(),
                }
                await dead_notifications_topic.send(
                    key=f"{alert.alert_id}:{notifier.name}".encode(), value=encode(dead)
                )
                return False
            await asyncio.sleep(retry_policy.delay(attempt, rng, exc.retry_after))
            continue
        metrics.notification_attempts.labels(notifier.channel, notifier.name, "ok").inc()
        metrics.notifications.labels(notifier.channel, notifier.name, "delivered").inc()
        log.info(
            "delivered",
            receiver=notifier.name,
            alert_id=alert.alert_id,
            revision=alert.revision,
            status_code=result.status_code,
            latency_ms=round(result.latency_s * 1000, 1),
        )
        return True


@app.agent(alerts_topic, concurrency=1)
async def deliver_alerts(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    rng = random.Random()
    async with httpx.AsyncClient() as client:
        notifiers = build_notifiers(client)
        async for value in stream:
            alert = AlertEvent.from_dict(json.loads(value))
            for notifier in notifiers:
                await deliver(notifier, alert, rng)
            yield None


# ---------------------------------------------------------------- web


def _state_view() -> StateView:
    locations = []
    for location_id, stored in list(location_table.items()):
        location = registry.get(location_id)
        if location is not None and stored is not None:
            locations.append((location, stored))
    provinces = {code: stored for code, stored in list(province_table.items()) if stored}
    return StateView(locations, provinces, national_table.get("NL"), config)


prometheus_registry.register(StateCollector(_state_view))


@app.page("/")
async def status_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """The operations centre's page: plain HTML and script, no build step, no external assets."""
    return web.html(_STATUS_PAGE)


_STATUS_PAGE = (resources.files("streams") / "web" / "index.html").read_text(encoding="utf-8")


@app.page("/health")
async def health(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    ready = registry.ready.is_set()
    body = {
        "status": "ok" if ready else "starting",
        "locations": len(registry),
        "topic_prefix": settings.topic_prefix,
    }
    return web.json(body, status=200 if ready else 503)


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
    return _json(web, api.active_alerts(_state_view(), filters))
