"""The whole group's state, read by every worker: its copy of the state tables' changelogs.

A worker's own tables hold the partitions it is assigned (and its standby copies). The read API,
the status page, the capacity gauges and inhibition must see the whole country whichever worker
is asked, so every worker also follows the compacted changelog topics of the picture's tables
(location heads and weeks, province and national heads and members, delivery ledgers) with a
plain consumer outside the group, from the first offset, the way it follows the locations and the
audit trail: every partition of them that it does not own itself. The changelogs already are the
read model: nothing extra is written for it.

:class:`Mirror` keeps one :class:`Copy` per table, key -> record, decoded as a recovery would
decode it (``streams.state.codecs``), but only when read. The split stores read whole records
from it the way they read the tables
(``LocationStore(mirror["location-heads"], mirror["location-weeks"])``); a head read a
moment before its rows gives the previous version of those rows for that moment (the rows carry
their versions, ``streams.state.split``). What a worker shows therefore lags the owner of a
partition by the time the changelog takes to reach it (well under a second on one broker).

A key that cannot be read is skipped with a warning (``streams.state.follow.take``), a value that
cannot be read reads as no value; a tombstone deletes the key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.errors import InvalidReport
from streams.state.codecs import from_changelog
from streams.state.follow import Skipped, reached, take
from streams.state.split import SplitStore

__all__ = ["REASSIGN_CHECK_SECONDS", "Copy", "Mirror", "newest"]

#: How often the mirror checks which partitions this worker owns (after a rebalance).
REASSIGN_CHECK_SECONDS = 1.0

log = structlog.get_logger(__name__)


class Copy:
    """One table's copy: the raw changelog value per key, turned into a record only when read
    (and then kept until a newer value arrives). A worker that writes a key a hundred times
    between two looks at the picture decodes it once, not a hundred times."""

    def __init__(self, decode: Callable[[Any], Any]) -> None:
        self._decode = decode
        self._raw: dict[Any, bytes] = {}
        self._records: dict[Any, Any] = {}

    def put(self, key: Any, value: bytes | None) -> None:
        self._records.pop(key, None)
        if value is None:
            self._raw.pop(key, None)
        else:
            self._raw[key] = value

    def get(self, key: Any, default: Any = None) -> Any:
        record = self._records.get(key)
        if record is not None:
            return record
        raw = self._raw.get(key)
        if raw is None:
            return default
        try:
            record = self._decode(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            log.warning("unreadable changelog value skipped", error=str(exc)[:200])
            record = None
        if record is None:
            del self._raw[key]  # unreadable: no value, as a recovery would read it
            return default
        self._records[key] = record
        return record

    def keys(self) -> list[Any]:
        return list(self._raw)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def items(self) -> list[tuple[Any, Any]]:
        return [(key, value) for key in self.keys() if (value := self.get(key)) is not None]

    def __len__(self) -> int:
        return len(self._raw)


class Mirror:
    """Read-only copies of several tables, each from its changelog topic."""

    def __init__(self, tables: Mapping[str, tuple[str, int, Any]]) -> None:
        """``tables``: table name -> (changelog topic, its partitions, the kind of its
        values)."""
        self._by_topic = {topic: name for name, (topic, _, _) in tables.items()}
        self._partitions = {topic: count for topic, count, _ in tables.values()}
        self._copies = {name: Copy(from_changelog(kind)) for name, (_, _, kind) in tables.items()}
        #: Set once everything on the changelogs when following began has been read.
        self.ready = asyncio.Event()

    def __getitem__(self, table: str) -> Copy:
        return self._copies[table]

    def apply(self, topic: str, key: str, value: bytes | None) -> None:
        try:
            decoded_key = orjson.loads(key)
        except orjson.JSONDecodeError as exc:
            raise InvalidReport("invalid_json", f"changelog key: {exc}") from None
        self._copies[self._by_topic[topic]].put(decoded_key, value)

    def _applier(self, topic: str) -> Callable[[str, bytes | None], None]:
        def apply(key: str, value: bytes | None) -> None:
            self.apply(topic, key, value)

        return apply

    async def follow(
        self,
        bootstrap: str,
        *,
        owned: Callable[[str, int], bool] = lambda topic, partition: False,
        skipped: Skipped | None = None,
    ) -> None:
        """Follow every changelog partition this worker does not own (``owned(topic,
        partition)``: it holds that partition as an active one, and its own table is ahead of
        the changelog), forever. Reading back what the worker itself writes cost a quarter of
        its throughput in the quick benchmark; a single worker owns everything and reads
        nothing here. When the group rebalances, a partition that moved away is followed again
        from where this copy stopped reading it (from its start the first time)."""
        topics = sorted(self._by_topic)
        every = [
            TopicPartition(topic, p) for topic in topics for p in range(self._partitions[topic])
        ]
        position: dict[TopicPartition, int] = {}
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            followed: list[TopicPartition] = []
            ends: dict[TopicPartition, int] = {}
            checked = 0.0
            while True:
                now = time.monotonic()
                if now - checked >= REASSIGN_CHECK_SECONDS:
                    checked = now
                    wanted = [tp for tp in every if not owned(tp.topic, tp.partition)]
                    if wanted != followed:
                        for tp in followed:
                            position[tp] = await consumer.position(tp)
                        followed = wanted
                        consumer.assign(followed)
                        for tp in followed:
                            if tp in position:
                                consumer.seek(tp, position[tp])
                            else:
                                await consumer.seek_to_beginning(tp)
                        ends = await consumer.end_offsets(followed) if followed else {}
                if not followed:
                    if not self.ready.is_set():
                        self.ready.set()
                    await asyncio.sleep(REASSIGN_CHECK_SECONDS)
                    continue
                batches = await consumer.getmany(timeout_ms=200)
                for tp, messages in batches.items():
                    apply = self._applier(tp.topic)
                    for message in messages:
                        take(
                            tp.topic,
                            message.key,
                            message.value,
                            apply,
                            partition=message.partition,
                            offset=message.offset,
                            skipped=skipped,
                        )
                if not self.ready.is_set() and await reached(consumer, ends):
                    self.ready.set()
                    log.info("mirror of the group's state read", partitions=len(followed))
        finally:
            await consumer.stop()


def newest(
    local: SplitStore[Any, Any], mirrored: SplitStore[Any, Any], owned: Callable[[str], bool]
) -> dict[str, Any]:
    """Every record of a split store, from this worker's table or from the mirror. A key this
    worker owns (``owned``: its partition is an active one here) is read from the table, which
    is ahead of the changelog; any other from whichever holds the newer version (the higher head
    ``seq``): a standby's copy or a table left from before a rebalance may be behind the
    changelog."""
    records: dict[str, Any] = {}
    for key in {*local.keys(), *mirrored.keys()}:
        own = local.heads.get(key)
        if own is not None and owned(key):
            record = local.get(key)
        else:
            copied = mirrored.heads.get(key)
            if copied is None or (own is not None and own.seq >= copied.seq):
                record = local.get(key)
            else:
                record = mirrored.get(key)
        if record is not None:
            records[key] = record
    return records
