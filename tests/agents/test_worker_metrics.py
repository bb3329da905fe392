"""What a worker built by the composition root exports besides the pipeline and the picture."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import subprocess
import sys

from builders import TER_APEL, an_occupancy_report
from fakes.worker import a_worker
from prometheus_client import CollectorRegistry, generate_latest
from reference_collector import ReferenceCollector

from alerts.replay import replay
from streams.settings import Settings, load_alerting_config
from streams.state.split import Changes
from streams.worker.app import build_worker


def test_the_worker_exports_its_version_and_its_process() -> None:
    worker = build_worker(Settings(), load_alerting_config(None))
    text = generate_latest(worker.prometheus).decode()
    version = importlib.metadata.version("opvangwacht")
    assert f'opvangwacht_build_info{{version="{version}"}} 1.0' in text
    assert "process_resident_memory_bytes" in text


def test_the_command_says_its_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"opvangwacht {importlib.metadata.version('opvangwacht')}"


def test_the_scrape_ends_with_the_picture_as_the_collector_before_the_cache_wrote_it() -> None:
    """/metrics: the registry, then the capacity gauges from their cache, exactly as when the
    old collector was registered last in the registry (tests/edge/test_metrics_cache.py)."""
    config = load_alerting_config(None)
    worker, _ = a_worker(config, locations=(TER_APEL,))
    days = [dt.date(2024, 2, 20) + dt.timedelta(days=n) for n in range(6)]
    result = replay(
        {TER_APEL.location_id: TER_APEL},
        [an_occupancy_report(day, 2100 + n) for n, day in enumerate(days)],
        config,
    )
    tables, changes = worker.ctx.tables, Changes()
    tables.locations.stage(changes, 0, TER_APEL.location_id, result.locations["ter-apel"])
    for code, record in result.provinces.items():
        tables.provinces.stage(changes, 0, code, record)
    assert result.national is not None
    tables.nation.stage(changes, 0, "NL", result.national)

    reference = CollectorRegistry()
    reference.register(ReferenceCollector(worker.ctx.state_view))
    picture = generate_latest(reference).decode()
    assert 'opvang_location_occupancy{kind="registration_centre"' in picture
    assert "opvang_penalty_accrued_euros{" in picture
    text = worker.scrape().decode()
    assert text.endswith(picture)
    assert text.startswith(generate_latest(worker.prometheus).decode()[:200])


def test_a_scrape_can_ask_for_some_samples_only() -> None:
    config = load_alerting_config(None)
    worker, _ = a_worker(config, locations=(TER_APEL,))
    result = replay(
        {TER_APEL.location_id: TER_APEL}, [an_occupancy_report(dt.date(2024, 2, 20), 2100)], config
    )
    changes = Changes()
    worker.ctx.tables.locations.stage(changes, 0, "ter-apel", result.locations["ter-apel"])

    def names(text: bytes) -> set[str]:
        lines = text.decode().splitlines()
        return {line.split("{")[0].split(" ")[0] for line in lines if not line.startswith("#")}

    full = worker.scrape()
    assert {"opvang_location_occupancy", "process_resident_memory_bytes"} <= names(full)
    some = worker.scrape(["opvang_location_occupancy", "process_resident_memory_bytes"])
    assert names(some) == {"opvang_location_occupancy", "process_resident_memory_bytes"}
    # The picture's lines asked for are those of the whole scrape (the process's own figures
    # move between two scrapes).
    picture = [line for line in some.decode().splitlines() if "opvang_location_occupancy" in line]
    assert len(picture) == 3  # HELP, TYPE and Ter Apel's sample
    assert set(picture) <= set(full.decode().splitlines())
    # Nothing of the capacity picture when none of it is asked for.
    assert names(worker.scrape(["process_resident_memory_bytes"])) == {
        "process_resident_memory_bytes"
    }
