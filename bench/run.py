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
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.state.follow import reached

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"

GOAL_EVENTS_PER_S = 10_000.0
GOAL_P99_MS = 250.0
GOAL_RSS_MB = 250.0  # decimal megabytes (10^6 bytes), the stricter reading
GOAL_YEAR_S = 30.0  # issue 3: one year of reports from 400 locations in at most 30 s
GOAL_RESTART_S = 10.0  # issue 3: back to processing at most 10 s after a restart

PROVINCES = ("GR", "FR", "DR", "OV", "FL", "GL", "UT", "NH", "ZH", "ZE", "NB", "LB")
# kind -> (weight, capacity range)
KINDS: dict[str, tuple[int, tuple[int, int]]] = {
    "regular": (55, (150, 900)),
    "emergency": (12, (50, 400)),
    "crisis": (8, (40, 300)),
    "ukrainian": (15, (20, 500)),
    "night_shelter": (3, (20, 200)),
    "waiting_room": (4, (50, 300)),
    "registration_centre": (3, (300, 1500)),
}
CAPPED_ID = "bench-ter-apel"
CAP = 2000

_T0 = time.monotonic()


def say(text: str) -> None:
    """Progress on stderr, with the time since the benchmark started."""
    print(f"[{time.monotonic() - _T0:7.1f}s] {text}", file=sys.stderr, flush=True)


class RunFailed(Exception):
    """The benchmark could not complete (not: a goal was missed)."""


# ---------------------------------------------------------------- synthetic data


@dataclass
class Dataset:
    locations: list[dict[str, Any]]
    reports: list[tuple[str, dict[str, Any]]]  # (key, value) in publishing (date) order
    last_date: dict[str, dt.date] = field(default_factory=dict)
    last_occupancy: dict[str, int] = field(default_factory=dict)
    capped: list[str] = field(default_factory=list)
    over_cap_reports: int = 0


def make_dataset(n_events: int, n_locations: int, n_capped: int, seed: int) -> Dataset:
    rng = random.Random(seed)
    kinds = list(KINDS)
    weights = [KINDS[k][0] for k in kinds]
    locations: list[dict[str, Any]] = []
    capped: list[str] = []
    for i in range(n_locations):
        province = PROVINCES[i % len(PROVINCES)]
        if i < n_capped:
            location_id = CAPPED_ID if i == 0 else f"bench-capped-{i:03d}"
            loc = {
                "location_id": location_id,
                "name": "Ter Apel (bench)" if i == 0 else f"Capped location {i}",
                "kind": "registration_centre",
                "municipality_code": "GM1950" if i == 0 else f"GM{1000 + i:04d}",
                "province": "GR" if i == 0 else province,
                "capacity": CAP,
                "cap": CAP,
                "cap_source": "bench: synthetic cap",
            }
            capped.append(location_id)
        else:
            kind = rng.choices(kinds, weights)[0]
            low, high = KINDS[kind][1]
            loc = {
                "location_id": f"bench-{province.lower()}-{i:04d}",
                "name": f"Locatie {i} ({province})",
                "kind": kind,
                "municipality_code": f"GM{(i * 37) % 9000 + 1000:04d}",
                "province": province,
                "capacity": rng.randint(low, high) // 10 * 10,
                "cap": None,
            }
        locations.append(loc)

    days = math.ceil(n_events / max(n_locations, 1))
    start = dt.date(2024, 1, 1)
    occupancy = {
        loc["location_id"]: (
            CAP - 100 if loc.get("cap") else int(loc["capacity"] * rng.uniform(0.6, 0.95))
        )
        for loc in locations
    }
    reports: list[tuple[str, dict[str, Any]]] = []
    data = Dataset(locations, reports, capped=capped)
    for d in range(days):
        date = start + dt.timedelta(days=d)
        iso = date.isoformat()
        for loc in locations:
            if len(reports) >= n_events:
                break
            lid = loc["location_id"]
            capacity = int(loc["capacity"])
            if loc.get("cap"):
                # A random walk around the cap: crosses it now and then, both ways.
                occ = min(max(occupancy[lid] + rng.randint(-60, 60), CAP - 300), CAP + 300)
            else:
                step = max(1, capacity // 30)
                occ = min(max(occupancy[lid] + rng.randint(-step, step), 0), int(capacity * 1.1))
            occupancy[lid] = occ
            value: dict[str, Any] = {
                "event_id": f"{lid}:{iso}:occ",
                "location_id": lid,
                "date": iso,
                "occupancy": occ,
                "without_bed": max(0, occ - capacity),
                "slept_outside": rng.randint(0, 40) if loc.get("cap") and occ > CAP else 0,
                "reported_at": f"{iso}T0{rng.randint(6, 9)}:{rng.randint(0, 59):02d}:00+01:00",
            }
            if loc.get("cap") and occ > CAP:
                data.over_cap_reports += 1
            reports.append((lid, value))
            data.last_date[lid] = date
            data.last_occupancy[lid] = occ
    return data


# ---------------------------------------------------------------- kafka helpers


async def check_broker(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), 15)
    except Exception as exc:
        raise RunFailed(
            f"no Kafka broker answers on {bootstrap} ({type(exc).__name__}: {exc}); start one "
            "(`opvangwacht kafka start`) or set OPVANG_KAFKA_BOOTSTRAP"
        ) from None
    await admin.close()


async def create_topics(bootstrap: str, prefix: str, partitions: int) -> list[str]:
    from streams.settings import Settings
    from streams.topics import ensure_topics

    settings = Settings(bootstrap=bootstrap, topic_prefix=prefix, partitions=partitions)
    return await ensure_topics(settings)


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from aiokafka.admin import NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str, app_id: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        names = [
            t
            for t in await admin.list_topics()
            if t.startswith(prefix) or t.startswith(app_id + "-")
        ]
        if names:
            await admin.delete_topics(names)
        return sorted(names)
    finally:
        await admin.close()


async def produce_backlog(bootstrap: str, prefix: str, data: Dataset) -> float:
    """Publish the locations, then the occupancy reports; seconds spent on the reports."""
    await produce_locations(bootstrap, prefix, data.locations)
    messages = ((f"{prefix}occupancy", key, value) for key, value in data.reports)
    return await produce_messages(bootstrap, messages, len(data.reports))


async def produce_locations(bootstrap: str, prefix: str, locations: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = [
            await producer.send(
                f"{prefix}locations", key=loc["location_id"].encode(), value=_encode(loc)
            )
            for loc in locations
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_messages(
    bootstrap: str, messages: Iterable[tuple[str, str, dict[str, Any]]], total: int
) -> float:
    """Publish (topic, key, value) in order, as fast as the broker takes them; seconds spent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        futures = []
        started = time.monotonic()
        last_report = started
        for i, (topic, key, value) in enumerate(messages, start=1):
            futures.append(await producer.send(topic, key=key.encode(), value=_encode(value)))
            if len(futures) >= 2000:
                await asyncio.gather(*futures)
                futures.clear()
            if time.monotonic() - last_report >= 2.0:
                last_report = time.monotonic()
                say(f"  produced {i:,}/{total:,}")
        await asyncio.gather(*futures)
        return time.monotonic() - started
    finally:
        await producer.stop()


def _encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


async def baseline_consume(
    bootstrap: str, topic: str, partitions: int, expected: int
) -> dict[str, Any]:
    """A plain consumer (no group) reads the topic from the start and json-decodes every value."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count = 0
        decoded_bytes = 0
        t_start = time.monotonic()
        t_first: float | None = None
        deadline = t_start + max(60.0, expected / 1000)
        while count < expected:
            if time.monotonic() > deadline:
                raise RunFailed(f"baseline consumer read only {count}/{expected} messages")
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                for message in messages:
                    if t_first is None:
                        t_first = time.monotonic()
                    json.loads(message.value)
                    decoded_bytes += len(message.value)
                    count += 1
        t_end = time.monotonic()
        assert t_first is not None
        return {
            "events": count,
            "seconds_first_to_last": t_end - t_first,
            "seconds_incl_first_fetch": t_end - t_start,
            "events_per_s": count / (t_end - t_first) if t_end > t_first else float("inf"),
            "mean_value_bytes": decoded_bytes / max(count, 1),
        }
    finally:
        await consumer.stop()


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: Iterable[str]
) -> dict[str, list[int]]:
    """Partition numbers of those of ``topics`` that exist."""
    names = list(topics)
    if not names:
        return {}
    return {
        d["topic"]: sorted(p["partition"] for p in d["partitions"])
        for d in await admin.describe_topics(names)
        if d["error_code"] == 0 and d["partitions"]
    }


async def group_lag(bootstrap: str, group: str, topics: Iterable[str]) -> int:
    """Messages in ``topics`` not yet committed by consumer group ``group``."""
    return sum((await group_lag_by_topic(bootstrap, group, topics)).values())


async def group_lag_by_topic(bootstrap: str, group: str, topics: Iterable[str]) -> dict[str, int]:
    """Per topic (those that exist): messages not yet committed by consumer group ``group``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [
            TopicPartition(t, p)
            for t, parts in (await topic_partitions(admin, topics)).items()
            for p in parts
        ]
        ends = await consumer.end_offsets(tps) if tps else {}
        lag: Counter[str] = Counter()
        for tp, end in ends.items():
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[tp.topic] += max(0, end - done)
        return dict(lag)
    finally:
        await consumer.stop()
        await admin.close()


def worker_source_topics(prefix: str) -> list[str]:
    """Every topic an agent of the worker consumes, read from the worker's own code (the app
    changes; a fixed list would miss an agent), in a subprocess with the run's prefix."""
    env = dict(os.environ, OPVANG_TOPIC_PREFIX=prefix, OPVANG_WEB_PORT=str(free_port()))
    env.pop("OPVANG_CONFIG", None)
    code = (
        "import json\nfrom streams.worker.app import app\n"
        "print(json.dumps(sorted({t for a in app.agents.values() for t in a.channel.topics})))"
    )
    with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError, IndexError):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=str(REPO),
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        topics = json.loads(out.strip().splitlines()[-1])
        if topics:
            return [str(t) for t in topics]
    fallback = ["occupancy", "intake", "internal.province-contributions"]
    fallback += ["internal.national-contributions", "alerts"]
    say("  could not read the worker's agents; measuring lag on the known source topics only")
    return [prefix + name for name in fallback]


async def wait_drained(
    bootstrap: str, group: str, topics: list[str], timeout: float, stall: float
) -> tuple[int, float]:
    """Poll the group's lag on ``topics`` until it is 0; (last lag, monotonic time of that poll).

    Gives up after ``timeout`` seconds, or when the lag has not gone down for ``stall`` seconds.
    Faust commits every ~2.8 s, so the moment found is up to ~3.5 s late."""
    started = time.monotonic()
    lag = -1
    best = -1
    best_at = started
    last_print = 0.0
    while True:
        by_topic = await group_lag_by_topic(bootstrap, group, topics)
        lag = sum(by_topic.values())
        now = time.monotonic()
        if lag == 0:
            return 0, now
        if best < 0 or lag < best:
            best, best_at = lag, now
        if now - started > timeout or now - best_at > stall:
            return lag, now
        if now - last_print >= 3:
            last_print = now
            detail = ", ".join(f"{t.rsplit('.', 1)[-1]} {n:,}" for t, n in by_topic.items() if n)
            say(f"  messages not yet committed by the worker's agents: {lag:,} ({detail})")
        await asyncio.sleep(0.5)


# ---------------------------------------------------------------- the worker process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_command() -> list[str]:
    script = Path(sys.executable).parent / "opvangwacht"
    if script.exists():
        return [str(script), "worker"]
    found = shutil.which("opvangwacht")
    if found:
        return [found, "worker"]
    return [sys.executable, "-m", "streams.cli", "worker"]


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM/VmRSS in bytes from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                out[name] = int(rest.split()[0]) * 1024
    return out


def proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


class Worker:
    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        partitions: int,
        log_path: Path,
        level: str,
        data_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ):
        """Start ``opvangwacht worker``. With ``data_dir`` (a restart) the directory is the
        caller's and is left in place on stop; without, a fresh one is made and removed."""
        self.port = free_port()
        self.owns_data_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="opvang-bench-"))
        self.log_path = log_path
        env = dict(os.environ)
        env.pop("OPVANG_CONFIG", None)  # built-in rule defaults: cap_exceeded, for 1, clear 1
        env.update(
            OPVANG_KAFKA_BOOTSTRAP=bootstrap,
            OPVANG_TOPIC_PREFIX=prefix,
            OPVANG_WEB_PORT=str(self.port),
            OPVANG_DATA_DIR=str(self.data_dir),
            OPVANG_PARTITIONS=str(partitions),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        self._log = log_path.open("ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [*worker_command(), "--log-level", level],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
            start_new_session=True,
        )
        self.pid = self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                say("  worker did not stop within 30 s of SIGTERM; killing it")
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return self.proc.returncode


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
            return result
    raise RunFailed(f"the Faust ceiling run ({mode}) printed no result:\n{err.decode()[-2000:]}")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


_EVENTS_LINE = re.compile(r"^opvang_events_total\{([^}]*)\}\s+(\S+)", re.M)


def events_total(metrics_text: str) -> tuple[int, dict[str, int]]:
    by_outcome: Counter[str] = Counter()
    for labels, value in _EVENTS_LINE.findall(metrics_text):
        outcome = re.search(r'outcome="([^"]*)"', labels)
        by_outcome[outcome.group(1) if outcome else "?"] += int(float(value))
    return sum(by_outcome.values()), dict(by_outcome)


async def metrics_text(worker: Worker) -> str:
    status, body = await asyncio.to_thread(http_get, worker.base_url + "/metrics")
    if status != 200:
        raise RunFailed(f"/metrics answered {status}")
    return body.decode()


async def scrape(worker: Worker) -> tuple[int, dict[str, int], float]:
    t = time.monotonic()
    text = await metrics_text(worker)
    elapsed = time.monotonic() - t
    total, outcomes = events_total(text)
    return total, outcomes, elapsed


_RECOVERED_LINE = re.compile(
    r'^opvang_changelog_recovered_messages_total\{table="([^"]*)"\}\s+(\S+)', re.M
)


async def recovered_messages(worker: Worker) -> dict[str, int]:
    """Changelog messages the worker read back since it started, per table (from /metrics)."""
    found = {t: int(float(n)) for t, n in _RECOVERED_LINE.findall(await metrics_text(worker))}
    return {"all tables": sum(found.values()), **dict(sorted(found.items()))}


async def wait_healthy(worker: Worker, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RunFailed(
                f"the worker exited with code {worker.proc.returncode}:\n{worker.log_tail()}"
            )
        with contextlib.suppress(OSError, urllib.error.URLError):
            status, _ = await asyncio.to_thread(http_get, worker.base_url + "/health", 2.0)
            if status == 200:
                return time.monotonic() - worker.started_at
        await asyncio.sleep(0.1)
    raise RunFailed(f"the worker was not healthy within {timeout:.0f} s:\n{worker.log_tail()}")


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
        total, outcomes, took = await scrape(worker)
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


# ---------------------------------------------------------------- latency


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
                f"{prefix}occupancy", key=lid.encode(), value=_encode(value), timestamp_ms=ts
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


# ---------------------------------------------------------------- profiling (optional)


def start_profiler(pid: int, out: Path, rate: int) -> subprocess.Popen[bytes] | None:
    exe = Path(sys.executable).parent / "py-spy"
    py_spy = str(exe) if exe.exists() else shutil.which("py-spy")
    if not py_spy:
        say("  --profile: py-spy not found (pip install py-spy); running without it")
        return None
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
            "--threads",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def summarise_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed ("raw") stacks."""
    self_samples: Counter[str] = Counter()
    incl_samples: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        thread = next((f for f in frames if f.startswith("thread ")), "thread ?")
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        # The main thread runs the event loop (agents, web); Faust's consumer runs in its own.
        threads[
            "consumer thread"
            if any("WorkerThread.run" in f for f in frames)
            else "main thread"
            if "BaseEventLoop" in stack
            else thread
        ] += count
        self_samples[frames[-1]] += count
        for f in set(frames):
            incl_samples[f] += count

    def short(frame: str) -> str:
        return frame.replace(str(REPO) + "/", "").replace(
            str(Path(sys.executable).parent.parent) + "/lib/python3.11/site-packages/", ""
        )

    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "threads": {t: round(100 * c / total, 1) for t, c in threads.most_common(5)},
        "self": [(short(f), round(100 * c / total, 1)) for f, c in self_samples.most_common(top)],
        "inclusive": [
            (short(f), round(100 * c / total, 1)) for f, c in incl_samples.most_common(top * 2)
        ],
    }


# ---------------------------------------------------------------- the year replay (--year)


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


async def topic_stats(bootstrap: str, names: list[str], sample: int = 50) -> dict[str, Any]:
    """Offsets per topic (the messages written; compaction may have removed some of them since)
    and the mean value size of what is left among the newest ``sample`` offsets of each
    partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = await topic_partitions(admin, names)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    out: dict[str, Any] = {}
    try:
        for name, parts in partitions.items():
            tps = [TopicPartition(name, p) for p in parts]
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            sizes: list[int] = []
            for tp in tps:
                if ends[tp] > 0:
                    consumer.seek(tp, max(0, ends[tp] - sample))
            # Read to the end offsets, not to a message count: a compacted topic has fewer
            # messages than offsets, and counting them once held the run here for 16 minutes.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not await reached(consumer, ends):
                batches = await consumer.getmany(timeout_ms=500)
                for messages in batches.values():
                    sizes.extend(len(m.value or b"") for m in messages)
            messages_total = sum(ends.values())
            mean = sum(sizes) / len(sizes) if sizes else 0.0
            out[name] = {
                "messages": messages_total,
                "mean_value_bytes_newest": round(mean),
                "estimated_mb": round(messages_total * mean / 1e6, 1),
            }
    finally:
        await consumer.stop()
    return out


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
                total, outcomes, _ = await scrape(worker)
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


@dataclass(frozen=True)
class Run:
    """Where a benchmark run goes: the broker, its own topic prefix and the worker's app id."""

    bootstrap: str
    partitions: int
    run_id: str
    prefix: str
    app_id: str

    @classmethod
    def new(cls, args: argparse.Namespace) -> Run:
        from streams.settings import Settings

        run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{random.randrange(16**4):04x}"
        prefix = f"bench-{run_id}."
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        return cls(
            bootstrap=os.environ.get("OPVANG_KAFKA_BOOTSTRAP") or "localhost:9092",
            partitions=args.partitions or int(os.environ.get("OPVANG_PARTITIONS", "4")),
            run_id=run_id,
            prefix=prefix,
            app_id=Settings(topic_prefix=prefix).app_id,
        )


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
        _, outcomes, _ = await scrape(worker)
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
            "rss_at_end_mb": status.get("VmRSS", 0) / 1e6,
            "outcomes": outcomes,
            "note": "drained = consumer-group lag 0 on every source topic of the worker; Faust "
            "commits every ~2.8 s, so up to ~3.5 s late",
        }
        signal_name = "SIGKILL" if args.restart_kill else "SIGTERM"
        say(f"3/4 restart: {signal_name}, then the same worker again (same prefix and data dir)")
        results["restart_signal"] = signal_name
        t_stop = time.monotonic()
        if args.restart_kill:
            worker.proc.kill()
        results["first_exit_code"] = await asyncio.to_thread(worker.stop)
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
            results["worker_exit_code"] = await asyncio.to_thread(worker.stop)
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
            results["worker_exit_code"] = await asyncio.to_thread(worker.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
        if args.keep:
            say(f"--keep: leaving topics with prefix {prefix!r} and {app_id!r}-*")
        else:
            with contextlib.suppress(Exception):
                deleted = await delete_topics(bootstrap, prefix, app_id)
                say(f"deleted {len(deleted)} topics")
                results["deleted_topics"] = deleted

    marks = results["restart"]["seconds_from_process_start"]
    results["goals"] = {
        "year_total": results["year"]["seconds_start_to_drained"] <= GOAL_YEAR_S,
        "back_to_processing": marks["first_new_report"] <= GOAL_RESTART_S,
    }
    results["goal_values"] = {"year_s_max": GOAL_YEAR_S, "restart_s_max": GOAL_RESTART_S}
    return results


def render_year_table(results: dict[str, Any]) -> str:
    y = results["year"]
    r = results["restart"]
    marks = r["seconds_from_process_start"]
    rows = [
        (
            "year in: worker start to all agents drained",
            f"{y['seconds_start_to_drained']:,.1f} s",
            f"<= {GOAL_YEAR_S:.0f} s",
            verdict(results["goals"]["year_total"]),
        ),
        (
            "  events/s over that time",
            f"{y['events_per_s_start_to_drained']:,.0f} events/s",
            "",
            "",
        ),
        (
            "  first event to all agents drained",
            f"{y['seconds_first_event_to_drained']:,.1f} s "
            f"({y['events_per_s_first_event_to_drained']:,.0f} events/s)",
            "",
            "",
        ),
        (
            "  report agent: all reports counted",
            f"{y['report_agent_done_after_start_s']:,.1f} s after start "
            f"({y['report_agent']['events_per_s']:,.0f} events/s)",
            "",
            "",
        ),
        ("  worker peak RSS during the year", f"{y['peak_rss_mb']:.0f} MB", "", ""),
        (
            f"restart: {results.get('restart_signal', 'SIGTERM')} until the worker exited",
            f"{results['stop_seconds']:.1f} s",
            "",
            "",
        ),
        ("restart: process start to /health 200", f"{marks.get('health_200', 0):.1f} s", "", ""),
        (
            "restart: process start to first new report",
            f"{marks['first_new_report']:.1f} s",
            f"<= {GOAL_RESTART_S:.0f} s",
            verdict(results["goals"]["back_to_processing"]),
        ),
        (
            f"  to all {r.get('new_reports', r['events_counted']):,} reports of the new day",
            f"{marks['whole_new_day']:.1f} s",
            "",
            "",
        ),
        ("  restarted worker peak RSS", f"{r['peak_rss_mb']:.0f} MB", "", ""),
    ]
    after_year = next(i for i, row in enumerate(rows) if row[0].startswith("restart:"))
    for mode, c in results.get("faust_ceiling", {}).items():
        rows.insert(
            after_year,
            (
                f"  minimal Faust agent ({mode}, decode only), same reports",
                f"{c['wall_s_incl_startup']:.1f} s with its start "
                f"({c['events_per_s']:,.0f} events/s)",
                "",
                "",
            ),
        )
    if "recovered_messages" in r:
        rows.append(
            (
                "  changelog messages read back by the restart",
                f"{r['recovered_messages']['all tables']:,}",
                "",
                "",
            )
        )
    changelogs = results.get("topics_after_year", {})
    if changelogs:
        rows.append(("changelog offsets written (after the year and the new day)", "", "", ""))
    for name, stats in changelogs.items():
        if name.endswith("-changelog"):
            short = name[len(results["app_id"]) + 1 :]
            rows.append(
                (
                    f"  {short}",
                    f"{stats['messages']:,} offsets, ~{stats['estimated_mb']:,.0f} MB",
                    "",
                    "",
                )
            )
    title = (
        f"opvangwacht year benchmark {results['run_id']} - {results['events']:,} reports "
        f"({results['locations']} locations x {results['days']} days, occupancy + intake), "
        f"{results['partitions']} partitions"
    )
    return _table(title, rows, results)


# ---------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def render_table(results: dict[str, Any]) -> str:
    t = results["throughput"]
    b = results["baseline"]
    lat = results["latency"]
    mem = results["memory"]
    rows = [
        (
            "worker throughput (backlog)",
            f"{t['events_per_s']:,.0f} events/s",
            f">= {GOAL_EVENTS_PER_S:,.0f} events/s",
            verdict(results["goals"]["throughput"]),
        ),
        ("  baseline: plain consumer + json", f"{b['events_per_s']:,.0f} events/s", "", ""),
        ("  worker / baseline", f"{t['events_per_s'] / b['events_per_s']:.1%}", "", ""),
        *(
            (f"  minimal Faust agent ({mode})", f"{c['events_per_s']:,.0f} events/s", "", "")
            for mode, c in results.get("faust_ceiling", {}).items()
        ),
        (
            "  all agents drained (end to end)",
            f"{results['drain']['pipeline_events_per_s']:,.0f} reports/s"
            if results["drain"].get("pipeline_events_per_s")
            and not results["drain"]["remaining_lag"]
            else "not drained",
            "",
            "",
        ),
        (
            "  worker CPU while catching up",
            f"{t['worker_cpu_cores_used']:.2f} cores" if t.get("worker_cpu_cores_used") else "n/a",
            "",
            "",
        ),
        ("event-to-alert latency p50", f"{lat['p50_ms']:.0f} ms", "", ""),
        (
            "event-to-alert latency p99",
            f"{lat['p99_ms']:.0f} ms",
            f"<= {GOAL_P99_MS:.0f} ms",
            verdict(results["goals"]["latency_p99"]),
        ),
        ("event-to-alert latency max", f"{lat['max_ms']:.0f} ms", "", ""),
        (
            "  cap_exceeded alerts matched / sent",
            f"{lat['alerts_matched']}/{lat['measured_reports']} "
            f"({lat['reports_sent']:,} reports, {lat['report_days']} days, {lat['workload']})",
            "",
            "",
        ),
        ("  other alert messages meanwhile", f"{lat['other_alert_messages']:,}", "", ""),
        (
            "worker peak RSS (VmHWM)",
            f"{mem['peak_rss_mb']:.0f} MB",
            f"<= {GOAL_RSS_MB:.0f} MB",
            verdict(results["goals"]["peak_rss"]),
        ),
    ]
    title = (
        f"opvangwacht benchmark {results['run_id']} - {results['events']:,} reports, "
        f"{results['locations']} locations, {results['partitions']} partitions"
    )
    text = _table(title, rows, results)
    return text + "\nthe year replay and restart (issue 3): python -m bench.run --year"


def _table(title: str, rows: list[tuple[str, str, str, str]], results: dict[str, Any]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("measure", "figure", "goal", "")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    line = "  ".join("-" * w for w in widths)
    out = [title, line, "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.append(line)
    m = results["machine"]
    code = results.get("code", {})
    out.append(
        f"machine: {m['nproc']} CPUs, {m['mem_gib']:.0f} GiB, Python {m['python']}, "
        f"{m['platform']}; broker {results['bootstrap']}; commit {code.get('commit', '?')}"
        + (
            f" + {code['uncommitted_source_files']} uncommitted source files"
            if code.get("uncommitted_source_files")
            else ""
        )
    )
    return "\n".join(out)


def machine_info() -> dict[str, Any]:
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(),
        "mem_gib": mem_kib / 1024 / 1024,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": load,
    }


def code_version() -> dict[str, Any]:
    """Which code was measured: the commit, files changed since, and a hash of the sources."""
    import hashlib

    out: dict[str, Any] = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "streams", "alerts"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout
        out["uncommitted_source_files"] = len(status.splitlines())
    digest = hashlib.sha256()
    for path in sorted([*REPO.glob("streams/**/*.py"), *REPO.glob("alerts/**/*.py")]):
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    out["sources_sha256"] = digest.hexdigest()[:16]
    return out


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("faust-streaming", "aiokafka", "opvangwacht"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict[str, Any]:
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
            code = await asyncio.to_thread(worker.stop)
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
    if str(REPO) not in sys.path:  # `python bench/run.py` from anywhere
        sys.path.insert(0, str(REPO))
    from bench import bad_input, delivery

    try:
        if args.delivery:
            results = asyncio.run(delivery.run_delivery(args))
        elif args.bad:
            results = asyncio.run(bad_input.run_bad(args))
        else:
            results = asyncio.run(run_year(args) if args.year else run(args))
    except (RunFailed, delivery.RunFailed) as exc:  # run as __main__, bench.run is a second copy
        say(f"benchmark failed: {exc}")
        return 2 if "no Kafka broker" in str(exc) else 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    if args.delivery:
        print(delivery.render_delivery_table(results))
    elif args.bad:
        print(bad_input.render_bad_table(results))
    else:
        print(render_year_table(results) if args.year else render_table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    args.output.write_text(text + "\n")
    kind = "year" if args.year else "delivery" if args.delivery else "bad" if args.bad else "run"
    (RESULTS_DIR / f"{kind}-{results['run_id']}.json").write_text(text + "\n")
    say(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
