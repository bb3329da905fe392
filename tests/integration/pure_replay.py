"""Feed a scenario straight through the decision core, in file order, the way the agents would:
the reference answer that the worker, reading two topics in whatever order Kafka hands them over,
must reproduce. The loop itself lives in ``alerts.replay`` (``streams.cli.scenario`` reads the
file)."""

from __future__ import annotations

from pathlib import Path

from alerts.config import AlertingConfig
from alerts.model import AlertEvent
from streams.cli.scenario import scenario_alerts


def replay(path: Path, config: AlertingConfig) -> list[AlertEvent]:
    return list(scenario_alerts(path, config).events)
