"""The locations every worker needs: the compacted locations topic, read whole and then tailed.

Each worker reads all of ``opvang.locations`` itself (a hand-made global table) with a plain
consumer that belongs to no group, so a report is never judged against a partial list. Report
agents wait for :attr:`LocationRegistry.ready`, set once the topic has been read to its end.

No record can stop the follow loop: one that is not a valid Location (any bytes) goes to the
dead-letter callback with its reason and original bytes, and the last good version of that
location stays in force. Only a tombstone removes a location.

An unknown location costs a report no more than a schema error (:meth:`LocationRegistry.lookup`):
the registry remembers when it last knew the whole topic, and looks again only for a report sent
after that, with a client of its own that no long-polling fetch holds up (about a millisecond on
a local broker, where :meth:`~LocationRegistry.caught_up` used to take half a second per report).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.errors import InvalidReport
from alerts.model import Location
from streams.records import location_to_domain
from streams.state.follow import reached
from streams.wire import quote

__all__ = ["CLOCK_SLACK_SECONDS", "LOOKUP_TIMEOUT_SECONDS", "DeadLetterSink", "LocationRegistry"]

log = structlog.get_logger(__name__)

DeadLetterSink = Callable[
    [str, int, int, bytes | None, InvalidReport, bytes | None], Awaitable[None]
]

#: A report sent this long before the registry last knew the whole topic is judged without
#: looking again: room for the producer's clock to run behind the worker's.
CLOCK_SLACK_SECONDS: Final = 1.0
#: The longest a lookup waits for its look at the end of the topic (a broker that does not
#: answer): then it answers from what it knows.
LOOKUP_TIMEOUT_SECONDS: Final = 2.0


class LocationRegistry:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        slack: float = CLOCK_SLACK_SECONDS,
        timeout: float = LOOKUP_TIMEOUT_SECONDS,
    ) -> None:
        self._locations: dict[str, Location] = {}
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        #: A second client for end offsets only: on the follow consumer's connection, a request
        #: for them waits behind the fetch the broker holds (fetch.max.wait.ms, 500 ms).
        self._offsets: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        #: Set (and replaced) whenever the follow loop has applied a batch.
        self._advanced = asyncio.Event()
        #: Wall-clock time (seconds) before which every record on the topic has been applied.
        self._synced_at: float | None = None
        #: The look at the end of the topic in progress, and when it began.
        self._look: tuple[asyncio.Future[None], float] | None = None
        self._clock, self._slack, self._timeout = clock, slack, timeout
        #: Looks at the end of the topic taken for lookups (for tests and the curious).
        self.looks = 0

    def get(self, location_id: str) -> Location | None:
        return self._locations.get(location_id)

    def all(self) -> list[Location]:
        return list(self._locations.values())

    def __len__(self) -> int:
        return len(self._locations)

    def apply(self, key: bytes | None, value: bytes | None) -> Location | None:
        """Apply one record of the locations topic. A tombstone (no value) removes the key. A
        value that is not a valid Location, or whose ``location_id`` is not its key, raises
        :class:`InvalidReport` and changes nothing: the last good version stays."""
        if value is None:
            if key is not None:
                self._locations.pop(key.decode("utf-8", "replace"), None)
            return None
        location = location_to_domain(value)
        if key is not None and key != location.location_id.encode():
            raise InvalidReport(
                "schema",
                f"the key {quote(key.decode('utf-8', 'replace'))} is not the location_id "
                f"{location.location_id!r}",
            )
        self._locations[location.location_id] = location
        return location

    async def handle(self, record: Any, dead_letter: DeadLetterSink) -> None:
        """One consumer record (``topic``, ``partition``, ``offset``, ``key``, ``value``):
        applied, or dead-lettered with its reason and original bytes (``internal`` when
        applying it failed for a reason of ours). Raises nothing, whatever the record and
        whatever the dead-letter callback does."""
        try:
            self.apply(record.key, record.value)
            return
        except InvalidReport as exc:
            error = exc
        except Exception as exc:
            log.exception("a location record could not be applied", offset=record.offset)
            error = InvalidReport("internal", f"{type(exc).__name__}: {str(exc)[:300]}")
        log.warning(
            "location record refused; the last good version stays",
            offset=record.offset,
            reason=error.reason,
            detail=error.detail[:300],
        )
        try:
            await dead_letter(
                record.topic, record.partition, record.offset, record.key, error, record.value
            )
        except Exception:
            log.exception("dead-lettering a location record failed", offset=record.offset)

    async def follow(
        self, bootstrap: str, topic: str, dead_letter: DeadLetterSink, *, poll_ms: int = 200
    ) -> None:
        """Read ``topic`` from the beginning; set ``ready`` at its end; keep following it."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        offsets = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        offsets_started = False
        try:
            await offsets.start()
            offsets_started = True
            partitions = [
                TopicPartition(topic, p)
                for p in sorted(consumer.partitions_for_topic(topic) or {0})
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            self._consumer, self._partitions = consumer, partitions
            started = self._clock()
            end = await offsets.end_offsets(partitions)  # also opens its connection
            self._offsets = offsets
            while True:
                batches = await consumer.getmany(timeout_ms=poll_ms)
                for messages in batches.values():
                    for message in messages:
                        await self.handle(message, dead_letter)
                for tp in partitions:
                    self._positions[tp] = await consumer.position(tp)
                self._advance()
                if not self.ready.is_set() and await reached(consumer, end):
                    self._synced(started)
                    self.ready.set()
                    log.info("locations loaded", count=len(self._locations), topic=topic)
        finally:
            self._consumer = self._offsets = None
            self._advance()
            await consumer.stop()
            if offsets_started:
                await offsets.stop()

    def _advance(self) -> None:
        advanced, self._advanced = self._advanced, asyncio.Event()
        advanced.set()

    def _synced(self, since: float) -> None:
        if self._synced_at is None or since > self._synced_at:
            self._synced_at = since

    async def lookup(self, location_id: str, *, timestamp: float | None = None) -> Location | None:
        """The location, or None when it is not on the locations topic, at the cost of a
        dictionary lookup for a known location, and for an unknown one in a report the
        registry knows it has seen everything before.

        ``timestamp``: the Kafka timestamp (seconds) of the message with the report. Only when
        it is newer than the registry's last look at the end of the topic (less
        CLOCK_SLACK_SECONDS), or missing, does the lookup look again: it reads the end offsets
        with its own client (a millisecond or so) and waits until the follow loop has applied
        everything before them, so a location published a moment before its first report is
        known when that report is judged. Callers at the same moment share one look; no lookup
        waits longer than LOOKUP_TIMEOUT_SECONDS. Never raises (but for cancellation).
        Call it after :attr:`ready` is set."""
        found = self._locations.get(location_id)
        if found is not None or self._covers(timestamp):
            return found
        asked = self._clock()
        try:
            async with asyncio.timeout(self._timeout):
                await self._look_since(asked)
        except TimeoutError:
            log.warning("no answer from the locations topic in time", location_id=location_id)
        except Exception as exc:  # the broker: answer from what is known
            log.warning("looking at the locations topic failed", error=str(exc)[:300])
        return self._locations.get(location_id)

    async def _look_since(self, asked: float) -> None:
        """Share the look in progress if it began at ``asked`` or later; else wait for it to
        end (it may have missed what came just before ``asked``) and take a new one."""
        current = self._look
        if current is not None and not current[0].done() and current[1] < asked:
            await asyncio.shield(current[0])
            current = self._look
        if current is None or current[0].done() or current[1] < asked:
            current = self._start_look()
        await asyncio.shield(current[0])  # a caller that gives up leaves it to the others

    def _covers(self, timestamp: float | None) -> bool:
        """Whether everything sent before a message of ``timestamp`` is known to be applied."""
        if self._synced_at is None or timestamp is None or not isinstance(timestamp, int | float):
            return False
        return math.isfinite(timestamp) and timestamp + self._slack <= self._synced_at

    def _start_look(self) -> tuple[asyncio.Future[None], float]:
        started = self._clock()
        look: asyncio.Future[None] = asyncio.ensure_future(self._look_at_the_end(started))

        def done(finished: asyncio.Future[None]) -> None:
            if self._look is not None and self._look[0] is finished:
                self._look = None
            if not finished.cancelled():
                finished.exception()  # retrieved: each waiter has seen it

        look.add_done_callback(done)
        self._look = (look, started)
        return self._look

    async def _look_at_the_end(self, started: float) -> None:
        self.looks += 1
        offsets = self._offsets
        if offsets is None or not self._partitions:
            return
        end = await offsets.end_offsets(self._partitions)
        while any(self._positions.get(tp, 0) < end[tp] for tp in self._partitions):
            if self._consumer is None:
                return  # no longer following
            await self._advanced.wait()
        self._synced(started)

    async def caught_up(self, timeout: float = 5.0) -> None:
        """Wait until everything on the locations topic *now* has been read. Kept for callers
        of before :meth:`lookup`, which calls it only when needed: prefer that."""
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._start_look()[0])
        except TimeoutError:
            return
