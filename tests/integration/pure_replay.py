"""Feed a scenario straight through the decision core, in file order, the way the agents would:
the reference answer that the worker, reading two topics in whatever order Kafka hands them over,
must reproduce."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alerts import engine
from alerts.capacity import Contribution
from alerts.config import AlertingConfig
from alerts.model import AlertEvent, Location
from streams.publish import load_locations_file, read_scenario
from streams.records import encode, intake_to_domain, location_to_domain, occupancy_to_domain


def replay(path: Path, config: AlertingConfig) -> list[AlertEvent]:
    records = read_scenario(path)
    locations: dict[str, Location] = {
        r.key: location_to_domain(encode(r.value)) for r in load_locations_file()
    }
    locations.update(
        {r.key: location_to_domain(encode(r.value)) for r in records if r.topic == "locations"}
    )
    stored: dict[str, engine.LocationRecord] = {}
    provinces: dict[str, engine.AggregateRecord] = {}
    nation = engine.AggregateRecord("NL")
    events: list[AlertEvent] = []
    # Read in file order, every input is as far as the newest report: one watermark for all.
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
        out = engine.close_days(record, config, engine.province_rules, progress=mark)
        provinces[record.subject_id] = out.record
        events.extend(out.events)
        for date, asylum, ukrainian in out.closed_days:
            for totals, is_asylum in ((asylum, True), (ukrainian, False)):
                if totals.locations == 0 and not is_asylum:
                    continue
                nonlocal nation
                share = engine.province_share(out.record, date, totals, asylum=is_asylum)
                nation = engine.on_contribution(nation, share)
                close_nation()

    def to_province(item: Contribution) -> None:
        record = provinces.get(item.province) or engine.AggregateRecord(item.province)
        close_province(engine.on_contribution(record, item))

    for record in records:
        if record.topic == "locations":
            continue
        raw = encode(record.value)
        if record.topic == "occupancy":
            report = occupancy_to_domain(raw)
            location = locations[report.location_id]
            current = stored.get(report.location_id) or engine.LocationRecord.new(
                location.location_id
            )
            outcome = engine.on_occupancy(location, current, report, config)
        else:
            intake = intake_to_domain(raw)
            location = locations[intake.location_id]
            current = stored.get(intake.location_id) or engine.LocationRecord.new(
                location.location_id
            )
            outcome = engine.on_intake(location, current, intake, config)
        stored[location.location_id] = outcome.record
        events.extend(outcome.events)
        for share in outcome.contributions:
            to_province(share)
        date = report.date if record.topic == "occupancy" else intake.date
        newest[record.topic] = max(newest.get(record.topic, date), date)
        occupancy, taken = newest.get("occupancy"), newest.get("intake")
        if occupancy is None or (taken is None and config.expect_intake):
            moved = None
        elif taken is None:
            moved = occupancy
        else:
            moved = min(occupancy, taken + dt.timedelta(days=1))
        if moved is not None and (mark is None or moved > mark):
            mark = moved
            for code in sorted(provinces):
                close_province(provinces[code])
            nation_mark = mark
            close_nation()
    return events
