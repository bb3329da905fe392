"""What the composition root hands every stage: the worker's topics, tables, followers, metrics,
clock and batch runner, made once by :func:`streams.worker.app.build_worker`.

Nothing here creates anything: the dataclasses only hold what the root made, so a stage names
what it uses (``ctx.topics.alerts``, ``ctx.tables.locations``) and a test builds its own worker
instead of patching module globals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from alerts.config import AlertingConfig
from streams.metrics import PipelineMetrics, StateView
from streams.settings import Settings
from streams.state.aggregates import AggregateStore
from streams.state.audit import AuditLog
from streams.state.locations import LocationStore
from streams.state.registry import LocationRegistry
from streams.state.silences import SilenceBook
from streams.worker.roster import InputRoster
from streams.worker.runner import Runner

__all__ = ["Context", "Tables", "Topics"]


@dataclasses.dataclass(frozen=True, slots=True)
class Topics:
    """The worker's topics (Faust topic objects); names in ``streams.topics``."""

    #: Input: occupancy and intake reports together (the report agent reads both).
    reports: Any
    #: The same two input topics one by one, for the reports sent over HTTP.
    occupancy: Any
    intake: Any
    alerts: Any
    deadletter: Any
    dead_notifications: Any
    #: Internal: contributions and input marks keyed by province, then by the nation.
    province: Any
    national: Any
    notifications: Any
    audit: Any
    silences: Any
    acks: Any
    #: Input of the escalation agent: alert changes and acknowledgements, both keyed by alert_id.
    escalation_input: Any


@dataclasses.dataclass(frozen=True, slots=True)
class Tables:
    """The worker's state tables (``streams.state``)."""

    locations: LocationStore
    provinces: AggregateStore
    nation: AggregateStore
    ledgers: Any
    escalations: Any
    #: How far each input partition has been read (``PartitionProgress``), keyed by partition.
    progress: Any
    #: The input marks each province partition has read, keyed by that partition; the nation's.
    province_marks: Any
    nation_marks: Any


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """Everything a stage may use. ``clock`` is wall time, for what happens in the world
    (deliveries, silences, escalation waits); rules run on event time inside the core."""

    settings: Settings
    config: AlertingConfig
    app: Any
    topics: Topics
    tables: Tables
    metrics: PipelineMetrics
    runner: Runner
    registry: LocationRegistry
    audit_log: AuditLog
    silences: SilenceBook
    clock: Callable[[], dt.datetime]
    #: The picture the read API, the status page and the capacity gauges are made from.
    state_view: Callable[[], StateView]
    #: Which input partitions hold records (``streams.worker.roster``).
    roster: InputRoster
