"""Reading a small topic whole and then following it, outside any consumer group.

Every worker keeps its own copy of a few small topics (silences, the audit trail): it reads them
from the first offset and applies each record as it comes. This is the loop they share.

No record can stop it: one that cannot be applied (``apply`` raises) is skipped with a warning
and counted through the ``skipped`` callback, and the loop goes on with the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Final

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.errors import InvalidReport

__all__ = ["MAX_KEY_BYTES", "Skipped", "follow_topic", "reached", "take"]

log = structlog.get_logger(__name__)

#: ``skipped(topic, reason)``: told of every record skipped (to count it in a metric).
Skipped = Callable[[str, str], None]

#: Keys are ids (a silence id, an alert id): a longer one is not ours.
MAX_KEY_BYTES: Final = 1024


async def reached(consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]) -> bool:
    """Whether ``consumer`` has read every partition up to its offset in ``ends``. Offsets, not
    message counts: a compacted topic holds fewer messages than its end offset says."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


def take(
    topic: str,
    key: bytes | None,
    value: bytes | None,
    apply: Callable[[str, bytes | None], None],
    *,
    partition: int | None = None,
    offset: int | None = None,
    skipped: Skipped | None = None,
) -> bool:
    """Apply one record, or skip it with a warning: a record without a key or with a key over
    MAX_KEY_BYTES, and one ``apply`` raises on. True when it was applied. Never raises (but
    for what ends the task: cancellation, KeyboardInterrupt)."""
    try:
        if key is None or len(key) > MAX_KEY_BYTES:
            raise InvalidReport("schema", f"the key must be 1 to {MAX_KEY_BYTES} bytes")
        apply(key.decode("utf-8", "replace"), value)
        return True
    except InvalidReport as exc:
        reason, detail = exc.reason, exc.detail[:300]
    except Exception as exc:  # a bug, not the record's fault: still no reason to stop
        reason, detail = "internal", f"{type(exc).__name__}: {str(exc)[:300]}"
    log.warning(
        "record skipped",
        topic=topic,
        partition=partition,
        offset=offset,
        reason=reason,
        detail=detail,
    )
    if skipped is not None:
        try:
            skipped(topic, reason)
        except Exception:
            log.exception("counting a skipped record failed", topic=topic)
    return False


async def follow_topic(
    bootstrap: str,
    topic: str,
    apply: Callable[[str, bytes | None], None],
    ready: asyncio.Event | None = None,
    *,
    skipped: Skipped | None = None,
) -> None:
    """Call ``apply(key, value)`` for every keyed record of ``topic``, from the start, forever.
    ``ready`` is set once everything that was on the topic when reading began has been applied.
    A record ``apply`` raises on is skipped (see :func:`take`)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    take(
                        topic,
                        message.key,
                        message.value,
                        apply,
                        partition=message.partition,
                        offset=message.offset,
                        skipped=skipped,
                    )
            if ready is not None and not ready.is_set() and await reached(consumer, ends):
                ready.set()
    finally:
        await consumer.stop()
