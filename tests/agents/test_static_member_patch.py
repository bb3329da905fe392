"""The patch that lets a static group member rejoin with another web URL
(streams.worker.faust_patches), against the Faust it was written for: if Faust's
``on_assignment`` changes, these fail."""

from __future__ import annotations

import hashlib
import inspect
import textwrap
import zlib

import pytest
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from faust.assignor.client_assignment import ClientAssignment, ClientMetadata
from faust.assignor.partition_assignor import PartitionAssignor

from streams.settings import Settings, load_alerting_config
from streams.worker import faust_patches as static_member
from streams.worker.app import Worker, build_worker

#: sha256 of the source of ``PartitionAssignor.on_assignment`` in faust-streaming 0.15.3. A new
#: Faust that changes the method fails here: read it again, then update the patch and this.
ON_ASSIGNMENT_SHA256 = "63482c10174f442e6c9b639c3b3c371058aa13dab428b0edc12bd5a675b0a14e"


def test_faust_on_assignment_is_the_one_the_patch_was_written_for() -> None:
    source = textwrap.dedent(inspect.getsource(static_member._original))
    assert hashlib.sha256(source.encode()).hexdigest() == ON_ASSIGNMENT_SHA256, source
    # What the patch relies on: the URL check is the method's last statement, so that when it
    # fails the whole assignment has already been applied.
    assert source.rstrip().endswith("assert metadata.url == str(self._url)")


def test_the_worker_installs_the_patch() -> None:
    build_worker(Settings(), load_alerting_config(None))
    assert static_member.installed()
    assert PartitionAssignor.on_assignment is static_member._on_assignment


def a_worker() -> Worker:
    worker = build_worker(Settings(), load_alerting_config(None))
    worker.app.finalize()
    return worker


def _assignment(
    worker: Worker, url: str, partitions: list[int]
) -> ConsumerProtocolMemberAssignment:
    topic = worker.ctx.topics.reports.topics[0]
    metadata = ClientMetadata(
        assignment=ClientAssignment(actives={topic: [0, 1]}, standbys={}),
        url=url,
        changelog_distribution={},
    )
    return ConsumerProtocolMemberAssignment(
        0, [(topic, partitions)], zlib.compress(metadata.dumps())
    )


def test_an_assignment_from_an_earlier_run_on_another_port_is_kept() -> None:
    worker = a_worker()
    assignor = worker.app.assignor
    other = "http://127.0.0.1:1"
    assert other != str(worker.app.conf.canonical_url)
    assignor.on_assignment(_assignment(worker, other, [0, 1]))
    topic = worker.ctx.topics.reports.topics[0]
    assert {(tp.topic, tp.partition) for tp in assignor.assigned_actives()} == {
        (topic, 0),
        (topic, 1),
    }


def test_other_failed_checks_still_fail() -> None:
    worker = a_worker()
    with pytest.raises(AssertionError):
        # the partitions Kafka assigned differ from those in Faust's metadata
        worker.app.assignor.on_assignment(_assignment(worker, "http://127.0.0.1:1", [0]))
