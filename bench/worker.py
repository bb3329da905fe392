"""The worker under test as a subprocess, and what the benchmark reads from its web port."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from bench.harness import REPO, RunFailed, http_get, say
from streams.dev.worker_process import WorkerProcess


def worker_command() -> list[str]:
    script = Path(sys.executable).parent / "opvangwacht"
    if script.exists():
        return [str(script), "worker"]
    found = shutil.which("opvangwacht")
    if found:
        return [found, "worker"]
    return [sys.executable, "-m", "streams.cli", "worker"]


class Worker(WorkerProcess):
    """``opvangwacht worker`` for a benchmark run, started at once (the launcher shared with the
    demo and the tests, :class:`streams.dev.worker_process.WorkerProcess`), on the built-in rule
    defaults (no ``OPVANG_CONFIG`` unless ``extra_env`` sets one)."""

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
        self.owns_data_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="opvang-bench-"))
        super().__init__(
            env={
                "OPVANG_KAFKA_BOOTSTRAP": bootstrap,
                "OPVANG_TOPIC_PREFIX": prefix,
                "OPVANG_DATA_DIR": str(self.data_dir),
                "OPVANG_PARTITIONS": str(partitions),
                "PYTHONUNBUFFERED": "1",
                **(extra_env or {}),
            },
            log_path=log_path,
            cwd=REPO,
            command=worker_command(),
            args=["--log-level", level],
            unset=["OPVANG_CONFIG"],  # built-in rule defaults: cap_exceeded, for 1, clear 1
        )
        self.start()

    def log_tail(self, lines: int = 25) -> str:
        return super().log_tail(lines)

    def shut_down(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (kill -9 after ``timeout`` seconds), the data dir removed if it is ours; the
        exit code."""
        if not self.stop(signal.SIGTERM, timeout, group=False):
            say(f"  worker did not stop within {timeout:.0f} s of SIGTERM; killed it")
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return self.returncode


_EVENTS_LINE = re.compile(r"^opvang_events_total\{([^}]*)\}\s+(\S+)", re.M)


def events_total(metrics_text: str) -> tuple[int, dict[str, int]]:
    by_outcome: Counter[str] = Counter()
    for labels, value in _EVENTS_LINE.findall(metrics_text):
        outcome = re.search(r'outcome="([^"]*)"', labels)
        by_outcome[outcome.group(1) if outcome else "?"] += int(float(value))
    return sum(by_outcome.values()), dict(by_outcome)


#: What a progress poll asks /metrics for: the event counter only. A whole scrape renders every
#: capacity gauge that changed, which during a backlog is all of them: once a second that was
#: about 5 % of the worker's CPU in the year run, load a Prometheus scraping every 15 s does not
#: put on it.
PROGRESS = "?name[]=opvang_events_total"


async def metrics_text(worker: Worker, query: str = "") -> str:
    status, body = await asyncio.to_thread(http_get, worker.base_url + "/metrics" + query)
    if status != 200:
        raise RunFailed(f"/metrics answered {status}")
    return body.decode()


async def scrape(worker: Worker, query: str = "") -> tuple[int, dict[str, int], float]:
    """The events counted so far (sum, by outcome) and how long /metrics took to answer
    (``query``: ``PROGRESS`` for the counter alone)."""
    t = time.monotonic()
    text = await metrics_text(worker, query)
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


_READ_BACK_LINE = re.compile(r'^opvang_records_read_back_total\{topic="([^"]*)"\}\s+(\S+)', re.M)
_BATCHES_LINE = re.compile(
    r'^opvang_batch_step_seconds_count\{agent="([^"]*)",step="handle"\}\s+(\S+)', re.M
)


def batch_counts(text: str) -> dict[str, dict[str, int]]:
    """Batches each agent handled, and input records read back straight from the broker (holes
    and the stall watch) per topic, since the worker started (from a /metrics text)."""
    return {
        "batches": {a: int(float(n)) for a, n in _BATCHES_LINE.findall(text)},
        "read_back": {t: int(float(n)) for t, n in _READ_BACK_LINE.findall(text)},
    }


async def wait_healthy(worker: Worker, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RunFailed(
                f"the worker exited with code {worker.proc.returncode}:\n{worker.log_tail()}"
            )
        with contextlib.suppress(OSError, urllib.error.URLError):
            status, body = await asyncio.to_thread(http_get, worker.base_url + "/health", 2.0)
            # 503 "no_locations": serving, waiting for the locations the caller will publish.
            if status == 200 or b'"no_locations"' in body:
                return time.monotonic() - worker.started_at
        await asyncio.sleep(0.1)
    raise RunFailed(f"the worker was not healthy within {timeout:.0f} s:\n{worker.log_tail()}")
