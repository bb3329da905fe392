"""aiokafka's warnings about a partition that has no leader yet are debug lines, not trouble.

aiokafka's own code writes the records here (its produce-response handler, its metadata update),
so a change of its wording fails this test instead of bringing the noise back unseen.
"""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import errors as kafka_errors
from aiokafka.cluster import ClusterMetadata
from aiokafka.producer.sender import SendProduceReqHandler
from aiokafka.protocol.metadata import MetadataResponse_v0
from aiokafka.structs import TopicPartition

from streams.logging import logging_dict_config

TOPIC = "test-new.locations"


@pytest.fixture
def stderr() -> Iterator[io.StringIO]:
    """What the CLI's logging setup writes, with the root and aiokafka loggers put back after."""
    stream = io.StringIO()
    saved = {
        name: (lg.level, list(lg.handlers))
        for name in ("", "aiokafka")
        for lg in [logging.getLogger(name)]
    }
    yield stream
    for name, (level, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers


def configure(stream: io.StringIO, level: str) -> None:
    config = logging_dict_config(level, json_logs=True)
    config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)


def produce_response(error: type[kafka_errors.KafkaError]) -> None:
    """aiokafka's sender handling a produce response with ``error`` for one partition."""
    sender = SimpleNamespace(
        client=SimpleNamespace(force_metadata_update=lambda: None),
        _txn_manager=None,
        _retry_backoff=0.1,
    )
    batch = SimpleNamespace(expired=lambda: False, failure=lambda exception: None)
    handler = SendProduceReqHandler(sender, {TopicPartition(TOPIC, 0): batch})
    response: Any = SimpleNamespace(API_VERSION=2, topics=[(TOPIC, [(0, error.errno, -1, -1)])])
    handler.handle_response(response)


def metadata(error: type[kafka_errors.KafkaError]) -> None:
    """aiokafka's cluster metadata taking a response that says ``error`` for the topic."""
    response = MetadataResponse_v0([(0, "localhost", 9092)], [(error.errno, TOPIC, [])])
    ClusterMetadata().update_metadata(response)


NOISE = [
    pytest.param(
        lambda: produce_response(kafka_errors.NotLeaderForPartitionError), id="not-leader"
    ),
    pytest.param(lambda: produce_response(kafka_errors.LeaderNotAvailableError), id="no-leader"),
    pytest.param(
        lambda: produce_response(kafka_errors.UnknownTopicOrPartitionError), id="unknown-partition"
    ),
    pytest.param(lambda: metadata(kafka_errors.LeaderNotAvailableError), id="auto-create"),
    pytest.param(lambda: metadata(kafka_errors.UnknownTopicOrPartitionError), id="not-in-metadata"),
]


@pytest.mark.parametrize("emit", NOISE)
def test_a_partition_without_a_leader_yet_is_not_shown(emit: Any, stderr: io.StringIO) -> None:
    configure(stderr, "WARNING")
    emit()
    assert stderr.getvalue() == ""


@pytest.mark.parametrize("emit", NOISE)
def test_it_is_a_debug_line_at_debug_level(emit: Any, stderr: io.StringIO) -> None:
    configure(stderr, "DEBUG")
    logging.getLogger("aiokafka").setLevel(logging.DEBUG)
    emit()
    lines = [line for line in stderr.getvalue().splitlines() if TOPIC in line]
    assert lines, stderr.getvalue()
    assert all('"level": "debug"' in line for line in lines), lines


def test_other_kafka_trouble_still_shows(stderr: io.StringIO) -> None:
    configure(stderr, "WARNING")
    # Not retried: the message is too large for the broker.
    produce_response(kafka_errors.MessageSizeTooLargeError)
    metadata(kafka_errors.TopicAuthorizationFailedError)
    logging.getLogger("aiokafka").warning("Got error produce response: %s", "RequestTimedOut")
    shown = stderr.getvalue()
    assert "is not authorized" in shown
    assert "RequestTimedOut" in shown
    assert '"level": "error"' in shown and '"level": "warning"' in shown
