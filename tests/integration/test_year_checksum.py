"""The checksum the year benchmark prints (``bench.checksum``), on a shorter year: three weeks of
the benchmark's own input for 48 locations, published as a backlog before the worker starts (the
way the benchmark does, so the agents take it in joined batches), must give the worker the same
checksum of alert changes as the decision core fed the same reports in publishing order, computed
here. Issue 12 made the hot path faster; this is what says it decides exactly as before.
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

LOCATIONS = 48
DAYS = 21
START = dt.date(2025, 1, 1)


async def test_the_worker_gives_the_cores_checksum_on_three_weeks(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"checksum-{uuid.uuid4().hex[:8]}."
    year = YearData(LOCATIONS, seed=7)
    messages = [m for d in range(DAYS) for m in year.day(prefix, START + dt.timedelta(days=d))]
    core = checksum(core_changes(year.locations, messages, load_alerting_config(None)))
    # Location, province and national rules all change something in these three weeks.
    assert core.changes >= 50, core
    await assert_worker_gives_checksum(
        kafka_bootstrap,
        prefix,
        year.locations,
        core,
        tmp_path / "worker.log",
        backlog=messages,
        timeout=240.0,
        stall=90.0,
    )
