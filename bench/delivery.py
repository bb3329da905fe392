"""Delivery benchmark (issue 4): how fast the worker gets signed webhooks out, and how late.

    python -m bench.run --delivery            # about two minutes
    python -m bench.run --delivery --quick    # shorter phases

Two phases against one real worker, its receivers pointing at the webhook sink
(``streams/dev/sink.py``) in this process, with keep-alive connections, which checks every Standard
Webhooks signature and records the arrival time of every ``webhook-id``:

a. **throughput**: N notification records (as the routing step writes them) are produced straight
   onto ``notifications``, spread over R webhook receivers, as a backlog; notifications/s = N
   divided by the time from the first to the last signed webhook received. Baseline in the same
   run: the same receiver, one ``httpx.AsyncClient`` posting the same bodies one after the other
   (what one sequential sender can do at best), and the ratio;
b. **latency**: with the worker idle, occupancy reports of capped locations are produced at a
   steady rate (default 20/s), each one flipping ``cap_exceeded``; latency = arrival of the signed
   webhook at the receiver minus the report's Kafka timestamp (both on this machine's clock),
   p50/p90/p99/max over every report.

Results go to ``bench/results/delivery-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.harness import (
    GOAL_DELIVERY_P99_MS,
    GOAL_NOTIFICATIONS_PER_S,
    REPO,
    RESULTS_DIR,
    Run,
    RunFailed,
    code_version,
    machine_info,
    package_versions,
    proc_status,
    say,
)
from bench.latency import percentile
from bench.profiling import start_profiler, stop_profiler, summarise_profile
from bench.topics import (
    check_broker,
    create_topics,
    delete_topics,
    produce_locations,
    produce_messages,
)
from bench.worker import Worker, wait_healthy
from streams.dev.sink import WebhookSink

__all__ = ["run_delivery"]

SECRET = "whsec_" + base64.b64encode(b"opvangwacht-bench-secret-012345").decode()
_KEY = base64.b64decode(SECRET.removeprefix("whsec_"))


def signed(headers: dict[str, str], raw: bytes) -> bool:
    """True when one of the request's ``webhook-signature`` values is the Standard Webhooks
    signature (HMAC-SHA256 over id.timestamp.body) with the benchmark's secret."""
    mid = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    expected = base64.b64encode(
        hmac.new(_KEY, f"{mid}.{stamp}.".encode() + raw, hashlib.sha256).digest()
    ).decode()
    given = [s.partition(",")[2] for s in headers.get("webhook-signature", "").split()]
    return any(hmac.compare_digest(expected, g) for g in given)


def hook_url(receiver: WebhookSink, name: str) -> str:
    return receiver.url_for(f"/hook/{name}")


def _event(i: int) -> dict[str, Any]:
    lid = f"bench-loc-{i % 400:03d}"
    return {
        "alert_id": f"cap_exceeded-{lid}",
        "rule": "cap_exceeded",
        "status": "firing",
        "severity": "critical",
        "subject": {"kind": "location", "id": lid},
        "province": "GR",
        "municipality_code": "GM1950",
        "value": 2037,
        "threshold": 2000,
        "headroom": -37,
        "cap_source": None,
        "summary": f"{lid}: 2.037 personen, 37 boven de afgesproken grens van 2.000",
        "starts_at": "2024-06-01T09:00:00+02:00",
        "ends_at": None,
        "event_date": "2024-06-01",
        "revision": i + 1,
        "labels": {},
    }


def receiver_names(count: int) -> list[str]:
    return [f"bench-hook-{i:02d}" for i in range(count)]


def config_text(receiver: WebhookSink, names: list[str]) -> str:
    lines = ["receivers:"]
    for name in names:
        lines += [
            f"  - name: {name}",
            "    webhook:",
            f"      url: {hook_url(receiver, name)}",
            "      secret_env: BENCH_HOOK_SECRET",
        ]
    return "\n".join(lines) + "\n"


def notifications(count: int, names: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    queued = dt.datetime.now(dt.UTC).isoformat()
    for i in range(count):
        name = names[i % len(names)]
        event = _event(i)
        yield (
            name,
            {
                "type": "notification",
                "notification_id": f"{event['alert_id']}.{event['revision']}.{name}",
                "receiver": name,
                "queued_at": queued,
                "event": event,
            },
        )


async def baseline_posts(receiver: WebhookSink, names: list[str], count: int) -> dict[str, Any]:
    """One httpx client posting signed bodies one after the other: a sequential sender's best."""
    bodies = [
        (name, json.dumps(value["event"], separators=(",", ":")).encode())
        for name, value in notifications(count, names)
    ]
    async with httpx.AsyncClient() as client:
        started = time.perf_counter()
        for i, (name, body) in enumerate(bodies):
            mid = f"baseline-{i}"
            stamp = str(int(time.time()))
            sig = base64.b64encode(
                hmac.new(_KEY, f"{mid}.{stamp}.".encode() + body, hashlib.sha256).digest()
            ).decode()
            headers = {
                "content-type": "application/json",
                "webhook-id": mid,
                "webhook-timestamp": stamp,
                "webhook-signature": f"v1,{sig}",
            }
            response = await client.post(hook_url(receiver, name), content=body, headers=headers)
            response.raise_for_status()
        seconds = time.perf_counter() - started
    return {"posts": count, "seconds": seconds, "posts_per_s": count / seconds}


async def wait_for(receiver: WebhookSink, expected: int, timeout: float, label: str) -> float:
    """Until ``expected`` distinct webhook-ids arrived; the monotonic time it took."""

    started = time.monotonic()
    last = -1
    last_change = started
    while time.monotonic() - started < timeout:
        got = len({d.headers.get("webhook-id", "") for d in receiver.snapshot()})
        if got >= expected:
            return time.monotonic() - started
        if got != last:
            last, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > 60:
            break
        await asyncio.sleep(0.25)
        if int(time.monotonic() - started) % 5 == 0:
            say(f"  {label}: {got:,}/{expected:,} received")
            await asyncio.sleep(0.75)
    raise RunFailed(f"{label}: only {last:,} of {expected:,} webhooks arrived within {timeout} s")


PROVINCES = ("GR", "FR", "DR", "OV", "FL", "GL", "UT", "NH", "ZH", "ZE", "NB", "LB")
FILLER_OCCUPANCY = 3000


def capped_locations(count: int) -> list[dict[str, Any]]:
    """``count`` capped locations, and one large regular location per province that keeps the
    province's free places steady (without it every flip of a capped location would flip
    ``region_capacity_low`` as well, which no real morning does)."""
    capped = [
        {
            "location_id": f"bench-capped-{i:02d}",
            "name": f"Capped {i}",
            "kind": "registration_centre",
            "municipality_code": f"GM{1000 + i:04d}",
            "province": PROVINCES[i % len(PROVINCES)],
            "capacity": 2000,
            "cap": 2000,
        }
        for i in range(count)
    ]
    fillers = [
        {
            "location_id": f"bench-filler-{code.lower()}",
            "name": f"Filler {code}",
            "kind": "regular",
            "municipality_code": f"GM{2000 + i:04d}",
            "province": code,
            "capacity": 6000,
            "cap": None,
        }
        for i, code in enumerate(PROVINCES)
    ]
    return capped + fillers


async def measure_latency(
    bootstrap: str,
    prefix: str,
    receiver: WebhookSink,
    locations: list[dict[str, Any]],
    rate: float,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    """Reports at ``rate``/s, every location once per synthetic day in shuffled order; each
    capped location alternates 37 above and 37 below the cap, so each of its reports flips
    ``cap_exceeded`` and is measured; the fillers report the same count every day."""

    rng = random.Random(seed)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent: dict[tuple[str, str], float] = {}  # (location, date) -> Kafka timestamp (s)
    over = {loc["location_id"]: False for loc in locations if loc.get("cap")}
    total = int(rate * seconds)
    date = dt.date(2024, 1, 1)
    try:
        started = time.monotonic()
        i = 0
        while i < total:
            order = [loc["location_id"] for loc in locations]
            rng.shuffle(order)
            for lid in order:
                if i >= total:
                    break
                due = started + i / rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                measured = lid in over
                if measured:
                    over[lid] = not over[lid]
                value = {
                    "event_id": f"{lid}:{date}",
                    "location_id": lid,
                    "date": date.isoformat(),
                    "occupancy": (2037 if over[lid] else 1963) if measured else FILLER_OCCUPANCY,
                }
                meta = await producer.send_and_wait(
                    f"{prefix}occupancy",
                    json.dumps(value).encode(),
                    key=lid.encode(),
                )
                if measured:
                    sent[(lid, date.isoformat())] = meta.timestamp / 1000
                i += 1
            date += dt.timedelta(days=1)
    finally:
        await producer.stop()
    say(f"  produced {len(sent)} reports; waiting for their webhooks")
    deadline = time.monotonic() + 60
    latencies: dict[tuple[str, str], float] = {}
    other = 0
    while time.monotonic() < deadline:
        latencies.clear()
        other = 0
        for delivery in receiver.snapshot():
            arrived, body = delivery.arrived, delivery.body
            data = body.get("data", body)
            key = (data.get("subject", {}).get("id"), data.get("event_date"))
            if data.get("rule") == "cap_exceeded" and key in sent:
                latencies.setdefault(key, (arrived - sent[key]) * 1000)
            else:
                other += 1
        if len(latencies) >= len(sent):
            break
        await asyncio.sleep(0.5)
    values = list(latencies.values())
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "reports": i,
        "measured_reports": len(sent),
        "webhooks_matched": len(values),
        "webhooks_missing": len(sent) - len(values),
        "note": "first signed webhook of each cap_exceeded change, at any of the receivers",
        "other_webhooks": other,
        "p50_ms": percentile(values, 50),
        "p90_ms": percentile(values, 90),
        "p99_ms": percentile(values, 99),
        "max_ms": max(values) if values else float("nan"),
    }


async def run_delivery(args: argparse.Namespace) -> dict[str, Any]:

    ids = Run.new(args)
    bootstrap, partitions, run_id = ids.bootstrap, ids.partitions, ids.run_id
    prefix, app_id = ids.prefix, ids.app_id
    log_path = RESULTS_DIR / f"worker-delivery-{run_id}.log"
    count = args.notifications or (2000 if args.quick else 10_000)
    names = receiver_names(args.receivers)
    results: dict[str, Any] = {
        "run_id": run_id,
        "kind": "delivery",
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bootstrap": bootstrap,
        "topic_prefix": prefix,
        "partitions": partitions,
        "receivers": len(names),
        "notifications": count,
        "machine": machine_info(),
        "versions": package_versions(),
        "code": code_version(),
        "worker_log": str(log_path.relative_to(REPO)),
    }
    say(f"delivery run {run_id}: broker {bootstrap}, prefix {prefix!r}, {partitions} partitions")
    await check_broker(bootstrap)
    receiver = WebhookSink(verify=signed, keep_alive=True).start()
    workdir = Path(__import__("tempfile").mkdtemp(prefix="opvang-bench-delivery-"))
    config_path = workdir / "alerting.yml"
    config_path.write_text(config_text(receiver, names), encoding="utf-8")
    worker: Worker | None = None
    profiler = None
    try:
        say(f"1/4 baseline: one httpx client, {min(count, 2000):,} signed POSTs one by one")
        results["baseline"] = await baseline_posts(receiver, names, min(count, 2000))
        say(f"  baseline {results['baseline']['posts_per_s']:,.0f} posts/s")
        receiver.reset()

        await create_topics(bootstrap, prefix, partitions)
        say(f"2/4 publishing {count:,} notifications for {len(names)} receivers (backlog)")
        await produce_messages(
            bootstrap,
            ((f"{prefix}notifications", key, value) for key, value in notifications(count, names)),
            count,
        )
        worker = Worker(
            bootstrap,
            prefix,
            partitions,
            log_path,
            args.worker_log_level,
            extra_env={"OPVANG_CONFIG": str(config_path), "BENCH_HOOK_SECRET": SECRET},
        )
        if args.profile:
            prof_path = RESULTS_DIR / f"profile-delivery-{run_id}.txt"
            profiler = start_profiler(worker.pid, prof_path, args.profile_rate)
        ready = await wait_healthy(worker, timeout=120)
        say(f"  worker healthy after {ready:.1f} s; waiting for {count:,} webhooks")
        await wait_for(receiver, count, timeout=max(300.0, count / 20), label="throughput")
        if profiler is not None:
            stop_profiler(profiler)
            profiler = None
            results["profile"] = {
                "file": str(prof_path.relative_to(REPO)),
                **summarise_profile(prof_path),
            }
        arrivals = receiver.snapshot()
        times = sorted(d.arrived for d in arrivals)
        span = times[-1] - times[0]
        ids = [d.headers.get("webhook-id", "") for d in arrivals]
        results["throughput"] = {
            "received": len(arrivals),
            "distinct_ids": len(set(ids)),
            "duplicates": len(ids) - len(set(ids)),
            "bad_signatures": receiver.bad_signatures,
            "seconds_first_to_last": span,
            "notifications_per_s": (len(arrivals) - 1) / span if span > 0 else None,
        }
        # Without the worker's first and last moments (start-up, the last small batches).
        lo, hi = times[len(times) // 10], times[len(times) * 9 // 10]
        results["throughput"]["steady_notifications_per_s"] = (
            (len(times) * 8 // 10) / (hi - lo) if hi > lo else None
        )
        tp = results["throughput"]
        say(
            f"  {tp['received']:,} webhooks in {span:.2f} s = "
            f"{tp['notifications_per_s']:,.0f}/s (baseline "
            f"{results['baseline']['posts_per_s']:,.0f}/s)"
        )
        receiver.reset()

        say(f"3/4 latency: reports at {args.delivery_rate:.0f}/s for {args.latency_seconds:.0f} s")
        locations = capped_locations(20)
        await produce_locations(bootstrap, prefix, locations)
        await wait_healthy(worker, timeout=30)
        await asyncio.sleep(3)  # the registry follows the locations topic
        results["latency"] = await measure_latency(
            bootstrap,
            prefix,
            receiver,
            locations,
            args.delivery_rate,
            args.latency_seconds,
            args.seed,
        )
        lat = results["latency"]
        say(
            f"  {lat['webhooks_matched']}/{lat['measured_reports']} webhooks: "
            f"p50 {lat['p50_ms']:.0f} ms, "
            f"p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"
        )
        if lat["webhooks_matched"] == 0:
            raise RunFailed(f"no webhook came back:\n{worker.log_tail()}")
        say("4/4 memory")

        status = proc_status(worker.pid)
        results["memory"] = {"peak_rss_mb": status.get("VmHWM", 0) / 1e6}
    finally:
        stop_profiler(profiler)
        if worker is not None:
            results["worker_exit_code"] = await asyncio.to_thread(worker.shut_down)
        receiver.stop()
        if not args.keep:
            with contextlib.suppress(Exception):
                results["deleted_topics"] = await delete_topics(bootstrap, prefix, app_id)
    rate = results["throughput"]["notifications_per_s"] or 0.0
    results["ratio_worker_to_baseline"] = rate / results["baseline"]["posts_per_s"]
    results["goals"] = {
        "notifications_per_s": rate >= GOAL_NOTIFICATIONS_PER_S,
        "delivery_p99": results["latency"]["p99_ms"] <= GOAL_DELIVERY_P99_MS
        and results["latency"]["webhooks_missing"] == 0,
    }
    return results
