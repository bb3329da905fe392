"""What the worker changes in Faust, in one place, installed by :func:`install` (the composition
root calls it; safe to call again), and the topic class the app is built with. Six changes:

**The consumer's fetch wait.** Faust fixes how long the broker may hold a fetch when none of the
consumer's partitions has new messages at 1.5 s, and aiokafka keeps one fetch in flight per
broker: when a restarted worker finishes reading its changelogs, the partitions it then resumes
wait for the fetch that is still held, up to 1.5 s before the first report, and partitions that
catch up during recovery wait the same way. In the year benchmark (150 days, same code, one run
each) a restart took 15.9 s with 1.5 s and 11.3 s with 100 ms. Faust has no setting for it; its
consumer factory is wrapped instead (``tests/agents/test_consumer_settings.py`` fails if a new
Faust stops calling it).

**A static group member that comes back with another web address joins its group normally.**
With ``OPVANG_WORKER_ID`` the worker is a static member of its consumer group (KIP-345). When it
rejoins after a crash, Kafka hands it the assignment it had before, without a new assignment
round; Faust's assignor metadata in that assignment still carries the web URL of the previous
run (``http://{web_host}:{web_port}``). Faust's ``PartitionAssignor.on_assignment`` ends with
``assert metadata.url == str(self._url)``: a worker restarted with the same id and another
``OPVANG_WEB_PORT`` (or ``OPVANG_WEB_HOST``) failed that assertion in aiokafka's coordinator,
whose routine then stopped, and the worker stayed in ``starting`` for good.

:func:`install` wraps ``on_assignment``: when the only thing wrong is that URL, the assignment is
kept (the method has applied all of it before its last line) and the worker carries on. The URL
is what Faust's table router would send other workers to; the worker switches that router off
(``web_router_enabled=False``), so nothing reads it. The next real rebalance writes the new URL.
Any other failed check (the partitions) is raised as before.

**Metadata for the worker's own topics only.** Faust declares every topic and changelog at start
(``Producer.create_topic``) and then forces a metadata update of its producer's client. That
client tracks no topic yet, so each update asked the broker for all of its topics: on the shared
benchmark broker (6,779 topics) 24 updates of 0.3 s each, about 7 s of every start and restart,
and 15 % of a 30-day replay's samples (docs/performance.md, issue 12). The wrapper has the client
track each topic once Faust has created it, so every update after the first asks for the
worker's topics only, as a producer does for the topics it sends to. (Tracking it before the
creation was tried: the broker then created the topic on the metadata request, with one
partition, and the worker failed on its first send to another partition.)

**Sends without Faust's per-message bookkeeping.** ``Topic.send`` wraps every message in a
``PendingMessage`` and a ``FutureMessage``, takes the producer through a stampede guard and
resolves its own future from the producer's: 35 µs of CPU per message against 11 µs for Faust's
``Producer.send`` beneath it, measured on this machine (docs/performance.md, 2026-12-04).
:class:`DirectTopic`, the app's topic class, serialises key and value as Faust does (the topic's
schema and serializers; where their answer is plain, bytes as they are and other values through
the named codec, without the schema's and the registry's layers: 5.1 µs where Faust took 6.4 µs
for a member row's key and value), tells the sensors as Faust does, and hands the message to the
same producer, returning the producer's delivery future, as ``Topic.send`` itself returns. Sends
Faust's fast path does not cover (a callback, headers, a timestamp, a schema of the call,
attachments, a producer not yet started) go through ``Topic.send`` as before. Its ``send_many``
hands several messages for one partition (a batch's changelog writes) to the producer as one
batch (aiokafka's ``send_batch``): one delivery future for them all instead of one per message,
about 14 µs of CPU less per message (docs/performance.md, 2026-12-05 morning).

**A record handed to the streams without four tasks.** The consumer's loop hands every record
to the streams with ``await self.wait_first(callback(record), self.suspend_flow.wait())``: so
that a rebalance can abandon a hand-over stuck on a full stream buffer, each record becomes four
tasks (the hand-over, the flow event, the consumer's stopped and crashed events), an
``asyncio.wait`` and three cancellations: 35 µs of CPU per record on this machine, where the
hand-over itself almost always finishes without waiting for anything. The consumer's
``wait_first`` (only that loop calls it) now first runs the hand-over up to its first wait. Done
by then, it returns as Faust's would have (the record delivered, the loop goes on). Waiting (a
full buffer, flow control, a full producer buffer), the hand-over is resumed through Faust's own
``wait_first``, with the flow event beside it, exactly as before. Errors rise as they did.

**A full stream buffer holds every partition, not the one that found it full.** When Faust puts
a record in a stream's buffer and finds it four fifths full, it stops fetching the partition of
that record (``Consumer.on_buffer_full``) until the buffer is half empty, while the stream's other
partitions go on being fetched. Which partition that is, is chance. The report agent reads the
morning counts and the intake in one stream; with the hand-over above, the buffer is near full
through a backlog, and one topic's partitions ran days ahead of the other's: 854, 1,694 and
39,854 reports were applied as corrections in three year runs (14 without the hand-over), and a
correction costs more than a report in date order. ``on_buffer_full`` now does nothing: a record
that finds the buffer full waits for room (Faust's own path for a full buffer, inside the
hand-over above, which a rebalance can still abandon), and with it the consumer, so every
partition of the stream moves at the pace the agent reads. The fetcher keeps at most one fetch
per partition in memory (``CONSUMER_FETCH_BYTES``). During recovery Faust's method did nothing
either.

Checked on faust-streaming 0.15.3; ``tests/agents/test_static_member_patch.py`` fails if Faust's
method no longer ends with that assertion, or no longer applies the assignment before it.

Imports Faust; nothing of ours.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import faust
import faust.transport.drivers.aiokafka as faust_aiokafka
import structlog
from faust.assignor.client_assignment import ClientMetadata
from faust.assignor.partition_assignor import PartitionAssignor
from faust.serializers import codecs
from faust.transport.consumer import Consumer
from faust.types import ModelT
from mode.services import Service, WaitResults

__all__ = ["CHECKED_FAUST", "FETCH_MAX_WAIT_MS", "DirectTopic", "install", "installed"]

#: The faust-streaming release whose ``on_assignment`` this was written against.
CHECKED_FAUST = "0.15.3"

log = structlog.get_logger("opvangwacht.worker")

_original = PartitionAssignor.on_assignment
_create_worker_consumer = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer
_create_topic = faust_aiokafka.Producer.create_topic
_wait_first = Service.wait_first

#: How long the broker may hold a fetch of the worker's consumer (see the module docstring).
FETCH_MAX_WAIT_MS = 100


def _worker_consumer(self: Any, transport: Any) -> Any:
    consumer = _create_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
    return consumer


async def _create_topic_tracked(self: Any, topic: str, *args: Any, **kwargs: Any) -> None:
    await _create_topic(self, topic, *args, **kwargs)
    producer = getattr(self, "_producer", None)
    if producer is not None and self.app.conf.topic_allow_declare:
        # Only once it exists: a metadata request naming a topic the broker does not have may
        # create it, with the broker's default partition count instead of the worker's.
        await producer.client.add_topic(topic)


def _on_assignment(self: Any, assignment: Any) -> None:
    try:
        _original(self, assignment)
    except AssertionError:
        metadata = ClientMetadata.loads(zlib.decompress(assignment.user_data))
        own = str(self._url)
        if metadata.url == own:
            raise
        ours = sorted(self._assignment.kafka_protocol_assignment(self._table_manager))
        if sorted(assignment.assignment) != ours:
            raise
        log.info(
            "rejoined with the assignment of an earlier run",
            previous_url=metadata.url,
            url=own,
        )


class _Resumed:
    """Awaits the rest of a coroutine that has already run up to ``waiting_on``: that object goes
    to the task first, then every value and error the task sends in goes on to the coroutine, as
    if the task had run it from the start."""

    __slots__ = ("coro", "waiting_on")

    def __init__(self, coro: Any, waiting_on: Any) -> None:
        self.coro, self.waiting_on = coro, waiting_on

    def __await__(self) -> Any:
        coro, step = self.coro, self.waiting_on
        while True:
            try:
                sent = yield step
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # handed on, whatever it is
                try:
                    step = coro.throw(exc)
                except StopIteration as finished:
                    return finished.value
            else:
                try:
                    step = coro.send(sent)
                except StopIteration as finished:
                    return finished.value


async def _consumer_wait_first(self: Any, *coros: Any, timeout: Any = None) -> Any:
    """``Service.wait_first`` for the consumer's record loop (see the module docstring)."""
    if timeout is not None or len(coros) != 2 or not asyncio.iscoroutine(coros[0]):
        return await _wait_first(self, *coros, timeout=timeout)
    handover, beside = coros
    try:
        waiting_on = handover.send(None)
    except StopIteration as finished:
        if asyncio.iscoroutine(beside):
            beside.close()  # never started: nothing to clean up
        return WaitResults([handover], [finished.value], False)
    except BaseException:
        if asyncio.iscoroutine(beside):
            beside.close()
        raise
    return await _wait_first(self, _Resumed(handover, waiting_on), beside)


def _hold_all_partitions(self: Any, tp: Any) -> None:
    """``Consumer.on_buffer_full``: fetching goes on for every partition; the record that found
    the buffer full waits for room, and the consumer with it (see the module docstring)."""


def install() -> None:
    """Wrap Faust's consumer factory, ``PartitionAssignor.on_assignment``, the producer's
    ``create_topic`` and the consumer's ``wait_first`` and ``on_buffer_full`` (safe to call
    again)."""
    PartitionAssignor.on_assignment = _on_assignment  # type: ignore[method-assign]
    Consumer.wait_first = _consumer_wait_first  # type: ignore[method-assign]
    Consumer.on_buffer_full = _hold_all_partitions  # type: ignore[method-assign]
    faust_aiokafka.Producer.create_topic = _create_topic_tracked  # type: ignore[method-assign]
    consumer_thread = faust_aiokafka.AIOKafkaConsumerThread
    consumer_thread._create_worker_consumer = _worker_consumer  # type: ignore[method-assign]


def installed() -> bool:
    consumer_thread = faust_aiokafka.AIOKafkaConsumerThread
    return (
        PartitionAssignor.on_assignment is _on_assignment
        and consumer_thread._create_worker_consumer is _worker_consumer
        and faust_aiokafka.Producer.create_topic is _create_topic_tracked
        and Consumer.wait_first is _consumer_wait_first
        and Consumer.on_buffer_full is _hold_all_partitions
    )


class DirectTopic(faust.Topic):
    """Faust's topic with a cheaper :meth:`send` (see the module docstring)."""

    #: The app's ``stream_publish_on_commit``, read at the first send: a setting does not change
    #: while the app runs, and reading it through Faust's settings costs more than the rest of
    #: the test below.
    _on_commit: bool | None = None
    _plain_schema = False

    async def send(
        self,
        *,
        key: Any = None,
        value: Any = None,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: Any = None,
        schema: Any = None,
        key_serializer: Any = None,
        value_serializer: Any = None,
        callback: Any = None,
        force: bool = False,
    ) -> Any:
        app = self.app
        producer = app.producer
        if self._on_commit is None:
            self._settings()
        on_commit = self._on_commit
        if (
            timestamp is not None
            or headers is not None
            or schema is not None
            or callback is not None
            or on_commit
            or not producer.started
        ):
            return await super().send(
                key=key,
                value=value,
                partition=partition,
                timestamp=timestamp,
                headers=headers,
                schema=schema,
                key_serializer=key_serializer,
                value_serializer=value_serializer,
                callback=callback,
                force=force,
            )
        payload_key = payload_value = _AS_FAUST
        if self._plain_schema:
            payload_key = _payload(key, key_serializer) if key is not None else None
            payload_value = _payload(value, value_serializer)
        if payload_key is not _AS_FAUST and payload_value is not _AS_FAUST:
            open_headers: Any = {}  # Faust's own schema adds no headers
        else:
            # As Channel.as_future_message: headers start empty, the schema may add to them.
            payload_key, open_headers = self.prepare_key(key, key_serializer, None, {})
            payload_value, open_headers = self.prepare_value(
                value, value_serializer, None, open_headers
            )
        topic = self.get_topic_name()
        sensors = app.sensors
        state = _initiated(sensors, producer, topic, payload_key, payload_value)
        delivery = cast(
            asyncio.Future[Any],
            await producer.send(topic, payload_key, payload_value, partition, None, open_headers),
        )
        delivery.add_done_callback(partial(_sent, sensors, producer, state))
        return delivery

    async def send_many(
        self,
        partition: int,
        messages: Sequence[tuple[Any, Any]],
        *,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> list[Any]:
        """``messages`` (key, value; a value of None is a tombstone) to one partition, in that
        order, as :meth:`send` of each would send them, but handed to the producer as one batch
        (aiokafka's ``send_batch``): a delivery future per batch, not one per message, and none
        of the producer's per-message work. About 14 µs of CPU less per message on this
        machine, and a batch writes a changelog message for most records it changes
        (docs/performance.md, 2026-12-05 morning). Returns the delivery futures (one per batch
        the producer's batch size allows). When the app publishes on commit, the topic has a
        schema of its own or the producer has not started, each message goes through
        :meth:`send` instead."""
        app = self.app
        producer = app.producer
        if self._on_commit is None:
            self._settings()
        if self._on_commit or not self._plain_schema or not producer.started:
            return [
                await self.send(
                    key=key,
                    value=value,
                    partition=partition,
                    key_serializer=key_serializer,
                    value_serializer=value_serializer if value is not None else "raw",
                )
                for key, value in messages
            ]
        faust_producer: Any = producer  # the aiokafka driver's Producer, not Faust's interface
        kafka = faust_producer._ensure_producer()
        topic = self.get_topic_name()
        sensors = app.sensors
        announce = faust_producer._send_on_produce_message
        deliveries: list[Any] = []
        states: list[Any] = []
        batch = kafka.create_batch()
        for key, value in messages:
            payload_key = _payload(key, key_serializer) if key is not None else None
            if payload_key is _AS_FAUST:
                payload_key, _ = self.prepare_key(key, key_serializer, None, {})
            payload_value = _payload(value, value_serializer) if value is not None else None
            if payload_value is _AS_FAUST:
                payload_value, _ = self.prepare_value(value, value_serializer, None, {})
            announce(
                key=payload_key, value=payload_value, partition=partition, timestamp=None,
                headers=None,
            )  # fmt: skip
            if batch.append(key=payload_key, value=payload_value, timestamp=None) is None:
                # Full: this one starts the next batch (an empty batch takes any message).
                deliveries.append(
                    await _ship(kafka, batch, topic, partition, sensors, producer, states)
                )
                batch, states = kafka.create_batch(), []
                batch.append(key=payload_key, value=payload_value, timestamp=None)
            states.append(_initiated(sensors, producer, topic, payload_key, payload_value))
        if states:
            deliveries.append(
                await _ship(kafka, batch, topic, partition, sensors, producer, states)
            )
        return deliveries

    def _settings(self) -> None:
        """What a send needs of the app's settings, read once (they do not change)."""
        self._on_commit = bool(self.app.conf.stream_publish_on_commit)
        # Faust's own schema passes bytes keys and values through unchanged; a subclass of it
        # might not, and then every send goes through it.
        self._plain_schema = type(self.schema) is faust.Schema


#: :func:`_payload` leaves the value to Faust's schema.
_AS_FAUST: Any = object()
#: Faust's codecs by name, looked up once (``codecs.get_codec`` parses the name each time).
_CODECS: dict[str, Any] = {}
#: Types seen not to be Faust models (whose own serializer the registry would use instead).
_NOT_MODELS: set[type] = {bytes, str, dict, list, int}


def _payload(value: Any, serializer: Any) -> Any:
    """What Faust's schema and serializer registry make of a key or value for the wire, done
    without their layers where the answer is plain: bytes as they are; anything else that is
    not a Faust model through the codec named by ``serializer``. ``_AS_FAUST`` for the rest (no
    value, no codec named, a model): Faust's schema then does it."""
    kind = type(value)
    if kind is bytes:
        return value
    if value is None or not serializer or type(serializer) is not str:
        return _AS_FAUST
    if kind not in _NOT_MODELS:
        if isinstance(value, ModelT):
            return _AS_FAUST
        _NOT_MODELS.add(kind)
    codec = _CODECS.get(serializer)
    if codec is None:
        codec = _CODECS[serializer] = codecs.get_codec(serializer)
    return codec.dumps(value)


def _initiated(sensors: Any, producer: Any, topic: str, key: Any, value: Any) -> Any:
    """The sensors hear a send begin, as from ``Topic._on_published``'s caller; returns their
    state for the delivery."""
    return sensors.on_send_initiated(
        producer,
        topic,
        # No PendingMessage is made (the point); Faust's sensors do not read it.
        message=cast(Any, None),
        keysize=len(key) if key is not None else 0,
        valsize=len(value) if value is not None else 0,
    )


async def _ship(
    kafka: Any,
    batch: Any,
    topic: str,
    partition: int,
    sensors: Any,
    producer: Any,
    states: list[Any],
) -> Any:
    """A filled batch handed to the producer; the sensors hear of its messages when it is
    delivered."""
    batch.close()  # closed: sent at once, without lingering (nothing more can join it)
    delivery = await kafka.send_batch(batch, topic, partition=partition)
    delivery.add_done_callback(partial(_sent_all, sensors, producer, states))
    return delivery


def _sent_all(sensors: Any, producer: Any, states: list[Any], delivery: Any) -> None:
    """The sensors hear of each message of a batch as :func:`_sent` tells them of one."""
    for state in states:
        _sent(sensors, producer, state, delivery)


def _sent(sensors: Any, producer: Any, state: Any, delivery: Any) -> None:
    """The sensors hear of a delivery as from ``Topic._on_published``."""
    if delivery.cancelled():
        return
    error = delivery.exception()
    if error is not None:
        sensors.on_send_error(producer, error, state)
    else:
        sensors.on_send_completed(producer, state, delivery.result())
