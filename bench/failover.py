"""Failover (issue 11): from ``kill -9`` of one of two workers to the next alert change made for
one of its partitions.

Two workers share a group on 2 input partitions, with one location on each partition. After the
kill, a report every ``--failover-interval`` seconds for each location flips that location's
``cap_exceeded`` (built-in defaults: fires on the first day over the cap, resolves on the first
day under it), so every report makes an alert change as soon as a worker handles it. For each
partition the time from the kill to its first alert change is read off the alerts topic; the
failover time of the kill is the longest of them (the survivor's own partition answers at once,
the dead worker's once the group has given it to the survivor). The victim is started again and
the group settles before the next kill; victims alternate. Goal: median at most 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.harness import RESULTS_DIR, Run, RunFailed, say
from bench.topics import check_broker, create_topics, encode_json, produce_locations
from bench.worker import Worker, wait_healthy
from streams.state.progress import partition_of

GOAL_FAILOVER_S = 15.0
PARTITIONS = 2


def _locations() -> list[dict[str, Any]]:
    """One capped location on each input partition."""
    found: dict[int, dict[str, Any]] = {}
    n = 0
    while len(found) < PARTITIONS:
        location_id = f"failover-{n:03d}"
        partition = partition_of(location_id, PARTITIONS)
        found.setdefault(
            partition,
            {
                "location_id": location_id,
                "name": f"Failover {n}",
                "kind": "registration_centre",
                "municipality_code": "GM1950",
                "province": "GR",
                "capacity": 100,
                "cap": 100,
            },
        )
        n += 1
    return [found[p] for p in sorted(found)]


class Flipper:
    """Reports that flip each location's cap_exceeded, one new day at a time."""

    def __init__(self, bootstrap: str, prefix: str, locations: list[dict[str, Any]]) -> None:
        self.bootstrap, self.prefix, self.locations = bootstrap, prefix, locations
        self.day = 0
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")

    async def send_round(self) -> None:
        self.day += 1
        date = time.strftime("%Y-%m-%d", time.gmtime(86400 * (19000 + self.day)))
        for loc in self.locations:
            occupancy = 130 if self.day % 2 else 70
            body = {
                "event_id": f"{loc['location_id']}-{self.day}",
                "location_id": loc["location_id"],
                "date": date,
                "occupancy": occupancy,
            }
            await self.producer.send_and_wait(
                f"{self.prefix}occupancy", key=loc["location_id"].encode(), value=encode_json(body)
            )


async def _first_changes(
    consumer: AIOKafkaConsumer, since: float, timeout: float
) -> dict[int, float]:
    """Seconds from ``since`` to the first alert change of each partition's location."""
    first: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(first) < PARTITIONS and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=100)
        for messages in batches.values():
            for message in messages:
                key = (message.key or b"").decode()
                for p in range(PARTITIONS):
                    if "failover-" in key and p not in first and _partition_in_key(key, p):
                        first[p] = time.monotonic() - since
    return first


def _partition_in_key(alert_key: str, partition: int) -> bool:
    """Alert ids read ``<rule>-<location_id>-<hash>``: whether its location is on ``partition``."""
    parts = alert_key.split("-")
    location_id = "-".join(parts[1:-1])
    return partition_of(location_id, PARTITIONS) == partition


async def run_failover(args: argparse.Namespace) -> dict[str, Any]:
    run = Run.new(args)
    bootstrap, run_id = run.bootstrap, run.run_id
    await check_broker(bootstrap)
    prefix = f"bench-failover-{run_id}."
    await create_topics(bootstrap, prefix, PARTITIONS)
    locations = _locations()
    await produce_locations(bootstrap, prefix, locations)
    workdir = Path(tempfile.mkdtemp(prefix="opvang-failover-"))
    names = ["worker-a", "worker-b"]

    def start(name: str) -> Worker:
        return Worker(
            bootstrap,
            prefix,
            PARTITIONS,
            workdir / f"{name}.log",
            args.worker_log_level,
            data_dir=workdir / name,
            extra_env={"OPVANG_WORKER_ID": name},
        )

    workers = {name: start(name) for name in names}
    flipper = Flipper(bootstrap, prefix, locations)
    await flipper.producer.start()
    consumer = AIOKafkaConsumer(f"{prefix}alerts", bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    times: list[float] = []
    try:
        for worker in workers.values():
            await wait_healthy(worker, 120)
        for kill in range(args.failover_kills):
            await _settle(flipper, consumer, args.failover_interval)
            await consumer.getmany(timeout_ms=500)  # nothing of the settling counts
            victim = names[kill % 2]
            say(f"kill {kill + 1}/{args.failover_kills}: kill -9 {victim}")
            workers[victim].kill()
            since = time.monotonic()
            sender = asyncio.ensure_future(_keep_sending(flipper, args.failover_interval))
            try:
                first = await _first_changes(consumer, since, timeout=120)
            finally:
                sender.cancel()
            if len(first) < PARTITIONS:
                raise RunFailed(f"no alert change for partitions {set(range(2)) - set(first)}")
            took = max(first.values())
            times.append(took)
            say(f"  failover {took:.1f} s (per partition: {first})")
            workers[victim] = start(victim)
            await wait_healthy(workers[victim], 120)
    finally:
        await consumer.stop()
        await flipper.producer.stop()
        for worker in workers.values():
            worker.shut_down()
    median = statistics.median(times)
    return {
        "run_id": run_id,
        "kills": len(times),
        "failover_s": [round(t, 2) for t in times],
        "median_s": round(median, 2),
        "goal_s": GOAL_FAILOVER_S,
        "met": median <= GOAL_FAILOVER_S,
        "session_timeout_s": 10.0,
        "results_dir": str(RESULTS_DIR),
    }


async def _keep_sending(flipper: Flipper, interval: float) -> None:
    while True:
        await flipper.send_round()
        await asyncio.sleep(interval)


async def _settle(flipper: Flipper, consumer: AIOKafkaConsumer, interval: float) -> None:
    """Until both partitions make alert changes within a second of a report: the group is whole."""
    for _ in range(120):
        since = time.monotonic()
        await flipper.send_round()
        first = await _first_changes(consumer, since, timeout=max(2.0, interval * 4))
        if len(first) == PARTITIONS and max(first.values()) < 1.5:
            return
    raise RunFailed("the group did not settle within two minutes")


def render_failover_table(results: dict[str, Any]) -> str:
    rows = ", ".join(f"{t:.1f}" for t in results["failover_s"])
    verdict = "met" if results["met"] else "not met"
    return (
        "| failover after kill -9 of one of two workers | figure | goal |\n"
        "| --- | --- | --- |\n"
        f"| median of {results['kills']} kills | {results['median_s']:.1f} s "
        f"| {results['goal_s']:.0f} s: {verdict} |\n"
        f"| each kill | {rows} s | |\n"
    )
