"""What every benchmark mode shares: paths, goals, progress output, a run's ids, process and
machine readings, and the code and package versions measured."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import resource
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"

GOAL_EVENTS_PER_S = 10_000.0
GOAL_P99_MS = 250.0
GOAL_RSS_MB = 250.0  # decimal megabytes (10^6 bytes), the stricter reading
GOAL_YEAR_S = 30.0  # issue 3: one year of reports from 400 locations in at most 30 s
GOAL_RESTART_S = 10.0  # issue 3: back to processing at most 10 s after a restart
GOAL_NOTIFICATIONS_PER_S = 500.0  # issue 4: signed webhooks out per second
GOAL_DELIVERY_P99_MS = 500.0  # issue 4: report to signed webhook, p99

_T0 = time.monotonic()


def say(text: str) -> None:
    """Progress on stderr, with the time since the benchmark started."""
    print(f"[{time.monotonic() - _T0:7.1f}s] {text}", file=sys.stderr, flush=True)


class RunFailed(Exception):
    """The benchmark could not complete (not: a goal was missed)."""


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


def listening_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` on this machine (the broker's, to count its CPU),
    or None when it cannot be found (another user's process, or another machine)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(proc.name)
    return None


def children_cpu_seconds() -> float:
    """CPU seconds of this process's finished (waited-for) child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


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
