"""The latency phase of the default run: reports at a steady rate, alert latency from Kafka
timestamps."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.data import CAP, Dataset
from bench.harness import say
from bench.topics import encode_json


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_reports(
    data: Dataset, workload: str, seed: int
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """The reports of the latency phase, endless, as (location_id, value, measured).

    ``days`` (the default): every location reports every synthetic day, one day after the other,
    in a shuffled order within the day; each capped location alternates 37 above and 37 below its
    cap, so each of its reports flips ``cap_exceeded`` and is measured. The other locations keep
    their random walk. That is what a real morning looks like, only faster.

    ``single`` (the workload before 2026-11-27 evening, kept for comparison): only the capped
    locations report, each one day further than the last. Every report then moves the capped
    location's province and the nation a day ahead with 399 locations behind, so it measures a
    storm of closed days and ``report_missing`` alerts rather than event-to-alert latency.
    """
    rng = random.Random(seed + 1)
    capped = set(data.capped)
    firing = {lid: data.last_occupancy[lid] > CAP for lid in data.capped}

    def flip(lid: str, date: dt.date) -> dict[str, Any]:
        firing[lid] = not firing[lid]
        iso = date.isoformat()
        return {
            "event_id": f"{lid}:{iso}:latency",
            "location_id": lid,
            "date": iso,
            "occupancy": CAP + 37 if firing[lid] else CAP - 37,
            "without_bed": 0,
            "slept_outside": 0,
        }

    if workload == "single":
        next_date = {lid: data.last_date[lid] + dt.timedelta(days=1) for lid in data.capped}
        while True:
            for lid in data.capped:
                yield lid, flip(lid, next_date[lid]), True
                next_date[lid] += dt.timedelta(days=1)
        return

    ids = [loc["location_id"] for loc in data.locations]
    capacity = {loc["location_id"]: int(loc["capacity"]) for loc in data.locations}
    occupancy = dict(data.last_occupancy)
    date = max(data.last_date.values()) + dt.timedelta(days=1)
    while True:
        order = ids[:]
        rng.shuffle(order)
        iso = date.isoformat()
        for lid in order:
            if lid in capped:
                yield lid, flip(lid, date), True
                continue
            step = max(1, capacity[lid] // 30)
            occ = min(max(occupancy[lid] + rng.randint(-step, step), 0), int(capacity[lid] * 1.1))
            occupancy[lid] = occ
            value = {
                "event_id": f"{lid}:{iso}:latency",
                "location_id": lid,
                "date": iso,
                "occupancy": occ,
                "without_bed": max(0, occ - capacity[lid]),
                "slept_outside": 0,
            }
            yield lid, value, False
        date += dt.timedelta(days=1)


async def measure_latency(
    bootstrap: str,
    prefix: str,
    partitions: int,
    data: Dataset,
    rate: float,
    seconds: float,
    workload: str = "days",
    seed: int = 0,
) -> dict[str, Any]:
    """Send ``rate`` reports/s for ``seconds``; latency of the capped locations' cap_exceeded
    alerts: Kafka timestamp of the alert minus that of the report, matched on (location, date)."""
    alerts_topic = f"{prefix}alerts"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    received: dict[tuple[str, str], tuple[int, float, dict[str, Any]]] = {}
    other_rules: Counter[str] = Counter()

    async def collect() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for messages in batches.values():
                for message in messages:
                    alert = json.loads(message.value)
                    subject = alert.get("subject") or {}
                    key = (str(subject.get("id")), str(alert.get("event_date")))
                    if alert.get("rule") == "cap_exceeded" and key not in received:
                        received[key] = (message.timestamp, now, alert)
                    else:
                        other_rules[f"{alert.get('rule')}:{alert.get('status')}"] += 1

    total = int(rate * seconds)
    sent: dict[tuple[str, str], int] = {}
    try:
        tps = [TopicPartition(alerts_topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now, before anything is produced
            await consumer.position(tp)
        collector = asyncio.create_task(collect())

        futures = []
        dates: set[str] = set()
        start = time.monotonic()
        last_print = start
        reports = latency_reports(data, workload, seed)
        for i in range(total):
            target = start + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            lid, value, measured = next(reports)
            dates.add(value["date"])
            ts = int(time.time() * 1000)
            fut = await producer.send(
                f"{prefix}occupancy", key=lid.encode(), value=encode_json(value), timestamp_ms=ts
            )
            if measured:
                futures.append((lid, value["date"], ts, fut))
            if time.monotonic() - last_print >= 2.0:
                last_print = time.monotonic()
                say(
                    f"  sent {i + 1:,}/{total:,} reports ({len(dates)} report days), "
                    f"{len(received):,}/{len(futures):,} cap_exceeded alerts back"
                )
        send_seconds = time.monotonic() - start
        for lid, date, ts, fut in futures:
            meta = await fut
            stamp = meta.timestamp if meta.timestamp not in (None, -1) else ts
            sent[(lid, date)] = stamp
        deadline = time.monotonic() + 60  # a slow worker still gets to answer
        while time.monotonic() < deadline and not all(k in received for k in sent):
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the other alerts of the last day, for the count
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
    finally:
        await producer.stop()
        await consumer.stop()

    kafka_ms: list[float] = []
    observed_ms: list[float] = []
    by_date: dict[str, list[float]] = {}
    for key, report_ts in sent.items():
        if key in received:
            alert_ts, seen_at, _ = received[key]
            kafka_ms.append(float(alert_ts - report_ts))
            observed_ms.append(seen_at * 1000 - report_ts)
            by_date.setdefault(key[1], []).append(float(alert_ts - report_ts))
    missing = len(sent) - len(kafka_ms)
    # Median latency per second of sending: a rising series means the worker falls behind.
    per_second: list[float] = []
    ordered = sorted(sent.items(), key=lambda kv: kv[1])
    if ordered:
        t0 = ordered[0][1]
        buckets: dict[int, list[float]] = {}
        for k, ts in ordered:
            if k in received:
                buckets.setdefault((ts - t0) // 1000, []).append(float(received[k][0] - ts))
        per_second = [percentile(buckets[b], 50) for b in sorted(buckets)]
    return {
        "workload": workload,
        "reports_sent": total,
        "report_days": len(dates),
        "measured_reports": len(sent),
        "target_rate_per_s": rate,
        "achieved_rate_per_s": total / send_seconds if send_seconds > 0 else None,
        "alerts_matched": len(kafka_ms),
        "alerts_missing": missing,
        "other_alert_messages": sum(other_rules.values()),
        "other_alerts_by_rule": dict(other_rules.most_common()),
        "capped_locations": list(data.capped),
        "p50_ms": percentile(kafka_ms, 50),
        "p90_ms": percentile(kafka_ms, 90),
        "p99_ms": percentile(kafka_ms, 99),
        "max_ms": max(kafka_ms) if kafka_ms else float("nan"),
        "min_ms": min(kafka_ms) if kafka_ms else float("nan"),
        "p50_ms_by_second_of_sending": per_second,
        "p50_ms_by_report_day": {d: percentile(v, 50) for d, v in sorted(by_date.items())},
        "observed_by_consumer_p50_ms": percentile(observed_ms, 50),
        "observed_by_consumer_p99_ms": percentile(observed_ms, 99),
    }
