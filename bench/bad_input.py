"""Bad input through the worker: how fast it dead-letters records it cannot accept, against how
fast it applies valid reports, both measured in the same run on the same machine.

Two fresh workers on two topic prefixes: one reads a backlog of valid occupancy reports, the
other a backlog of as many bad records (not JSON, JSON nested far too deep, numbers of thousands
of digits, lone surrogates, missing fields, impossible counts, dates out of range, unknown
locations), spread over the occupancy and intake topics. The goal (issue "Trust under faults"):
bad records go at least at the rate of valid ones, so a flood of garbage never slows the picture
down more than the same number of real reports would.

    python -m bench.run --bad [--bad-events 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.data import make_dataset
from bench.harness import RESULTS_DIR, Run, RunFailed, say
from bench.throughput import measure_throughput
from bench.topics import create_topics, delete_topics, produce_backlog, produce_locations
from bench.worker import Worker, wait_healthy

__all__ = ["bad_records", "render_bad_table", "run_bad"]


def bad_records(
    locations: list[dict[str, Any]], n: int, seed: int
) -> list[tuple[str, bytes, bytes]]:
    """``n`` (topic kind, key, value) records that must all end in the dead-letter topic."""
    rng = random.Random(seed)
    known = [loc["location_id"] for loc in locations]

    def report(**fields: Any) -> bytes:
        body = {
            "event_id": f"bad-{rng.randrange(10**9)}",
            "location_id": rng.choice(known),
            "date": "2024-03-01",
            "occupancy": 10,
            **fields,
        }
        return json.dumps(body).encode()

    def negative() -> bytes:
        # A count below zero in the field each topic requires or reads.
        return report(occupancy=-5, arrivals=-5)

    makers = [
        lambda: b"{not json",
        lambda: b"\xff\xfe\x00garbage",
        lambda: b"[" * 10_000 + b"]" * 10_000,
        lambda: b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        lambda: _huge_int_report(rng, known),
        lambda: report(event_id="\ud800"),
        negative,
        lambda: report(date="9999-12-31"),
        lambda: report(date="0001-01-01"),
        lambda: report(location_id=f"nergens-{rng.randrange(10**6)}"),
        lambda: json.dumps({"location_id": rng.choice(known)}).encode(),
        lambda: b"[]",
        lambda: b"null",
    ]
    out = []
    for i in range(n):
        kind = "occupancy" if i % 2 == 0 else "intake"
        key = rng.choice(known).encode()
        out.append((kind, key, makers[i % len(makers)]()))
    return out


def _huge_int_report(rng: random.Random, known: list[str]) -> bytes:
    """A report whose count has 4,500 digits: more than Python turns into an int by default."""
    head = {"event_id": f"big-{rng.randrange(10**9)}", "location_id": rng.choice(known)}
    text = json.dumps({**head, "date": "2024-03-01"})[:-1] + ', "occupancy": ' + "9" * 4_500 + "}"
    return text.encode()


async def produce_raw(bootstrap: str, prefix: str, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_request_size=2**21
    )
    await producer.start()
    try:
        futures = [
            await producer.send(f"{prefix}{kind}", key=key, value=value)
            for kind, key, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _through_worker(
    args: argparse.Namespace, label: str, fill: Any, expected: int
) -> dict[str, Any]:
    """A fresh prefix and worker; ``fill(bootstrap, prefix)`` publishes the backlog first."""
    ids = Run.new(args)
    log_path = RESULTS_DIR / f"worker-bad-{label}-{ids.run_id}.log"
    await create_topics(ids.bootstrap, ids.prefix, ids.partitions)
    worker: Worker | None = None
    try:
        await fill(ids.bootstrap, ids.prefix)
        say(f"  {label}: {expected:,} records published; starting a worker")
        worker = Worker(ids.bootstrap, ids.prefix, ids.partitions, log_path, "warning")
        await wait_healthy(worker, timeout=120)
        result = await measure_throughput(worker, expected, args.poll)
        say(f"  {label}: {result['events_per_s']:,.0f} records/s")
        return {"run_id": ids.run_id, **result}
    finally:
        if worker is not None:
            await asyncio.to_thread(worker.shut_down)
        if not args.keep:
            with contextlib.suppress(Exception):
                await delete_topics(ids.bootstrap, ids.prefix, ids.app_id)


async def run_bad(args: argparse.Namespace) -> dict[str, Any]:
    n = args.bad_events
    data = make_dataset(n, args.locations, args.capped, args.seed)
    bad = bad_records(data.locations, n, args.seed)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    say(f"1/2 valid: {n:,} occupancy reports for {len(data.locations)} locations")

    async def fill_valid(bootstrap: str, prefix: str) -> None:
        await produce_backlog(bootstrap, prefix, data)

    valid = await _through_worker(args, "valid", fill_valid, n)
    say(f"2/2 bad: {n:,} records that must all be dead-lettered (13 kinds)")

    async def fill_bad(bootstrap: str, prefix: str) -> None:
        await produce_locations(bootstrap, prefix, data.locations)
        await produce_raw(bootstrap, prefix, bad)

    rejected = await _through_worker(args, "bad", fill_bad, n)
    outcomes = rejected.get("outcomes", {})
    dead = sum(v for k, v in outcomes.items() if k.startswith("dead_letter:"))
    if dead < n:
        raise RunFailed(f"only {dead:,} of {n:,} bad records were dead-lettered: {outcomes}")
    ratio = rejected["events_per_s"] / valid["events_per_s"]
    return {
        "run_id": rejected["run_id"],
        "started_at": started,
        "records": n,
        "valid": valid,
        "bad": rejected,
        "bad_outcomes": outcomes,
        "ratio_bad_to_valid": ratio,
        "goals": {"bad_at_least_valid_rate": ratio >= 1.0},
    }


def render_bad_table(results: dict[str, Any]) -> str:
    valid, bad = results["valid"], results["bad"]
    lines = [
        "",
        f"Bad input ({results['records']:,} records each, same run)",
        "| measure | figure |",
        "| --- | --- |",
        f"| valid reports through the worker | {valid['events_per_s']:,.0f}/s |",
        f"| bad records dead-lettered | {bad['events_per_s']:,.0f}/s |",
        f"| ratio bad / valid (goal >= 1) | {results['ratio_bad_to_valid']:.2f} |",
    ]
    for outcome, count in sorted(results["bad_outcomes"].items()):
        if count:
            lines.append(f"| {outcome} | {count:,} |")
    return "\n".join(lines)
