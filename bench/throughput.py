"""The default run (issue 2): baseline read, events/s through the worker, latency and memory;
and the minimal-Faust-agent ceiling runs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.data import make_dataset
from bench.harness import (
    GOAL_EVENTS_PER_S,
    GOAL_P99_MS,
    GOAL_RSS_MB,
    REPO,
    RESULTS_DIR,
    Run,
    RunFailed,
    children_cpu_seconds,
    code_version,
    machine_busy,
    machine_info,
    package_versions,
    proc_cpu_seconds,
    proc_status,
    say,
)
from bench.latency import measure_latency
from bench.profiling import start_profiler, stop_profiler, summarise_profile
from bench.topics import (
    baseline_consume,
    check_broker,
    create_topic,
    create_topics,
    delete_topics,
    produce_backlog,
    wait_drained,
    worker_source_topics,
)
from bench.worker import PROGRESS, Worker, scrape, wait_healthy, worker_command


def run_ceiling(
    bootstrap: str,
    prefix: str,
    partitions: int,
    events: int,
    mode: str,
    topics: tuple[str, ...] = ("occupancy",),
) -> dict:
    """Run bench/faust_ceiling.py to completion over ``topics`` (names after ``prefix``)."""
    data_dir = tempfile.mkdtemp(prefix="opvang-bench-ceiling-")
    env = dict(os.environ)
    env.update(
        BENCH_BOOTSTRAP=bootstrap,
        BENCH_TOPIC=",".join(f"{prefix}{name}" for name in topics),
        BENCH_EVENTS=str(events),
        BENCH_APP_ID=f"{prefix}ceiling-{mode}",
        BENCH_MODE=mode,
        BENCH_PARTITIONS=str(partitions),
        BENCH_DATA_DIR=data_dir,
        PYTHONUNBUFFERED="1",
    )
    script = Path(__file__).resolve().parent / "faust_ceiling.py"
    started = time.monotonic()
    cpu_before = children_cpu_seconds()
    proc = subprocess.Popen(
        [sys.executable, str(script), "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(REPO),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=max(180.0, events / 200))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RunFailed(
            f"the Faust ceiling run ({mode}) did not finish:\n{err.decode()[-2000:]}"
        ) from None
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    for line in reversed(out.decode(errors="replace").splitlines()):
        if "{" in line and line.rstrip().endswith("}"):  # Faust may prefix terminal escapes
            result = json.loads(line[line.index("{") :])
            result["wall_s_incl_startup"] = time.monotonic() - started
            result["cpu_s_incl_startup"] = children_cpu_seconds() - cpu_before
            return result
    raise RunFailed(f"the Faust ceiling run ({mode}) printed no result:\n{err.decode()[-2000:]}")


async def measure_throughput(worker: Worker, expected: int, poll_s: float) -> dict[str, Any]:
    """Poll opvang_events_total until it reaches ``expected``."""
    timeline: list[tuple[float, int]] = []
    scrape_times: list[float] = []
    t_first: float | None = None
    c_first = 0
    cpu_first: float | None = None
    busy_first: tuple[int, int] | None = None
    last_change = time.monotonic()
    last_total = -1
    last_print = 0.0
    outcomes: dict[str, int] = {}
    while True:
        if not worker.alive():
            raise RunFailed(
                f"the worker died (code {worker.proc.returncode}):\n{worker.log_tail()}"
            )
        total, outcomes, took = await scrape(worker, PROGRESS)
        now = time.monotonic()
        scrape_times.append(took)
        timeline.append((round(now - worker.started_at, 3), total))
        if total != last_total:
            last_change = now
            last_total = total
        if t_first is None and total > 0:
            t_first, c_first = now, total
            cpu_first = proc_cpu_seconds(worker.pid)
            busy_first = machine_busy()
            say(f"  worker consumed its first events {now - worker.started_at:.1f} s after start")
        if total >= expected:
            break
        if now - last_change > 90:
            raise RunFailed(
                f"the worker processed nothing for 90 s (at {total:,}/{expected:,}):\n"
                f"{worker.log_tail()}"
            )
        if t_first is not None and now - last_print >= 2.0:
            last_print = now
            rate = (total - c_first) / (now - t_first) if now > t_first else 0.0
            say(f"  worker: {total:,}/{expected:,} events ({rate:,.0f}/s so far)")
        await asyncio.sleep(poll_s)
    cpu_end = proc_cpu_seconds(worker.pid)
    busy_end = machine_busy()
    assert t_first is not None
    # Rate from the first poll that saw events to the moment the count reached ``expected``,
    # interpolated between the last two polls (so the poll interval does not bias the figure).
    t_end = time.monotonic()
    if len(timeline) >= 2 and timeline[-2][1] < expected <= timeline[-1][1]:
        (ta, ca), (tb, cb) = timeline[-2], timeline[-1]
        t_end = worker.started_at + ta + (tb - ta) * (expected - ca) / max(1, cb - ca)
    t_end = max(t_end, t_first)
    seconds = t_end - t_first
    rate = (expected - c_first) / seconds if seconds > 0 else float("inf")
    cpu = (
        (cpu_end - cpu_first) / seconds
        if cpu_end is not None and cpu_first is not None and seconds > 0
        else None
    )
    machine = None
    if busy_first is not None:
        machine = (busy_end[0] - busy_first[0]) / max(1, busy_end[1] - busy_first[1])
    return {
        "events": expected,
        "events_at_first_poll": c_first,
        "seconds_first_to_last": seconds,
        "events_per_s": rate,
        "first_event_after_start_s": t_first - worker.started_at,
        "worker_cpu_cores_used": cpu,
        "machine_cpu_busy_fraction": machine,
        "outcomes": outcomes,
        "poll_interval_s": poll_s,
        "scrape_ms_median_during": sorted(scrape_times)[len(scrape_times) // 2] * 1000,
        "timeline": timeline,
        "t_first_monotonic": t_first,
    }


async def run_throughput(args: argparse.Namespace) -> dict[str, Any]:
    ids = Run.new(args)
    bootstrap, partitions, run_id = ids.bootstrap, ids.partitions, ids.run_id
    prefix, app_id = ids.prefix, ids.app_id
    log_path = RESULTS_DIR / f"worker-{run_id}.log"

    results: dict[str, Any] = {
        "run_id": run_id,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bootstrap": bootstrap,
        "topic_prefix": prefix,
        "events": args.events,
        "locations": args.locations,
        "partitions": partitions,
        "machine": machine_info(),
        "versions": package_versions(),
        "code": code_version(),
        "worker_log": str(log_path.relative_to(REPO)),
    }

    say(f"run {run_id}: broker {bootstrap}, prefix {prefix!r}, {partitions} partitions")
    await check_broker(bootstrap)
    worker: Worker | None = None
    profiler: subprocess.Popen[bytes] | None = None
    try:
        data = make_dataset(args.events, args.locations, args.capped, args.seed)
        say(
            f"1/5 publishing {len(data.locations)} locations and {len(data.reports):,} occupancy "
            f"reports ({len(data.reports) // len(data.locations)} days; "
            f"{data.over_cap_reports} over the cap)"
        )
        await create_topics(bootstrap, prefix, partitions)
        produce_s = await produce_backlog(bootstrap, prefix, data)
        results["produce"] = {
            "seconds": produce_s,
            "events_per_s": len(data.reports) / produce_s if produce_s else None,
        }
        say(f"  published in {produce_s:.1f} s ({len(data.reports) / produce_s:,.0f}/s)")

        say("2/5 baseline: plain aiokafka consumer, read + json.loads")
        results["baseline"] = await baseline_consume(
            bootstrap, f"{prefix}occupancy", partitions, len(data.reports)
        )
        say(f"  baseline {results['baseline']['events_per_s']:,.0f} events/s")

        if not args.no_ceiling:
            results["faust_ceiling"] = {}
            for mode in ("read", "batch", "io"):
                say(f"2b/5 Faust ceiling ({mode}): a minimal Faust agent over the same topic")
                await create_topic(bootstrap, f"{prefix}ceiling-{mode}-sink", partitions)
                ceiling = await asyncio.to_thread(
                    run_ceiling, bootstrap, prefix, partitions, len(data.reports), mode
                )
                results["faust_ceiling"][mode] = ceiling
                say(f"  Faust ceiling ({mode}): {ceiling['events_per_s']:,.0f} events/s")

        say(f"3/5 starting the worker ({' '.join(worker_command())}), web port pending")
        worker = Worker(bootstrap, prefix, partitions, log_path, args.worker_log_level)
        say(f"  worker pid {worker.pid}, web port {worker.port}, log {log_path}")
        if args.profile:
            prof_path = RESULTS_DIR / f"profile-{run_id}.txt"
            profiler = start_profiler(worker.pid, prof_path, args.profile_rate)
        ready_s = await wait_healthy(worker, timeout=120)
        say(f"  worker healthy after {ready_s:.1f} s; measuring throughput")
        results["worker_ready_s"] = ready_s
        results["throughput"] = await measure_throughput(worker, len(data.reports), args.poll)
        tp = results["throughput"]
        say(
            f"  worker: {tp['events']:,} events in {tp['seconds_first_to_last']:.2f} s = "
            f"{tp['events_per_s']:,.0f} events/s"
        )
        # Let the province/national agents finish their share of the backlog before timing alerts.
        say("  waiting for the aggregate agents to drain the internal topics")
        drain_start = time.monotonic()
        drain_timeout = max(180.0, args.events / 200)
        lag_topics = worker_source_topics(prefix)
        results["drain_topics"] = lag_topics
        lag, drained_at = await wait_drained(bootstrap, app_id, lag_topics, drain_timeout, 120.0)
        whole = drained_at - tp["t_first_monotonic"]
        results["drain"] = {
            "seconds_after_reports_done": drained_at - drain_start,
            "seconds_first_event_to_drained": whole,
            "pipeline_events_per_s": len(data.reports) / whole if whole > 0 else None,
            "remaining_lag": lag,
            "note": "committed offsets; Faust commits every ~2.8 s, so this is an upper bound",
        }
        if lag != 0:
            say(f"  the internal topics did not drain within {drain_timeout:.0f} s (lag {lag:,})")
        else:
            say(
                f"  all agents drained {whole:.1f} s after the first event "
                f"(~{results['drain']['pipeline_events_per_s']:,.0f} reports/s end to end)"
            )
        if profiler is not None:
            stop_profiler(profiler)
            profiler = None
            results["profile"] = {
                "file": str(prof_path.relative_to(REPO)),
                "covers": "worker start, backlog, and draining the internal topics",
                **summarise_profile(prof_path),
            }
        # Scrape cost on a caught-up worker (the poller above competes with the worker for CPU).
        scrape_ms = []
        for _ in range(5):
            _, _, took = await scrape(worker)
            scrape_ms.append(took * 1000)
        results["metrics_scrape_ms_idle"] = sorted(scrape_ms)[2]

        say(
            f"4/5 latency: {args.rate:.0f} reports/s for {args.latency_seconds:.0f} s "
            f"({args.latency_workload} workload; {len(data.capped)} capped locations flip "
            "cap_exceeded with each of their reports)"
        )
        results["latency"] = await measure_latency(
            bootstrap,
            prefix,
            partitions,
            data,
            args.rate,
            args.latency_seconds,
            args.latency_workload,
            args.seed,
        )
        lat = results["latency"]
        say(
            f"  {lat['alerts_matched']}/{lat['measured_reports']} cap_exceeded alerts over "
            f"{lat['report_days']} report days; p50 {lat['p50_ms']:.0f} ms, "
            f"p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms; "
            f"{lat['other_alert_messages']} other alert messages"
        )
        if lat["alerts_matched"] == 0:
            raise RunFailed(f"no alert came back from the worker:\n{worker.log_tail()}")

        say("5/5 memory")
        status = proc_status(worker.pid)
        if "VmHWM" not in status:
            raise RunFailed("could not read the worker's /proc status")
        results["memory"] = {
            "peak_rss_bytes": status["VmHWM"],
            "peak_rss_mb": status["VmHWM"] / 1e6,
            "peak_rss_mib": status["VmHWM"] / 2**20,
            "rss_at_end_mb": status.get("VmRSS", 0) / 1e6,
        }
        _, outcomes, _ = await scrape(worker)
        results["final_outcomes"] = outcomes
    finally:
        stop_profiler(profiler)
        if worker is not None:
            say("stopping the worker")
            code = await asyncio.to_thread(worker.shut_down)
            results["worker_exit_code"] = code
        if args.keep:
            say(f"--keep: leaving topics with prefix {prefix!r} and {app_id!r}-*")
        else:
            with contextlib.suppress(Exception):
                deleted = await delete_topics(bootstrap, prefix, app_id)
                say(f"deleted {len(deleted)} topics")
                results["deleted_topics"] = deleted

    results["goals"] = {
        "throughput": results["throughput"]["events_per_s"] >= GOAL_EVENTS_PER_S,
        "latency_p99": results["latency"]["p99_ms"] <= GOAL_P99_MS
        and results["latency"]["alerts_missing"] == 0,
        "peak_rss": results["memory"]["peak_rss_mb"] <= GOAL_RSS_MB,
    }
    results["goal_values"] = {
        "events_per_s_min": GOAL_EVENTS_PER_S,
        "p99_ms_max": GOAL_P99_MS,
        "peak_rss_mb_max": GOAL_RSS_MB,
    }
    results["ratio_worker_to_baseline"] = (
        results["throughput"]["events_per_s"] / results["baseline"]["events_per_s"]
    )
    return results
