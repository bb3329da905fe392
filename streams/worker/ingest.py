"""The ingest stage: occupancy and intake reports in, the location picture, alert changes and
province contributions out.

Per batch of reports: decode each (``streams.records``), look its location up, hand it to the
core (``alerts.engine.on_occupancy`` / ``on_intake``), publish the alert changes (the router),
collect the contributions in one bundle per province partition, and note how far each input
partition has been read (the marks that let provinces close a day, sent in those bundles).

What ``kill -9`` does: the batch's outputs, the location heads (which carry the input offset
they reflect) and the progress rows are written before its offsets are committed; a report read
again after a restart is recognised by its offset and changes nothing (``reread``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import faust

from alerts import engine
from alerts.capacity.location import Applied
from alerts.capacity.totals import Contribution
from alerts.errors import InvalidReport
from alerts.model import AlertEvent, IntakeReport, Location, OccupancyReport
from alerts.watermark import intake_pending
from streams.logging import handling_report, report_done
from streams.messages import ContributionBundle, Mark, encode_province_message
from streams.records import intake_to_domain, occupancy_to_domain
from streams.state.batch import Overlay, batches
from streams.state.progress import PartitionProgress, observe, partition_of
from streams.worker.context import Context
from streams.worker.guarantee import Record

__all__ = ["Ingest", "register"]

#: Publishes a stage's alert changes (``streams.worker.route.Router.publish``).
Publish = Callable[[tuple[AlertEvent, ...], float | None], Awaitable[None]]


class _Outbox:
    """A batch's contributions, one message per province partition instead of one per report:
    the province agent then reads a few messages per input partition and day instead of one per
    location report. An input partition's mark travels in the same messages, after the
    contributions read before it (one to every province partition), not as messages of its own
    behind a bundle per province: four messages where there were up to sixteen. Within a
    partition the order is kept, and a mark goes out only after everything before it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.pending: dict[int, list[Contribution]] = {}

    def add(self, share: Contribution) -> None:
        partition = partition_of(share.province, self.ctx.settings.partitions)
        self.pending.setdefault(partition, []).append(share)

    async def flush(self, mark: Mark | None = None) -> None:
        """Send what is pending; with ``mark``, send it to every province partition, after the
        contributions pending for that partition."""
        ctx = self.ctx
        targets = range(ctx.settings.partitions) if mark is not None else list(self.pending)
        for partition in targets:
            items = tuple(self.pending.get(partition, ()))
            key = items[0].province.encode() if items else b"__mark__"
            message = encode_province_message(ContributionBundle(items, mark))
            await ctx.runner.emit(ctx.topics.province, key, message, partition)
        self.pending.clear()


class Ingest:
    def __init__(self, ctx: Context, publish: Publish) -> None:
        self.ctx = ctx
        self.publish = publish
        self.cursor = ctx.runner.cursor()
        self._intake_topic = ctx.settings.topic("intake")
        #: The Faust agent reading the reports (set by :func:`register`).
        self.agent: Any = None

    async def ingest(self, records: list[Record]) -> list[Overlay]:
        """One batch of reports (the batch handler; see ``streams.worker.runner``)."""
        ctx = self.ctx
        locations, progress_rows = Overlay(ctx.tables.locations), Overlay(ctx.tables.progress)
        outbox = _Outbox(ctx)
        await ctx.runner.each(
            records, lambda record: self._report(record, locations, progress_rows, outbox)
        )
        await outbox.flush()
        return [locations, progress_rows]

    async def _report(
        self, record: Record, locations: Overlay, progress_rows: Overlay, outbox: _Outbox
    ) -> None:
        ctx = self.ctx
        kind = "intake" if record.topic == self._intake_topic else "occupancy"
        try:
            report: OccupancyReport | IntakeReport = (
                intake_to_domain(record.value, timestamp=record.timestamp)
                if kind == "intake"
                else occupancy_to_domain(record.value, timestamp=record.timestamp)
            )
            location = await ctx.registry.lookup(report.location_id, timestamp=record.timestamp)
            if location is None:
                raise InvalidReport(
                    "unknown_location",
                    f"no location {report.location_id!r} on {ctx.settings.topic('locations')}; "
                    "publish it first (opvangwacht load-locations)",
                )
        except InvalidReport as exc:
            await ctx.runner.reject(record, exc)
            return
        # The report's fields on every line logged while it is handled; reset, so a line about
        # the next record never carries them.
        token = handling_report(report.event_id, report.location_id)
        try:
            await self._apply(record, kind, report, location, locations, progress_rows, outbox)
        finally:
            report_done(token)

    async def _apply(
        self,
        record: Record,
        kind: str,
        report: OccupancyReport | IntakeReport,
        location: Location,
        locations: Overlay,
        progress_rows: Overlay,
        outbox: _Outbox,
    ) -> None:
        ctx = self.ctx
        topic, partition = record.topic, record.partition
        # Offsets per input partition: a producer that keys by something else than the
        # location_id spreads one location over several partitions, each with its own
        # offsets. The state itself always goes to the location's own changelog partition.
        source = f"{kind}:{partition}"
        home = partition_of(report.location_id, ctx.settings.partitions)
        # Asked once per report: the morning count's share and the partition's mark both
        # wait for intake that is on the broker but not read yet.
        pending = kind == "occupancy" and await self._intake_pending(partition, progress_rows)
        if record.offset <= locations.offset(report.location_id, source):
            # Read again after a restart: the stored record already reflects this report.
            ctx.metrics.events.labels(topic, "reread").inc()
        else:
            stored: engine.LocationRecord | None = locations.get(report.location_id)
            current = (
                stored if stored is not None else engine.LocationRecord.new(report.location_id)
            )
            if isinstance(report, OccupancyReport):
                outcome = engine.on_occupancy(
                    location, current, report, ctx.config, intake_pending=pending
                )
            else:
                outcome = engine.on_intake(location, current, report, ctx.config)
            ctx.metrics.events.labels(topic, outcome.applied.value).inc()
            kept = current if outcome.applied is Applied.DUPLICATE else outcome.record
            locations.set(home, report.location_id, kept, {source: record.offset})
            if outcome.events:
                await self.publish(outcome.events, record.timestamp)
            for share in outcome.contributions:
                outbox.add(share)
        key = str(partition)
        state: PartitionProgress = progress_rows.get(key) or PartitionProgress()
        if state.seen(kind, record.offset):
            return
        state, mark = observe(
            state,
            kind,
            report.date,
            record.offset,
            expect_intake=ctx.config.expect_intake or pending,
        )
        progress_rows.set(partition, key, state)
        if mark is not None:
            await outbox.flush(Mark(partition, mark))

    async def _intake_pending(self, partition: int, progress_rows: Overlay) -> bool:
        """Intake reports wait on this input partition and none has been read there yet
        (``alerts.watermark.intake_pending``)."""
        state: PartitionProgress | None = progress_rows.get(str(partition))
        intake = state.intake if state is not None else None
        if intake is not None:
            return False  # read already: no need to ask the broker
        return intake_pending(
            intake, intake_waiting=await self.ctx.roster.intake_waiting(partition)
        )


def register(app: faust.App, ctx: Context, publish: Publish) -> Ingest:
    """The report agent, its stall watch, and the task that follows the locations topic."""
    stage = Ingest(ctx, publish)

    @app.agent(ctx.topics.reports, concurrency=1, name="process_reports")
    async def process_reports(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        # The stream is taken from at once; reports wait for the locations inside the first
        # batch. (Waiting before the first ``take_events`` left a restarted worker, whose
        # locations arrive just after its partitions, without a consumer of its input: seen in
        # the kill -9 test.)
        async for events in batches(stream):
            await ctx.registry.ready.wait()
            await ctx.runner.run_batch(stage.cursor, events, stage.ingest)
            yield None

    @app.task  # type: ignore[untyped-decorator]  # faust leaves Service.task untyped
    async def follow_locations() -> None:
        await ctx.registry.follow(
            ctx.settings.broker_address,
            ctx.settings.topic("locations"),
            ctx.runner.send_dead_letter,
        )

    ctx.runner.stall_watch(
        "reports",
        stage.cursor,
        (ctx.settings.topic("occupancy"), ctx.settings.topic("intake")),
        stage.ingest,
        ready=ctx.registry.ready,
    )
    stage.agent = process_reports
    return stage
