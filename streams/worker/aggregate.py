"""The aggregation stage: province records from the locations' contributions, the national record
from the provinces' closed days.

Provinces: contribution bundles and input marks arrive keyed by province on
``internal.province-contributions``. A contribution updates its province's open days; a mark
says how far one input partition has been read, and once every input partition is past a day the
province closes it (``alerts.engine.close_days``), publishes its alert changes and sends its share
of that day to the nation, followed by the mark itself. The nation does the same one level up.

What ``kill -9`` does: the aggregate heads carry the offset of the last message they reflect
(``"in"``); a message read again after a restart is recognised by it and changes nothing. The
mark logs keep each mark with its offset, so a re-read judges a day closed exactly as the first
read did (``streams.state.progress.MarkLog``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, cast

import faust
from faust.types import TP

from alerts import engine
from alerts.model import AlertEvent
from streams.messages import (
    ContributionBundle,
    Mark,
    decode_national_message,
    decode_province_message,
    encode_national_message,
)
from streams.state.batch import Overlay, batches
from streams.state.progress import MarkLog, partition_of, progress
from streams.worker.context import Context
from streams.worker.guarantee import Record

__all__ = ["Aggregation", "register"]

Publish = Callable[[tuple[AlertEvent, ...], float | None], Awaitable[None]]


def _handled(table: Overlay, key: str, record: Record) -> bool:
    """Whether the stored aggregate already reflects this message (read again after a crash)."""
    return record.offset <= table.offsets(key).get("in", -1)


def _marks(table: Overlay, key: str) -> MarkLog:
    found: MarkLog | None = table.get(key)
    return found if found is not None else MarkLog()


class Aggregation:
    def __init__(self, ctx: Context, publish: Publish) -> None:
        self.ctx = ctx
        self.publish = publish
        self.provinces_cursor = ctx.runner.cursor()
        self.nation_cursor = ctx.runner.cursor()

    def _add_mark(
        self, table: Overlay, key: str, log_: MarkLog, record: Record, source: int, date: dt.date
    ) -> MarkLog:
        added = log_.add(source, record.offset, date)
        if added is not log_:
            committed = cast(Any, self.ctx.app.consumer)._committed_offset.get(
                TP(record.topic, record.partition)
            )
            if committed is not None:
                added = added.fold(int(committed))
            table.set(record.partition, key, added)
        return added

    async def _reached(self, found: Mapping[int, dt.date]) -> tuple[dt.date | None, bool]:
        """How far the whole input has been read, and whether the province must hold its days:
        every input partition that holds records on the broker counts, read or not
        (``streams.worker.roster``). While one of them has not marked yet, nothing closes: the
        core would otherwise judge the days by the members heard from so far, and close them
        without the locations of the unread partition (``report_missing`` for all of them, and
        their late contributions dropped)."""
        required = set(found) | await self.ctx.roster.filled()
        reached = progress(found, required)
        return reached, reached is None and bool(required - set(found))

    # ------------------------------------------------------------ provinces

    async def aggregate_provinces(self, records: list[Record]) -> list[Overlay]:
        """One batch of the province topic (the batch handler)."""
        provinces = Overlay(self.ctx.tables.provinces)
        marks = Overlay(self.ctx.tables.province_marks)
        await self.ctx.runner.each(records, lambda record: self._province(record, provinces, marks))
        return [provinces, marks]

    def _codes(self, provinces: Overlay, partition: int) -> list[str]:
        """The provinces of province partition ``partition`` that have a record, in code order."""
        count = self.ctx.settings.partitions
        return sorted(
            code for code in provinces.all_keys() if partition_of(code, count) == partition
        )

    async def _province(self, record: Record, provinces: Overlay, marks: Overlay) -> None:
        """A bundle's contributions, then its mark (a bare mark is a bundle without items)."""
        ctx = self.ctx
        partition = record.partition
        message = decode_province_message(record.value)
        if isinstance(message, Mark):
            message = ContributionBundle((), message)
        key = str(partition)
        mark_log = _marks(marks, key)
        # Judged once per message, before any of it is applied: the first item of a province
        # marks it with this offset, and the mark must still close that province's days.
        subjects = {i.province for i in message.items}
        if message.mark is not None:
            subjects.update(self._codes(provinces, partition))
        handled = {code for code in subjects if _handled(provinces, code, record)}
        # The progress as of the marks before this message: its own mark comes after its items
        # (after a crash the log may hold it already).
        before, held = await self._reached(mark_log.as_of(record.offset - 1))
        for item in message.items:
            if item.province in handled:
                continue
            stored: engine.AggregateRecord | None = provinces.get(item.province)
            current = stored if stored is not None else engine.AggregateRecord(item.province)
            await self._close_province(
                partition,
                provinces,
                engine.on_contribution(current, item),
                before,
                record,
                hold=held,
            )
        if message.mark is None:
            return
        mark = message.mark
        mark_log = self._add_mark(marks, key, mark_log, record, mark.source, mark.date)
        reached, hold = await self._reached(mark_log.as_of(record.offset))
        for code in self._codes(provinces, partition):
            stored_record: engine.AggregateRecord | None = provinces.get(code)
            if stored_record is not None and code not in handled:
                await self._close_province(
                    partition, provinces, stored_record, reached, record, hold=hold
                )
        if reached is not None and reached != before:
            # After this partition's province days: the nation reads them in this order. Only
            # when the partition's progress moved: a mark of a source that was not the slowest
            # leaves it where it was, and the nation keeps each partition's highest mark, so the
            # same date again would change nothing there (three of every four marks).
            forward = encode_national_message(Mark(partition, reached))
            await ctx.runner.emit(ctx.topics.national, b"NL", forward)

    async def _close_province(
        self,
        partition: int,
        provinces: Overlay,
        record: engine.AggregateRecord,
        reached: dt.date | None,
        source: Record,
        *,
        hold: bool = False,
    ) -> None:
        ctx = self.ctx
        if hold:
            provinces.set(partition, record.subject_id, record, {"in": source.offset})
            return
        outcome = engine.close_days(record, ctx.config, engine.province_rules, progress=reached)
        provinces.set(partition, record.subject_id, outcome.record, {"in": source.offset})
        await self.publish(outcome.events, source.timestamp)
        for share in engine.national_shares(outcome.record, outcome.closed_days):
            await ctx.runner.emit(ctx.topics.national, b"NL", encode_national_message(share))

    # ------------------------------------------------------------ the nation

    async def aggregate_national(self, records: list[Record]) -> list[Overlay]:
        """One batch of the national topic (the batch handler)."""
        nation = Overlay(self.ctx.tables.nation)
        marks = Overlay(self.ctx.tables.nation_marks)
        await self.ctx.runner.each(records, lambda record: self._nation(record, nation, marks))
        return [nation, marks]

    async def _nation(self, record: Record, nation: Overlay, marks: Overlay) -> None:
        ctx = self.ctx
        partition = record.partition
        message = decode_national_message(record.value)
        mark_log = _marks(marks, "NL")
        stored: engine.AggregateRecord | None = nation.get("NL")
        current = stored if stored is not None else engine.AggregateRecord("NL")
        if isinstance(message, Mark):
            mark_log = self._add_mark(marks, "NL", mark_log, record, message.source, message.date)
        elif not _handled(nation, "NL", record):
            current = engine.on_contribution(current, message)
        if _handled(nation, "NL", record):
            return
        found = mark_log.as_of(record.offset)
        # Every province partition forwards the input's marks: the nation waits for all of them
        # (as a province waits for every input partition), or it closed days before the shares of
        # a province partition read later had come in.
        every = range(ctx.settings.partitions)
        reached = progress(found, every)
        if reached is None:
            nation.set(partition, "NL", current, {"in": record.offset})
            return
        outcome = engine.close_days(current, ctx.config, engine.national_rules, progress=reached)
        nation.set(partition, "NL", outcome.record, {"in": record.offset})
        await self.publish(outcome.events, record.timestamp)


def register(app: faust.App, ctx: Context, publish: Publish) -> Aggregation:
    """The province and nation agents, each with its stall watch."""
    stage = Aggregation(ctx, publish)
    runner = ctx.runner

    @app.agent(ctx.topics.province, concurrency=1, name="aggregate_provinces")
    async def aggregate_provinces(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for events in batches(stream):
            await runner.run_batch(stage.provinces_cursor, events, stage.aggregate_provinces)
            yield None

    @app.agent(ctx.topics.national, concurrency=1, name="aggregate_nation")
    async def aggregate_nation(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for events in batches(stream):
            await runner.run_batch(stage.nation_cursor, events, stage.aggregate_national)
            yield None

    ready = ctx.registry.ready
    province_topics = (ctx.topics.province.get_topic_name(),)
    national_topics = (ctx.topics.national.get_topic_name(),)
    runner.stall_watch(
        "provinces", stage.provinces_cursor, province_topics, stage.aggregate_provinces, ready=ready
    )
    runner.stall_watch(
        "nation", stage.nation_cursor, national_topics, stage.aggregate_national, ready=ready
    )
    return stage
