"""A scenario straight through the decision core, in order, the way the agents would take it:
reports to locations, location contributions to provinces, province shares to the nation, days
closed as the input marks move. The reference answer the worker must reproduce, and what
``opvangwacht route --dry-run`` routes when it is given a scenario.

Pure: the caller reads the files and converts the records into domain values
(``streams.cli.scenario``). Must not import faust, aiokafka, httpx or ``streams``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from alerts import engine
from alerts.capacity.totals import Contribution
from alerts.config import AlertingConfig
from alerts.model import AlertEvent, IntakeReport, Location, OccupancyReport
from alerts.watermark import input_mark, intake_pending

__all__ = ["Replay", "replay"]


@dataclass(frozen=True, slots=True)
class Replay:
    """The alert changes, in the order they were made, and the reports the worker would have
    written to the dead-letter topic (unknown location) as ``(event_id, why)``; and the records
    the worker's tables would hold at the end (the picture its /metrics and read API show)."""

    events: tuple[AlertEvent, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())
    locations: Mapping[str, engine.LocationRecord] = field(default_factory=dict)
    provinces: Mapping[str, engine.AggregateRecord] = field(default_factory=dict)
    national: engine.AggregateRecord | None = None


def replay(
    locations: Mapping[str, Location],
    reports: Iterable[OccupancyReport | IntakeReport],
    config: AlertingConfig,
) -> Replay:
    """Every alert change ``reports`` cause, taken in the order given (publishing order)."""
    reports = list(reports)
    has_intake = any(isinstance(report, IntakeReport) for report in reports)
    stored: dict[str, engine.LocationRecord] = {}
    provinces: dict[str, engine.AggregateRecord] = {}
    nation = engine.AggregateRecord("NL")
    events: list[AlertEvent] = []
    skipped: list[tuple[str, str]] = []
    # Read in order, every input is as far as the newest report: one watermark for all.
    newest: dict[str, dt.date] = {}
    mark: dt.date | None = None
    # The nation hears a mark only after every province has closed its days against it.
    nation_mark: dt.date | None = None

    def close_nation() -> None:
        nonlocal nation
        out = engine.close_days(nation, config, engine.national_rules, progress=nation_mark)
        nation = out.record
        events.extend(out.events)

    def close_province(record: engine.AggregateRecord) -> None:
        nonlocal nation
        out = engine.close_days(record, config, engine.province_rules, progress=mark)
        provinces[record.subject_id] = out.record
        events.extend(out.events)
        for share in engine.national_shares(out.record, out.closed_days):
            nation = engine.on_contribution(nation, share)
            close_nation()

    def to_province(item: Contribution) -> None:
        record = provinces.get(item.province) or engine.AggregateRecord(item.province)
        close_province(engine.on_contribution(record, item))

    for report in reports:
        location = locations.get(report.location_id)
        if location is None:
            skipped.append((report.event_id, f"unknown location {report.location_id!r}"))
            continue
        current = stored.get(location.location_id) or engine.LocationRecord.new(
            location.location_id
        )
        pending = intake_pending(newest.get("intake"), intake_waiting=has_intake)
        if isinstance(report, OccupancyReport):
            topic = "occupancy"
            outcome = engine.on_occupancy(location, current, report, config, intake_pending=pending)
        else:
            topic = "intake"
            outcome = engine.on_intake(location, current, report, config)
        stored[location.location_id] = outcome.record
        events.extend(outcome.events)
        for share in outcome.contributions:
            to_province(share)
        newest[topic] = max(newest.get(topic, report.date), report.date)
        moved = input_mark(
            newest.get("occupancy"),
            newest.get("intake"),
            expect_intake=config.expect_intake or pending,
        )
        if moved is not None and (mark is None or moved > mark):
            mark = moved
            for code in sorted(provinces):
                close_province(provinces[code])
            nation_mark = mark
            close_nation()
    return Replay(tuple(events), tuple(skipped), stored, provinces, nation)
