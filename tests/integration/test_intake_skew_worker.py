"""The intake topic read far behind the occupancy topic (issue 12's whole year): a real worker must
still publish the alert changes the decision core makes of the same reports in date order.

The skew is forced, not hoped for: the first day of both topics, then every morning count of
five more weeks (the worker reads them all), then the intake reports of those weeks. In the year
benchmark the same happened by timing (the stall watch read occupancy partitions straight from the
broker while the intake partitions waited), and the worker published 8,093 distinct alert changes
where the core makes 12,351. Before the fix the provinces closed every day as soon as its morning
counts were in, on 7-day flows that missed the intake not read yet.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the benchmark is not part of the installed package
    sys.path.insert(0, str(REPO))

from worker_checksum import assert_worker_gives_checksum  # noqa: E402

from bench.checksum import checksum, core_changes  # noqa: E402
from bench.year import YearData  # noqa: E402
from streams.settings import load_alerting_config  # noqa: E402

pytestmark = pytest.mark.integration

LOCATIONS = 12
DAYS = 40
#: Days published first and read before the rest: every location's first intake report is in
#: (a location that never sent one counts as not sending intake).
HEAD = 1
START = dt.date(2025, 1, 1)


async def test_intake_read_weeks_behind_occupancy_gives_the_cores_alerts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"skew-{uuid.uuid4().hex[:8]}."
    year = YearData(LOCATIONS, seed=7)
    days = [year.day(prefix, START + dt.timedelta(days=d)) for d in range(DAYS)]
    head = [m for day in days[:HEAD] for m in day]
    counts = [m for day in days[HEAD:] for m in day if m[0].endswith("occupancy")]
    flows = [m for day in days[HEAD:] for m in day if m[0].endswith("intake")]
    core = checksum(
        core_changes(year.locations, [m for day in days for m in day], load_alerting_config(None))
    )
    # The provinces' and the nation's forecasts change in these weeks, not only the locations'.
    assert core.changes >= 40, core
    await assert_worker_gives_checksum(
        kafka_bootstrap,
        prefix,
        year.locations,
        core,
        tmp_path / "worker.log",
        backlog=head,
        later=(counts, flows),
        timeout=120.0,
        stall=60.0,
    )
