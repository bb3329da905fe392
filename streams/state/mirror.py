"""The whole group's state, read by every worker: its copy of the state tables' changelogs.

A worker's own tables hold the partitions it is assigned (and its standby copies). The read API,
the status page, the capacity gauges and inhibition must see the whole country whichever worker
is asked, so every worker also follows the compacted changelog topics of the picture's tables
(location heads and weeks, province and national heads and members, delivery ledgers) with a
plain consumer outside the group, from the first offset, the way it follows the locations and the
audit trail. The changelogs already are the read model: nothing extra is written for it.

:class:`Mirror` keeps one dict per table, key -> record, decoded as a recovery would decode it
(``streams.state.codecs``). The split stores read whole records from it the way they read the
tables (``LocationStore(mirror["location-heads"], mirror["location-weeks"])``); a head read a
moment before its rows gives the previous version of those rows for that moment (the rows carry
their versions, ``streams.state.split``). What a worker shows therefore lags the owner of a
partition by the time the changelog takes to reach it (well under a second on one broker).

A record that cannot be read is skipped with a warning (``streams.state.follow.take``); a
tombstone deletes the key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.errors import InvalidReport
from streams.state.codecs import from_changelog
from streams.state.follow import Skipped, reached, take
from streams.state.split import SplitStore

__all__ = ["Mirror", "newest"]

log = structlog.get_logger(__name__)


class Mirror:
    """Read-only copies of several tables, each from its changelog topic."""

    def __init__(self, tables: Mapping[str, tuple[str, int, Any]]) -> None:
        """``tables``: table name -> (changelog topic, its partitions, the kind of its
        values)."""
        self._by_topic = {topic: name for name, (topic, _, _) in tables.items()}
        self._partitions = {topic: count for topic, count, _ in tables.values()}
        self._decode = {name: from_changelog(kind) for name, (_, _, kind) in tables.items()}
        self._values: dict[str, dict[Any, Any]] = {name: {} for name in tables}
        #: Set once everything on the changelogs when following began has been read.
        self.ready = asyncio.Event()

    def __getitem__(self, table: str) -> dict[Any, Any]:
        return self._values[table]

    def apply(self, topic: str, key: str, value: bytes | None) -> None:
        name = self._by_topic[topic]
        try:
            decoded_key = orjson.loads(key)
        except orjson.JSONDecodeError as exc:
            raise InvalidReport("invalid_json", f"changelog key: {exc}") from None
        values = self._values[name]
        if value is None:
            values.pop(decoded_key, None)
            return
        try:
            record = self._decode[name](orjson.loads(value))
        except orjson.JSONDecodeError as exc:
            raise InvalidReport("invalid_json", f"changelog value: {exc}") from None
        if record is None:
            values.pop(decoded_key, None)
        else:
            values[decoded_key] = record

    def _applier(self, topic: str) -> Callable[[str, bytes | None], None]:
        def apply(key: str, value: bytes | None) -> None:
            self.apply(topic, key, value)

        return apply

    async def follow(self, bootstrap: str, *, skipped: Skipped | None = None) -> None:
        """Read every changelog from its first offset, then follow them, forever."""
        topics = sorted(self._by_topic)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p) for topic in topics for p in range(self._partitions[topic])
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while True:
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
                    log.info("mirror of the group's state read", tables=len(topics))
        finally:
            await consumer.stop()


def newest(local: SplitStore[Any, Any], mirrored: SplitStore[Any, Any]) -> dict[str, Any]:
    """Every record of a split store, from this worker's table or from the mirror, whichever
    holds the newer version (the higher head ``seq``): the owner's table is ahead of the
    changelog, a standby's copy or a table left from before a rebalance may be behind it."""
    records: dict[str, Any] = {}
    for key in {*local.keys(), *mirrored.keys()}:
        own, copied = local.heads.get(key), mirrored.heads.get(key)
        if copied is None or (own is not None and own.seq >= copied.seq):
            record = local.get(key)
        else:
            record = mirrored.get(key)
        if record is not None:
            records[key] = record
    return records
