"""Topic names and their creation with explicit partition counts and replication.

The worker calls :func:`ensure_topics` before Faust starts, so no topic is ever auto-created with
broker defaults: each gets OPVANG_REPLICATION_FACTOR copies, and with three or more
``min.insync.replicas=2`` (an acknowledged write is on two brokers). Input topics share one
partition count so that a location's occupancy and intake reports meet in the same partition
(co-partitioned by ``location_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.settings import Settings

__all__ = ["TopicSpec", "ensure_topics", "topic_specs"]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    retention_ms: int | None = None

    def to_new_topic(self, replication_factor: int = 1, min_insync: int | None = None) -> NewTopic:
        configs: dict[str, str] = {}
        if min_insync is not None:
            configs["min.insync.replicas"] = str(min_insync)
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return NewTopic(self.name, self.partitions, replication_factor, topic_configs=configs)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    n = settings.partitions
    t = settings.topic
    return [
        # Reference data: small, read whole by every worker, one partition keeps it ordered.
        TopicSpec(t("locations"), 1, compacted=True),
        TopicSpec(t("occupancy"), n),
        TopicSpec(t("intake"), n),
        TopicSpec(t("alerts"), n),
        # Acknowledgements, keyed by alert_id like the alerts topic (same partition count).
        TopicSpec(t("acks"), n),
        TopicSpec(t("deadletter"), 1),
        # Notifications keyed by receiver: one receiver's deliveries stay in order in one place.
        TopicSpec(t("notifications"), n),
        TopicSpec(t("notifications.dead"), 1),
        # Every routing decision, attempt, acknowledgement and escalation, keyed by alert_id.
        TopicSpec(t("audit"), 1),
        # Silences made through the API: small, read whole by every worker.
        TopicSpec(t("silences"), 1, compacted=True),
        # Internal repartition topics: location contributions by province, province totals to NL.
        TopicSpec(t("internal.province-contributions"), n),
        TopicSpec(t("internal.national-contributions"), 1),
    ]


async def ensure_topics(settings: Settings, *, timeout: float = 30.0) -> list[str]:
    """Create every missing topic; returns the names created. Existing topics are left alone."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.broker_address, request_timeout_ms=int(timeout * 1000)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in topic_specs(settings) if s.name not in existing]
        if missing:
            # Another worker may win the race to create them; that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        s.to_new_topic(settings.replication_factor, settings.min_insync_replicas)
                        for s in missing
                    ]
                )
        # Wait until every new partition has a leader, so the first produce right after us
        # neither auto-creates a topic nor bounces off a partition that is still being set up.
        deadline = asyncio.get_running_loop().time() + timeout
        pending = [s.name for s in missing]
        while pending:
            described = await admin.describe_topics(pending)
            pending = [
                d["topic"]
                for d in described
                if d.get("error_code", 0) != 0
                or not d.get("partitions")
                or any(p.get("leader", -1) < 0 for p in d["partitions"])
            ]
            if not pending:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics without a leader after {timeout} s: {pending}")
            await asyncio.sleep(0.2)
        return [s.name for s in missing]
    finally:
        await admin.close()
