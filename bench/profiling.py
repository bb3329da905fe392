"""Sampling the worker with py-spy, and a summary of the samples."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.harness import REPO, say


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
