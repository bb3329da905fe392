"""A scenario file run straight through the decision core, without a broker: read it as
``opvangwacht replay`` does (publishing order), convert each record as the agents do, and hand
the domain values to :func:`alerts.replay.replay`.

Used by ``opvangwacht route --dry-run`` and by the tests as the reference answer the worker must
reproduce. Reads files; never contacts Kafka.
"""

from __future__ import annotations

from pathlib import Path

from alerts.config import AlertingConfig
from alerts.errors import InvalidReport
from alerts.model import IntakeReport, Location, OccupancyReport
from alerts.replay import Replay, replay
from streams.cli.publish import load_locations_file, read_scenario
from streams.records import encode, intake_to_domain, location_to_domain, occupancy_to_domain

__all__ = ["scenario_alerts"]


def scenario_alerts(path: Path, config: AlertingConfig) -> Replay:
    """The alert changes the scenario at ``path`` causes, with the bundled reference locations
    (overridden by the scenario's own location records). A record the worker would dead-letter
    is skipped and named in :attr:`Replay.skipped`."""
    records = read_scenario(path)
    locations: dict[str, Location] = {}
    rejected: list[tuple[str, str]] = []
    for record in [*load_locations_file(), *(r for r in records if r.topic == "locations")]:
        try:
            locations[record.key] = location_to_domain(encode(record.value))
        except InvalidReport as exc:
            rejected.append((record.key, f"location: {exc.reason}: {exc.detail}"))
    reports: list[OccupancyReport | IntakeReport] = []
    for record in records:
        if record.topic == "locations":
            continue
        convert = occupancy_to_domain if record.topic == "occupancy" else intake_to_domain
        try:
            reports.append(convert(encode(record.value)))
        except InvalidReport as exc:
            name = str(record.value.get("event_id") or record.key)
            rejected.append((name, f"{record.topic}: {exc.reason}: {exc.detail}"))
    result = replay(locations, reports, config)
    return Replay(result.events, (*rejected, *result.skipped))
