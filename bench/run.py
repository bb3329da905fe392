"""End-to-end benchmark of the opvangwacht worker against a real Kafka broker.

    python -m bench.run                 # 50,000 reports, 40 s latency phase (a few minutes)
    python -m bench.run --quick         # 10,000 reports, 8 s latency phase
    python -m bench.run --events 200000 --profile
    python -m bench.run --year          # issue 3: a year of reports, then a restart (long)

Default run (issue 2), on a fresh, unique topic prefix (all its topics, and the worker's changelog
topics, are deleted at the end):

1. publishes synthetic reference locations and N occupancy reports with a plain aiokafka producer,
   before any worker runs (backlog mode);
2. baseline: reads those N messages back with a plain aiokafka consumer and json-decodes them;
3. starts the real worker (``opvangwacht worker``) and measures events/s through it, from outside,
   by polling ``opvang_events_total`` on its /metrics endpoint, then waits until the worker's
   consumer group has committed everything on every topic its agents read;
4. with the worker caught up, produces 100 reports/s: every location reports every synthetic day,
   one day after another, and the capped locations flip ``cap_exceeded`` each day; latency of those
   alerts from Kafka timestamps (alert message minus the report);
5. reads the worker's peak RSS (VmHWM);
6. prints a results table with the goals and writes ``bench/results/latest.json``.

``--year`` (issue 3): 400 locations x 365 days x (occupancy + intake) published as a backlog, the
worker started and timed until every agent has drained; then SIGTERM, the same worker started
again (same prefix and data dir), one more day published, and the time from process start to
/health 200 and to the first new report processed. Writes ``bench/results/year-latest.json``.

Exit code: 0 when the run completed (whether or not the goals were met), 1 when the run itself
failed, 2 for usage errors or an unreachable broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bad_input, delivery, failover, group
from bench.harness import RESULTS_DIR, RunFailed, say
from bench.report import render_delivery_table, render_table, render_year_table
from bench.throughput import run_throughput
from bench.year import run_year


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument(
        "--events",
        type=int,
        default=None,
        help="occupancy reports in the backlog (default 50,000; 10,000 with --quick)",
    )
    p.add_argument("--quick", action="store_true", help="10,000 reports and an 8 s latency phase")
    p.add_argument("--locations", type=int, default=400)
    p.add_argument(
        "--capped",
        type=int,
        default=20,
        help="locations with a cap of 2,000; in the latency phase each flips cap_exceeded with "
        "every report and is measured (default 20)",
    )
    p.add_argument(
        "--latency-workload",
        choices=["days", "single"],
        default="days",
        help="days: all locations report every day, spread evenly (default); single: only the "
        "capped locations report, a day further each time (the old, storm-inducing workload)",
    )
    p.add_argument("--partitions", type=int, default=None, help="default: OPVANG_PARTITIONS or 4")
    p.add_argument("--rate", type=float, default=100.0, help="reports/s in the latency phase")
    p.add_argument(
        "--latency-seconds", type=float, default=None, help="default 40 (8 with --quick)"
    )
    p.add_argument("--poll", type=float, default=1.0, help="seconds between /metrics polls")
    p.add_argument("--seed", type=int, default=2000)
    p.add_argument("--worker-log-level", default="info", choices=["debug", "info", "warning"])
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample the worker with py-spy during the backlog phase",
    )
    p.add_argument("--profile-rate", type=int, default=200)
    p.add_argument("--keep", action="store_true", help="do not delete the run's topics")
    p.add_argument(
        "--no-ceiling", action="store_true", help="skip the minimal-Faust-agent comparison runs"
    )
    p.add_argument(
        "--year",
        action="store_true",
        help="instead: replay a year (occupancy + intake, every location every day) through the "
        "worker, then restart it and time how long until it processes again (issue 3)",
    )
    p.add_argument("--year-days", type=int, default=365, help="days in the --year replay")
    p.add_argument(
        "--restart-kill",
        action="store_true",
        help="--year: stop the worker with kill -9 instead of SIGTERM before the restart",
    )
    p.add_argument(
        "--delivery",
        action="store_true",
        help="instead: notifications/s through the delivery agent to a loopback webhook "
        "receiver, and report-to-signed-webhook latency (issue 4)",
    )
    p.add_argument(
        "--notifications",
        type=int,
        default=None,
        help="--delivery: notifications in the backlog (default 10,000; 2,000 with --quick)",
    )
    p.add_argument("--receivers", type=int, default=8, help="--delivery: webhook receivers")
    p.add_argument(
        "--bad",
        action="store_true",
        help="instead: bad records dead-lettered per second against valid reports applied per "
        "second, two fresh workers in the same run (issue 9)",
    )
    p.add_argument("--bad-events", type=int, default=10_000, help="--bad: records of each kind")
    p.add_argument(
        "--failover",
        action="store_true",
        help="instead: seconds from kill -9 of one of two workers to the next alert change for "
        "one of its partitions, median of --failover-kills (issue 11)",
    )
    p.add_argument("--failover-kills", type=int, default=5, help="--failover: kills")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="with 2 or more: instead, the --year backlog (no restart) drained by one worker and "
        "then by this many in one group, in the same run (issue 11)",
    )
    p.add_argument(
        "--failover-interval", type=float, default=0.2, help="--failover: seconds between reports"
    )
    p.add_argument(
        "--delivery-rate", type=float, default=20.0, help="--delivery: reports/s, latency phase"
    )
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="default bench/results/latest.json (year-latest.json with --year)",
    )
    args = p.parse_args(argv)
    if args.output is None:
        name = (
            "year-latest"
            if args.year
            else "delivery-latest"
            if args.delivery
            else "bad-latest"
            if args.bad
            else "failover-latest"
            if args.failover
            else "group-latest"
            if args.workers > 1
            else "latest"
        )
        args.output = RESULTS_DIR / f"{name}.json"
    if args.year_days < 1:
        p.error("--year-days must be >= 1")
    if args.events is None:
        args.events = 10_000 if args.quick else 50_000
    if args.latency_seconds is None:
        args.latency_seconds = 8.0 if args.quick else 40.0
    if args.events < 1 or args.locations < 1 or not 1 <= args.capped <= args.locations:
        p.error("--events and --locations must be >= 1, and 1 <= --capped <= --locations")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.delivery:
            results = asyncio.run(delivery.run_delivery(args))
        elif args.bad:
            results = asyncio.run(bad_input.run_bad(args))
        elif args.failover:
            results = asyncio.run(failover.run_failover(args))
        elif args.workers > 1:
            results = asyncio.run(group.run_group(args))
        else:
            results = asyncio.run(run_year(args) if args.year else run_throughput(args))
    except RunFailed as exc:
        say(f"benchmark failed: {exc}")
        return 2 if "no Kafka broker" in str(exc) else 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    if args.delivery:
        print(render_delivery_table(results))
    elif args.bad:
        print(bad_input.render_bad_table(results))
    elif args.failover:
        print(failover.render_failover_table(results))
    elif args.workers > 1:
        print(group.render_group_table(results))
    else:
        print(render_year_table(results) if args.year else render_table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    args.output.write_text(text + "\n")
    kind = (
        "year"
        if args.year
        else "delivery"
        if args.delivery
        else "bad"
        if args.bad
        else "failover"
        if args.failover
        else "group"
        if args.workers > 1
        else "run"
    )
    (RESULTS_DIR / f"{kind}-{results['run_id']}.json").write_text(text + "\n")
    say(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
