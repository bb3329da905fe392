"""A checksum over the alert changes of a run, so that a faster worker can be shown to decide
exactly what the slower one did (issue 12).

The checksum covers ``(alert_id, revision, status, event_date, value)`` of every distinct alert
change, sorted. Distinct, because delivery is at least once: a batch written again after a
retried send can put an identical change on the alerts topic twice (counted as ``repeats``); two
different contents for one ``alert_id:revision`` give a different checksum. The worker's side is
read from its alerts topic; the reference is the decision core fed the same input in publishing
order (``alerts.replay``), which is what the worker must reproduce whatever order Kafka hands it
the partitions in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.config import AlertingConfig
from alerts.model import IntakeReport, Location, OccupancyReport
from alerts.replay import replay
from streams.dev.topic_reader import drain_topic
from streams.records import encode, intake_to_domain, location_to_domain, occupancy_to_domain

__all__ = ["AlertChecksum", "checksum", "core_changes", "read_alert_changes"]

#: The fields of an alert change the checksum covers.
FIELDS = ("alert_id", "revision", "status", "event_date", "value")


@dataclass(frozen=True, slots=True)
class AlertChecksum:
    sha256: str
    #: Distinct alert changes covered, and identical changes seen more than once.
    changes: int
    repeats: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "changes": self.changes, "repeats": self.repeats}


def checksum(changes: Iterable[Mapping[str, Any]]) -> AlertChecksum:
    """The checksum of alert changes given as their JSON dicts (the alerts topic's values)."""
    lines: list[str] = []
    for change in changes:
        lines.append(json.dumps([change.get(name) for name in FIELDS], separators=(",", ":")))
    distinct = sorted(set(lines))
    digest = hashlib.sha256("\n".join(distinct).encode()).hexdigest()
    return AlertChecksum(digest, len(distinct), len(lines) - len(distinct))


def core_changes(
    locations: Sequence[Mapping[str, Any]],
    messages: Iterable[tuple[str, str, Mapping[str, Any]]],
    config: AlertingConfig,
) -> list[dict[str, Any]]:
    """The alert changes the decision core makes of ``messages`` (``(topic, key, value)`` as the
    benchmark publishes them: topics ending in ``occupancy`` or ``intake``), in that order, with
    the location records ``locations``, converted by the worker's own record functions."""
    known: dict[str, Location] = {}
    for raw in locations:
        location = location_to_domain(encode(raw))
        known[location.location_id] = location
    reports: list[OccupancyReport | IntakeReport] = []
    for topic, _, value in messages:
        convert = intake_to_domain if topic.endswith("intake") else occupancy_to_domain
        reports.append(convert(encode(value)))
    return [event.to_dict() for event in replay(known, reports, config).events]


async def read_alert_changes(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every value on ``topic`` from the start to its end offsets now, decoded (no time limit:
    a year's alerts topic is long)."""
    records = await drain_topic(bootstrap, topic, timeout=None)
    return [json.loads(value) for _, value in records if value is not None]
