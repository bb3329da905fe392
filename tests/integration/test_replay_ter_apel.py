"""Ter Apel, August 2022, replayed through the real broker and worker with the CLI.

The expected nights follow the sourced night-by-night table (people outside) and the assumed
figures around it; see streams/data/scenarios/README.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_support import WorkerProcess, read_topic
from pure_replay import replay

from alerts.config import AlertingConfig
from streams.reference import data_path, load_targets

pytestmark = pytest.mark.integration

# The bundled scenarios send intake reports: days close once their flows are in.
CONFIG = "aggregation:\n  expect_intake: true\nreceivers: []\n"


def intake_config() -> AlertingConfig:
    return AlertingConfig.from_mapping(yaml.safe_load(CONFIG)).with_targets(load_targets())


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    process = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"replay-{uuid.uuid4().hex[:8]}.",
        workdir=Path(tmp_path_factory.mktemp("replay")),
        config=CONFIG,
    )
    process.start()
    yield process
    process.stop()


def cli(worker: WorkerProcess, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, **worker.env},
        cwd=worker.workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


async def test_ter_apel_august_2022(kafka_bootstrap: str, worker: WorkerProcess) -> None:
    cli(worker, "load-locations")
    worker.wait_health(lambda body: body.get("locations", 0) >= 11, timeout=30)
    output = cli(worker, "replay", "ter-apel-2022-08")
    assert "published 86 records (43 intake, 43 occupancy)" in output

    alerts = await read_topic(
        kafka_bootstrap, f"{worker.prefix}alerts", expect=45, timeout=90, settle=3
    )

    def story(rule: str) -> list[tuple[str, str]]:
        return [
            (a["status"], a["event_date"])
            for a in sorted(alerts, key=lambda a: a["revision"])
            if a["rule"] == rule and a["subject"]["id"] == "ter-apel"
        ]

    # People outside from the night of 12->13 Aug; two nights with nobody outside (31 Aug and
    # 1 Sep) give the all-clear; back on the night of 8->9 Sep.
    assert story("slept_outside") == [
        ("firing", "2022-08-13"),
        ("resolved", "2022-09-01"),
        ("firing", "2022-09-09"),
    ]
    assert story("cap_exceeded") == [
        ("firing", "2022-08-13"),
        ("resolved", "2022-08-31"),
        ("firing", "2022-09-09"),
    ]
    # The forecast warned two days before the first night outside, and the intake of 8 Sep
    # (arrivals left without a bed) warned the evening before the second wave.
    assert story("outside_risk") == [
        ("firing", "2022-08-11"),
        ("resolved", "2022-09-01"),
        ("firing", "2022-09-08"),
    ]
    first_night = next(
        a for a in alerts if a["rule"] == "slept_outside" and a["event_date"] == "2022-08-13"
    )
    assert first_night["value"] == 40
    assert first_night["summary"] == "Ter Apel: 40 personen sliepen buiten, nacht voor 13 aug"
    # Same input, same alerts: the worker, reading occupancy and intake from two topics in
    # whatever order Kafka hands them over, publishes exactly what the core gives in file order.
    expected = replay(data_path("scenarios", "ter-apel-2022-08.jsonl"), intake_config())
    assert sorted(json.dumps(a, sort_keys=True) for a in alerts) == sorted(
        json.dumps(e.to_dict(), sort_keys=True) for e in expected
    )
    national = [(a["status"], a["event_date"]) for a in alerts if a["rule"] == "national_shortage"]
    assert national == [
        ("firing", "2022-08-13"),
        ("resolved", "2022-08-31"),
        ("firing", "2022-09-09"),
    ]


async def test_shortage_2026_gives_the_same_alerts_as_the_core(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """38 locations in 12 provinces over six months: province and national days close in the
    worker as in the core, from the second week on (the first days of a fast replay can close
    before the intake topic has shown its first report)."""
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"replay26-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=CONFIG,
        # One partition per topic: occupancy and intake still come from two topics read in
        # whatever order Kafka gives. Across several partitions read at very different paces,
        # province days can still close differently (docs/rules.md, "What is left to chance").
        extra_env={"OPVANG_PARTITIONS": "1"},
    )
    worker.start()
    try:
        cli(worker, "load-locations")
        worker.wait_health(lambda body: body.get("locations", 0) >= 11, timeout=30)
        cli(worker, "replay", "shortage-2026")
        expected = replay(data_path("scenarios", "shortage-2026.jsonl"), intake_config())
        alerts = await read_topic(
            kafka_bootstrap,
            f"{worker.prefix}alerts",
            expect=len(expected) - 10,
            timeout=180,
            settle=10,
        )
    finally:
        worker.stop()
    warm = "2026-03-08"

    def settled(items: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return sorted(
            (
                a["rule"],
                json.dumps(a["subject"]),
                a["event_date"],
                a["status"],
                a["severity"],
                a["value"],
            )
            for a in items
            if str(a["event_date"]) >= warm
        )

    assert settled(alerts) == settled([e.to_dict() for e in expected])
    assert any(a["rule"] == "national_shortage" for a in alerts)
