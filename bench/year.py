"""The year run (issue 3): a year of reports through the worker, then a restart, timed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import random
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.checksum import checksum, core_changes, read_alert_changes
from bench.data import CAP, make_dataset
from bench.harness import (
    GOAL_RESTART_S,
    GOAL_YEAR_S,
    REPO,
    RESULTS_DIR,
    Run,
    RunFailed,
    code_version,
    http_get,
    listening_pid,
    machine_info,
    package_versions,
    proc_cpu_seconds,
    proc_status,
    say,
)
from bench.profiling import start_profiler, stop_profiler, summarise_profile
from bench.throughput import measure_throughput, run_ceiling
from bench.topics import (
    check_broker,
    create_topics,
    delete_topics,
    list_topics,
    produce_locations,
    produce_messages,
    topic_stats,
    wait_drained,
    worker_source_topics,
)
from bench.worker import (
    PROGRESS,
    Worker,
    batch_counts,
    events_total,
    metrics_text,
    recovered_messages,
    scrape,
    wait_healthy,
)
from streams.settings import load_alerting_config


class YearData:
    """Issue 3's year: every location sends a morning count and an intake report every day.

    The same 400 synthetic locations as the default run, with one capped registration centre
    (Ter Apel, about 200 arrivals a day, busier on Mondays and Tuesdays). Reports of a day go out
    in a shuffled order: first all morning counts of the day, then all intake reports of it."""

    def __init__(self, n_locations: int, seed: int):
        self.locations = make_dataset(0, n_locations, 1, seed).locations
        self.rng = random.Random(seed + 2)
        self.occupancy = {
            loc["location_id"]: (
                CAP - 100 if loc.get("cap") else int(loc["capacity"] * self.rng.uniform(0.6, 0.95))
            )
            for loc in self.locations
        }

    def day(self, prefix: str, date: dt.date) -> list[tuple[str, str, dict[str, Any]]]:
        rng = self.rng
        iso = date.isoformat()
        busy = 1.3 if date.weekday() in (0, 1) else 1.0
        morning: list[tuple[str, str, dict[str, Any]]] = []
        intake: list[tuple[str, str, dict[str, Any]]] = []
        for loc in self.locations:
            lid = loc["location_id"]
            capacity = int(loc["capacity"])
            over = False
            if loc.get("cap"):
                occ = min(max(self.occupancy[lid] + rng.randint(-60, 60), CAP - 300), CAP + 300)
                over = occ > CAP
            else:
                step = max(1, capacity // 30)
                occ = self.occupancy[lid] + rng.randint(-step, step)
                occ = min(max(occ, 0), int(capacity * 1.1))
            self.occupancy[lid] = occ
            morning.append(
                (
                    f"{prefix}occupancy",
                    lid,
                    {
                        "event_id": f"{lid}:{iso}:occ",
                        "location_id": lid,
                        "date": iso,
                        "occupancy": occ,
                        "without_bed": max(0, occ - capacity),
                        "slept_outside": rng.randint(0, 40) if over else 0,
                        "reported_at": f"{iso}T0{rng.randint(6, 9)}:{rng.randint(0, 59):02d}:00"
                        "+01:00",
                    },
                )
            )
            if loc["kind"] == "registration_centre":
                arrivals = int(rng.randint(120, 280) * busy)
                transfers_out = rng.randint(120, 280)
                departures = rng.randint(0, 10)
            else:
                mean = max(1, capacity // 40)
                arrivals = rng.randint(0, 2 * mean)
                transfers_out = rng.randint(0, max(1, mean // 5))
                departures = rng.randint(0, 2 * mean)
            intake.append(
                (
                    f"{prefix}intake",
                    lid,
                    {
                        "event_id": f"{lid}:{iso}:intake",
                        "location_id": lid,
                        "date": iso,
                        "arrivals": arrivals,
                        "transfers_out": transfers_out,
                        "departures": departures,
                        "unplaced": rng.randint(0, 30) if over else 0,
                    },
                )
            )
        rng.shuffle(morning)
        rng.shuffle(intake)
        return morning + intake


async def measure_restart(worker: Worker, expected: int, timeout: float) -> dict[str, Any]:
    """From process start: first /health 200, first counted report, all ``expected`` counted."""
    marks: dict[str, float] = {}
    last_print = 0.0
    last_total = 0
    while True:
        now = time.monotonic()
        if now - worker.started_at > timeout:
            raise RunFailed(
                f"the restarted worker did not process the new day within {timeout:.0f} s "
                f"(marks {marks}):\n{worker.log_tail()}"
            )
        if not worker.alive():
            raise RunFailed(
                f"the restarted worker exited with code {worker.proc.returncode}:\n"
                f"{worker.log_tail()}"
            )
        if "health_200" not in marks:
            with contextlib.suppress(OSError, urllib.error.URLError):
                status, _ = await asyncio.to_thread(http_get, worker.base_url + "/health", 2.0)
                if status == 200:
                    marks["health_200"] = time.monotonic() - worker.started_at
                    say(f"  /health 200 after {marks['health_200']:.2f} s")
        total = 0
        # Reports wait for the location registry, which /health reports: no report is counted
        # before /health says 200, and a scrape during recovery would only slow recovery down.
        if "health_200" in marks:
            with contextlib.suppress(OSError, urllib.error.URLError, RunFailed):
                total, outcomes, _ = await scrape(worker, PROGRESS)
                # Reports of the year read again (after a kill, whatever the stopped worker had
                # not committed) are recognised and skipped: not the new day.
                total -= outcomes.get("reread", 0)
        stamp = time.monotonic() - worker.started_at
        last_total = max(last_total, total)
        if total > 0 and "first_new_report" not in marks:
            marks["first_new_report"] = stamp
            say(f"  first new report processed after {stamp:.2f} s")
        if total >= expected:
            marks["whole_new_day"] = stamp
            say(f"  all {expected:,} new reports processed after {stamp:.2f} s")
            # ``total`` may exceed ``expected``: reports of the year whose offsets the stopped
            # worker had not committed yet are read again (and counted as duplicates).
            return {
                "seconds_from_process_start": marks,
                "events_counted": total,
                "new_reports": expected,
            }
        if now - last_print >= 3.0:
            last_print = now
            state = "" if "health_200" in marks else " (recovering; /health not 200 yet)"
            say(
                f"  {stamp:.1f} s after restart: {last_total:,}/{expected:,} new reports "
                f"counted{state}"
            )
        await asyncio.sleep(0.1)


async def run_year(args: argparse.Namespace) -> dict[str, Any]:
    ids = Run.new(args)
    bootstrap, partitions, run_id = ids.bootstrap, ids.partitions, ids.run_id
    prefix, app_id = ids.prefix, ids.app_id
    log_path = RESULTS_DIR / f"worker-year-{run_id}.log"
    days = args.year_days
    n_loc = args.locations
    total = 2 * n_loc * days
    start_date = dt.date(2025, 1, 1)
    results: dict[str, Any] = {
        "run_id": run_id,
        "mode": "year",
        "app_id": app_id,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bootstrap": bootstrap,
        "topic_prefix": prefix,
        "locations": n_loc,
        "days": days,
        "events": total,
        "first_date": start_date.isoformat(),
        "partitions": partitions,
        "machine": machine_info(),
        "versions": package_versions(),
        "code": code_version(),
        "worker_log": str(log_path.relative_to(REPO)),
    }
    say(f"year run {run_id}: broker {bootstrap}, prefix {prefix!r}, {partitions} partitions")
    await check_broker(bootstrap)
    year = YearData(n_loc, args.seed)
    data_dir = Path(tempfile.mkdtemp(prefix="opvang-bench-year-"))
    # After a kill -9 a static member is back at once; a new member would wait out the killed
    # one's session first (docs/operations.md).
    static = {"OPVANG_WORKER_ID": f"bench-{run_id}"} if args.restart_kill else None

    def start_worker() -> Worker:
        """The year's worker, and the same again for the restart (same prefix and data dir)."""
        return Worker(
            bootstrap, prefix, partitions, log_path, args.worker_log_level, data_dir, static
        )

    lag_topics = worker_source_topics(prefix)
    results["drain_topics"] = lag_topics
    worker: Worker | None = None
    profiler: subprocess.Popen[bytes] | None = None
    profiles: dict[str, Any] = {}
    try:
        say(
            f"1/4 publishing {n_loc} locations and {total:,} reports ({days} days x {n_loc} "
            "locations x occupancy + intake), before the worker starts"
        )
        await create_topics(bootstrap, prefix, partitions)
        await produce_locations(bootstrap, prefix, year.locations)
        backlog = (
            m for d in range(days) for m in year.day(prefix, start_date + dt.timedelta(days=d))
        )
        produce_s = await produce_messages(bootstrap, backlog, total)
        results["produce"] = {"seconds": produce_s, "events_per_s": total / produce_s}
        say(f"  published in {produce_s:.1f} s ({total / produce_s:,.0f}/s)")

        say("2/4 starting the worker on the backlog")
        broker_pid = listening_pid(int(bootstrap.rsplit(":", 1)[1]))
        broker_cpu_start = proc_cpu_seconds(broker_pid) if broker_pid else None
        worker = start_worker()
        say(f"  worker pid {worker.pid}, web port {worker.port}, log {log_path}")
        prof_path = RESULTS_DIR / f"profile-year-{run_id}.txt"
        if args.profile:
            profiler = start_profiler(worker.pid, prof_path, args.profile_rate)
        ready_s = await wait_healthy(worker, timeout=120)
        say(f"  worker healthy after {ready_s:.1f} s")
        tp = await measure_throughput(worker, total, args.poll)
        counted_at = tp["t_first_monotonic"] + tp["seconds_first_to_last"]
        say(
            f"  report agent counted all {total:,} reports "
            f"{counted_at - worker.started_at:.1f} s after start ({tp['events_per_s']:,.0f}/s)"
        )
        say("  waiting until every agent has committed everything (report, province, nation)")
        lag, drained_at = await wait_drained(
            bootstrap, app_id, lag_topics, timeout=max(900.0, total / 20), stall=180.0
        )
        if lag != 0:
            raise RunFailed(
                f"the worker's agents did not drain (lag {lag:,}):\n{worker.log_tail()}"
            )
        worker_cpu = proc_cpu_seconds(worker.pid)
        broker_cpu_end = proc_cpu_seconds(broker_pid) if broker_pid else None
        since_start = drained_at - worker.started_at
        since_first = drained_at - tp["t_first_monotonic"]
        say(f"  year drained {since_start:.1f} s after the worker started")
        if profiler is not None:
            stop_profiler(profiler)
            profiler = None
            profiles["year"] = {
                "file": str(prof_path.relative_to(REPO)),
                "covers": "worker start, the year's backlog, and draining the internal topics",
                **summarise_profile(prof_path),
            }
        status = proc_status(worker.pid)
        text = await metrics_text(worker)
        _, outcomes = events_total(text)
        batching = batch_counts(text)
        # What the worker decided, read before the restart adds a day (bench.checksum).
        results["alert_checksum"] = {
            "worker": checksum(await read_alert_changes(bootstrap, f"{prefix}alerts")).to_dict()
        }
        results["year"] = {
            "seconds_start_to_drained": since_start,
            "seconds_first_event_to_drained": since_first,
            "events_per_s_start_to_drained": total / since_start,
            "events_per_s_first_event_to_drained": total / since_first,
            "worker_ready_s": ready_s,
            "report_agent": {
                k: v for k, v in tp.items() if k not in ("timeline", "t_first_monotonic")
            },
            "report_agent_done_after_start_s": counted_at - worker.started_at,
            "timeline": tp["timeline"],
            "peak_rss_mb": status.get("VmHWM", 0) / 1e6,
            # CPU seconds, start included: less dependent on other work on the machine than the
            # wall time (the broker's only when it runs on this machine).
            "worker_cpu_s": worker_cpu,
            "broker_cpu_s": (
                broker_cpu_end - broker_cpu_start
                if broker_cpu_end is not None and broker_cpu_start is not None
                else None
            ),
            "rss_at_end_mb": status.get("VmRSS", 0) / 1e6,
            "outcomes": outcomes,
            **batching,
            "note": "drained = consumer-group lag 0 on every source topic of the worker; Faust "
            "commits every ~2.8 s, so up to ~3.5 s late",
        }
        signal_name = "SIGKILL" if args.restart_kill else "SIGTERM"
        say(f"3/4 restart: {signal_name}, then the same worker again (same prefix and data dir)")
        results["restart_signal"] = signal_name
        t_stop = time.monotonic()
        if args.restart_kill:
            worker.proc.kill()
        results["first_exit_code"] = await asyncio.to_thread(worker.shut_down)
        results["stop_seconds"] = time.monotonic() - t_stop
        worker = None
        say(f"  stopped in {results['stop_seconds']:.1f} s; starting again")
        worker = start_worker()
        restart_prof = RESULTS_DIR / f"profile-restart-{run_id}.txt"
        if args.profile:
            profiler = start_profiler(worker.pid, restart_prof, args.profile_rate)
        next_day = start_date + dt.timedelta(days=days)
        extra = year.day(prefix, next_day)
        producing = asyncio.create_task(produce_messages(bootstrap, iter(extra), len(extra)))
        say(f"  worker pid {worker.pid}; producing {len(extra)} reports of {next_day} now")
        restart = await measure_restart(worker, len(extra), timeout=max(600.0, total / 100))
        await producing
        if profiler is not None:
            stop_profiler(profiler)
            profiler = None
            profiles["restart"] = {
                "file": str(restart_prof.relative_to(REPO)),
                "covers": "the restarted worker from start to the new day processed",
                **summarise_profile(restart_prof),
            }
        status = proc_status(worker.pid)
        restart["peak_rss_mb"] = status.get("VmHWM", 0) / 1e6
        with contextlib.suppress(OSError, urllib.error.URLError, RunFailed):
            restart["recovered_messages"] = await recovered_messages(worker)
            say(
                "  changelog messages read back by the restart: "
                + ", ".join(f"{t} {n:,}" for t, n in restart["recovered_messages"].items())
            )
        restart["new_day"] = next_day.isoformat()
        results["restart"] = restart
        say("4/4 letting the restarted worker drain the new day")
        lag, _ = await wait_drained(bootstrap, app_id, lag_topics, timeout=300.0, stall=120.0)
        results["restart"]["drained_after"] = lag == 0
        names = sorted(
            t
            for t in await list_topics(bootstrap)
            if t.startswith(app_id + "-") and t.endswith("-changelog")
        )
        # Read only now: the restart above comes right after the year, before Kafka's cleaner has
        # had more time than the run itself gave it.
        say("  reading the changelog topics' sizes")
        try:
            # Statistics only: they must not hold up the run (one once waited 16 minutes
            # here on the broker).
            results["topics_after_year"] = await asyncio.wait_for(
                topic_stats(bootstrap, [*names, *lag_topics]), timeout=120
            )
        except TimeoutError:
            say("  topic statistics took over 120 s; left out of the results")
            results["topics_after_year"] = {}

        if profiles:
            results["profile"] = profiles
        if not args.no_ceiling:
            # The floor under goal 4: a Faust agent that only decodes the same messages, read in
            # batches as the worker reads them, with the worker stopped.
            say("  stopping the worker for the Faust ceiling run")
            results["worker_exit_code"] = await asyncio.to_thread(worker.shut_down)
            worker = None
            say("  Faust ceiling (batch): a minimal Faust agent decoding the same reports")
            ceiling = await asyncio.to_thread(
                run_ceiling, bootstrap, prefix, partitions, total, "batch", ("occupancy", "intake")
            )
            results["faust_ceiling"] = {"batch": ceiling}
            say(
                f"  Faust ceiling (batch): {ceiling['events_per_s']:,.0f} events/s, "
                f"{ceiling['wall_s_incl_startup']:.1f} s with its start"
            )
    finally:
        stop_profiler(profiler)
        if worker is not None:
            say("stopping the worker")
            results["worker_exit_code"] = await asyncio.to_thread(worker.shut_down)
        shutil.rmtree(data_dir, ignore_errors=True)
        if args.keep:
            say(f"--keep: leaving topics with prefix {prefix!r} and {app_id!r}-*")
        else:
            with contextlib.suppress(Exception):
                deleted = await delete_topics(bootstrap, prefix, app_id)
                say(f"deleted {len(deleted)} topics")
                results["deleted_topics"] = deleted

    say(
        "  the decision core's alert changes for the same reports (alerts.replay), for the checksum"
    )
    fresh = YearData(n_loc, args.seed)
    same_input = (
        m for d in range(days) for m in fresh.day(prefix, start_date + dt.timedelta(days=d))
    )
    core = checksum(core_changes(fresh.locations, same_input, load_alerting_config(None)))
    results["alert_checksum"]["core"] = core.to_dict()
    results["alert_checksum"]["same"] = results["alert_checksum"]["worker"]["sha256"] == core.sha256
    ceiling = results.get("faust_ceiling", {}).get("batch")
    if ceiling:
        results["year"]["times_faust_floor"] = (
            results["year"]["seconds_start_to_drained"] / ceiling["wall_s_incl_startup"]
        )
        if results["year"].get("worker_cpu_s") and ceiling.get("cpu_s_incl_startup"):
            results["year"]["cpu_times_faust_floor"] = (
                results["year"]["worker_cpu_s"] / ceiling["cpu_s_incl_startup"]
            )
    marks = results["restart"]["seconds_from_process_start"]
    results["goals"] = {
        "year_total": results["year"]["seconds_start_to_drained"] <= GOAL_YEAR_S,
        "back_to_processing": marks["first_new_report"] <= GOAL_RESTART_S,
    }
    results["goal_values"] = {"year_s_max": GOAL_YEAR_S, "restart_s_max": GOAL_RESTART_S}
    return results
