"""The capacity gauges from their per-record cache (``streams.gauges``) write exactly what the
collector wrote before the cache (``reference_collector``), for the same tables: at first, after
records change, after a location disappears, after the config changes; and only the records
that changed are rendered again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest
from builders import a_location, an_intake_report, an_occupancy_report
from prometheus_client import CollectorRegistry, generate_latest
from reference_collector import ReferenceCollector

from alerts.config import AlertingConfig
from alerts.delivery.ledger import Ledger
from alerts.model import IntakeReport, Location, OccupancyReport
from alerts.replay import Replay, replay
from streams.metrics import StateCollector, StateView
from streams.settings import load_alerting_config

START = dt.date(2024, 2, 15)
NOW = dt.datetime(2024, 3, 20, 12, 0, tzinfo=dt.UTC)
#: Label values the text format must escape: a quote, a backslash, a newline, and non-ASCII.
ODD_ID = 'odd "loc"\\n\nå'


def locations() -> dict[str, Location]:
    """Ter Apel (capped, fined above its cap from 22 February 2024) and locations of every kind
    in three provinces, one with an id that needs escaping."""
    known = [a_location()]
    kinds = ("regular", "emergency", "ukrainian", "crisis", "waiting_room")
    for n in range(24):
        known.append(
            a_location(
                location_id=ODD_ID if n == 5 else f"loc-{n:02d}",
                name=f"Locatie {n}",
                kind=kinds[n % len(kinds)],
                province=("GR", "UT", "ZH")[n % 3],
                capacity=100 + 20 * n,
                cap=None if n % 4 else 150 + 20 * n,
            )
        )
    return {location.location_id: location for location in known}


def reports(known: dict[str, Location], days: int) -> list[OccupancyReport | IntakeReport]:
    rng = random.Random(12)
    out: list[OccupancyReport | IntakeReport] = []
    for day in range(days):
        date = START + dt.timedelta(days=day)
        for location in known.values():
            if location.location_id == "loc-03" and day > 3:
                continue  # stops reporting: its record stays the same object
            top = location.cap or location.capacity or 100
            count = rng.randint(int(top * 0.8), int(top * 1.15))
            out.append(
                an_occupancy_report(
                    date,
                    count,
                    event_id=f"{location.location_id}:{date}",
                    location_id=location.location_id,
                    without_bed=rng.randint(0, 5),
                )
            )
            out.append(
                an_intake_report(
                    date,
                    event_id=f"{location.location_id}:{date}:in",
                    location_id=location.location_id,
                    arrivals=rng.randint(0, 30),
                    transfers_out=rng.randint(0, 10),
                    departures=rng.randint(0, 10),
                )
            )
    return out


def a_view(
    known: dict[str, Location], result: Replay, config: AlertingConfig, ledgers: list[Ledger]
) -> StateView:
    pairs = [(known[key], record) for key, record in result.locations.items()]
    return StateView(pairs, dict(result.provinces), result.national, config, ledgers, NOW)


def reference(view: StateView) -> str:
    registry = CollectorRegistry()
    registry.register(ReferenceCollector(lambda: view))
    return generate_latest(registry).decode()


@pytest.fixture(scope="module")
def config() -> AlertingConfig:
    return load_alerting_config(None)


@pytest.fixture(scope="module")
def known() -> dict[str, Location]:
    return locations()


def test_the_cached_text_is_what_the_old_collector_wrote(
    known: dict[str, Location], config: AlertingConfig
) -> None:
    result = replay(known, reports(known, 20), config)
    ledgers = [Ledger("sms-burgemeester"), Ledger('web"hook', disabled="410")]
    view = a_view(known, result, config, ledgers)
    expected = reference(view)
    # The picture has every kind of sample: fines, alerts firing, flows, targets, escaping.
    for needed in (
        'opvang_penalty_accrued_euros{location_id="ter-apel",scheme="ter-apel-2024-01"}',
        "opvang_alerts_firing{",
        "opvang_location_arrivals_7d{",
        'opvang_province_spreiding_target_places{cycle="first",province="GR"}',
        'location_id="odd \\"loc\\"\\\\n\\nå"',
        'opvang_receiver_disabled{receiver="web\\"hook"} 1.0',
        "opvang_national_ukrainian_capacity ",
    ):
        assert needed in expected
    collector = StateCollector(lambda: view)
    assert collector.exposition().decode() == expected
    # Scraped again with nothing changed: the same text, nothing rendered again.
    assert collector.exposition().decode() == expected
    assert (collector._locations.rendered, collector._locations.reused) == (0, len(known))
    # The collector in a registry (generate_latest over collect) agrees too.
    registry = CollectorRegistry()
    registry.register(collector)
    assert generate_latest(registry).decode() == expected


def test_only_changed_records_are_rendered_again_and_the_text_follows_them(
    known: dict[str, Location], config: AlertingConfig
) -> None:
    first = replay(known, reports(known, 20), config)
    later = replay(known, reports(known, 21), config)
    current = [a_view(known, first, config, [])]
    collector = StateCollector(lambda: current[0])
    assert collector.exposition().decode() == reference(current[0])

    # The next day: every location but loc-03 (silent since day 4) has a new record.
    moved = {key: later.locations[key] for key in first.locations}
    moved["loc-03"] = first.locations["loc-03"]
    current[0] = StateView(
        [(known[key], record) for key, record in moved.items()],
        dict(later.provinces),
        later.national,
        config,
        [],
        NOW,
    )
    assert collector.exposition().decode() == reference(current[0])
    assert (collector._locations.rendered, collector._locations.reused) == (len(known) - 1, 1)

    # A location gone from the tables (or the registry) leaves no series behind.
    gone = ODD_ID
    current[0] = dataclasses.replace(
        current[0],
        locations=[(loc, rec) for loc, rec in current[0].locations if loc.location_id != gone],
    )
    text = collector.exposition().decode()
    assert text == reference(current[0])
    assert 'odd \\"loc\\"' not in text
    assert collector._locations.rendered == 0

    # A location changed in the registry (same record) is rendered again.
    changed = dataclasses.replace(known["loc-03"], province="NH", cap=999)
    current[0] = dataclasses.replace(
        current[0],
        locations=[
            (changed if loc.location_id == "loc-03" else loc, rec)
            for loc, rec in current[0].locations
        ],
    )
    text = collector.exposition().decode()
    assert text == reference(current[0])
    assert 'opvang_location_cap{kind="crisis",location_id="loc-03",province="NH"} 999.0' in text
    assert collector._locations.rendered == 1

    # A new config (without the fine schemes) renders everything again.
    bare = dataclasses.replace(config, penalties=())
    current[0] = dataclasses.replace(current[0], config=bare)
    text = collector.exposition().decode()
    assert text == reference(current[0])
    assert "opvang_penalty_maximum_euros{" not in text


def test_an_empty_picture_writes_every_help_line(config: AlertingConfig) -> None:
    view = StateView([], {}, None, config)
    assert StateCollector(lambda: view).exposition().decode() == reference(view)
