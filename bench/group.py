"""The year with one worker and with a group of workers (issue 11): the same backlog (the
``--year`` workload: ``--year-days`` days of occupancy and intake reports for ``--locations``
locations) drained by one worker, then by ``--workers`` workers in one group, each from the start
on a fresh prefix, in one run; seconds from the workers' start until every agent has committed
everything, the ratio, and each worker's peak memory (with standby replicas).

Run it on the broker you mean to measure: ``opvangwacht kafka start --brokers 3`` and
``OPVANG_KAFKA_BOOTSTRAP=localhost:9092 OPVANG_REPLICATION_FACTOR=3`` for the three-broker
cluster.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import RESULTS_DIR, Run, RunFailed, machine_info, proc_status, say
from bench.topics import (
    check_broker,
    create_topics,
    produce_locations,
    produce_messages,
    wait_drained,
    worker_source_topics,
)
from bench.worker import Worker, wait_healthy
from bench.year import YearData


async def _drain_with(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    run = Run.new(args)
    year = YearData(args.locations, args.seed)  # the same reports for every run
    bootstrap, partitions, prefix = run.bootstrap, run.partitions, run.prefix
    days, n_loc = args.year_days, args.locations
    total = 2 * n_loc * days
    start = dt.date(2025, 1, 1)
    say(f"{workers} worker(s): publishing {total:,} reports on prefix {prefix!r}")
    await create_topics(bootstrap, prefix, partitions)
    await produce_locations(bootstrap, prefix, year.locations)
    backlog = (m for d in range(days) for m in year.day(prefix, start + dt.timedelta(days=d)))
    await produce_messages(bootstrap, backlog, total)
    root = Path(tempfile.mkdtemp(prefix="opvang-bench-group-"))
    group = [
        Worker(
            bootstrap,
            prefix,
            partitions,
            RESULTS_DIR / f"worker-group-{run.run_id}-{n}.log",
            args.worker_log_level,
            root / f"worker-{n}",
            {"OPVANG_WORKER_ID": f"bench-{run.run_id}-{n}"},
        )
        for n in range(workers)
    ]
    started = min(worker.started_at for worker in group)
    try:
        for worker in group:
            await wait_healthy(worker, 180)
        lag, drained_at = await wait_drained(
            bootstrap,
            run.app_id,
            worker_source_topics(prefix),
            timeout=max(900.0, total / 20),
            stall=240.0,
        )
        if lag != 0:
            raise RunFailed(f"the group did not drain (lag {lag:,})")
        seconds = drained_at - started
        peaks = [proc_status(worker.pid or 0).get("VmHWM", 0) / 1e6 for worker in group]
        say(f"  drained in {seconds:.1f} s; peak RSS {', '.join(f'{p:.0f} MB' for p in peaks)}")
        return {
            "workers": workers,
            "seconds_start_to_drained": seconds,
            "events_per_s": total / seconds,
            "peak_rss_mb": peaks,
            "prefix": prefix,
        }
    finally:
        for worker in group:
            worker.shut_down()


async def run_group(args: argparse.Namespace) -> dict[str, Any]:
    bootstrap = os.environ.get("OPVANG_KAFKA_BOOTSTRAP") or "localhost:9092"
    await check_broker(bootstrap)
    one = await _drain_with(args, 1)
    several = await _drain_with(args, args.workers)
    return {
        "run_id": time.strftime("%Y%m%d-%H%M%S"),
        "mode": "group",
        "bootstrap": bootstrap,
        "replication_factor": os.environ.get("OPVANG_REPLICATION_FACTOR", "1"),
        "days": args.year_days,
        "locations": args.locations,
        "events": 2 * args.locations * args.year_days,
        "one": one,
        "group": several,
        "ratio_group_to_one": one["seconds_start_to_drained"] / several["seconds_start_to_drained"],
        "machine": machine_info(),
    }


def render_group_table(results: dict[str, Any]) -> str:
    one, group = results["one"], results["group"]
    peaks = ", ".join(f"{p:.0f}" for p in group["peak_rss_mb"])
    return (
        f"| {results['events']:,} reports ({results['days']} days), replication "
        f"{results['replication_factor']} | 1 worker | {group['workers']} workers |\n"
        "| --- | --- | --- |\n"
        f"| start to drained | {one['seconds_start_to_drained']:.0f} s "
        f"({one['events_per_s']:,.0f}/s) | {group['seconds_start_to_drained']:.0f} s "
        f"({group['events_per_s']:,.0f}/s) |\n"
        f"| speed-up | | {results['ratio_group_to_one']:.2f}x |\n"
        f"| peak RSS per worker | {one['peak_rss_mb'][0]:.0f} MB | {peaks} MB |\n"
    )
