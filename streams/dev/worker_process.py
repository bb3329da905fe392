"""One ``opvangwacht worker`` as a child process: for the demo, the benchmark and the tests.

It starts the worker with an environment of the caller's (on top of this process's, or not),
its output appended to a log file, in a session of its own; waits until its web port's /health
says it serves (``ok``, or ``no_locations`` before anyone loaded them); stops it with SIGTERM
(SIGKILL when it does not go in time) or kills it outright;
and tells how it ended. What differs between callers (the command, the static member id, the data
directory, kill -9 in a crash test) is theirs to pass in, as environment or arguments.

Imports the standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["WORKER_COMMAND", "WorkerFailed", "WorkerProcess", "free_port", "health_ok"]

#: How the worker is started unless a caller says otherwise: the installed package, this Python.
WORKER_COMMAND: tuple[str, ...] = (sys.executable, "-m", "streams.cli", "worker")


class WorkerFailed(RuntimeError):
    """The worker exited, or was not ready in time. The message ends with its last log lines."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: /health statuses of a worker that has joined its group and read its state back: ``ok``, or
#: ``no_locations`` (503) until someone runs ``opvangwacht load-locations``.
SERVING = ("ok", "no_locations")


def health_ok(body: dict[str, Any]) -> bool:
    """The default condition: the worker serves, with or without locations (a harness that
    publishes the locations itself waits for this first)."""
    return body.get("status") in SERVING


class WorkerProcess:
    """``opvangwacht worker`` as a subprocess with its own web port (``OPVANG_WEB_PORT``).

    ``env`` is laid over this process's environment (``inherit=False``: used alone), after the
    names in ``unset`` are dropped from it. ``start()`` spawns and returns at once;
    ``wait_healthy()`` waits for /health. The process runs in a session of its own, so a signal
    to its process group reaches it and nothing of the caller's.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        log_path: Path,
        port: int | None = None,
        cwd: Path | None = None,
        command: Sequence[str] = WORKER_COMMAND,
        args: Sequence[str] = (),
        inherit: bool = True,
        unset: Sequence[str] = (),
    ) -> None:
        self.port = port if port is not None else free_port()
        self.log_path = log_path
        self.cwd = cwd
        self.command = [*command, *args]
        base = dict(os.environ) if inherit else {}
        for name in unset:
            base.pop(name, None)
        self.env: dict[str, str] = {**base, **env, "OPVANG_WEB_PORT": str(self.port)}
        self.proc: subprocess.Popen[bytes] | None = None
        #: time.monotonic() right before the process was spawned
        self.started_at = 0.0

    def start(self) -> WorkerProcess:
        """Spawn the worker and return at once, without waiting until it is ready."""
        with self.log_path.open("ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        return self._proc().pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def returncode(self) -> int | None:
        """The exit code once the process is gone (negative: the signal that ended it)."""
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health_status(self) -> tuple[int, dict[str, Any]] | None:
        """(HTTP status, body) of /health, 503 included; None while nothing answers."""
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=2) as response:
                code, raw = int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            code, raw = int(exc.code), bytes(exc.read())
        except (urllib.error.URLError, OSError):
            return None
        try:
            return code, dict(json.loads(raw))
        except ValueError:
            return code, {}

    def health(self) -> dict[str, Any] | None:
        """The /health body once the worker serves (200, or 503 ``no_locations`` while it knows
        no location yet), else None."""
        answer = self.health_status()
        if answer is None:
            return None
        code, body = answer
        return body if code == 200 or body.get("status") == "no_locations" else None

    def wait_healthy(
        self,
        condition: Callable[[dict[str, Any]], bool] = health_ok,
        timeout: float = 90.0,
        poll: float = 0.3,
    ) -> dict[str, Any]:
        """Poll /health until the worker serves with a body meeting ``condition``; that body.
        Raises :class:`WorkerFailed` when the worker exits or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise WorkerFailed(f"worker exited {self.returncode}:\n{self.log_tail()}")
            body = self.health()
            if body is not None and condition(body):
                return body
            time.sleep(poll)
        raise WorkerFailed(f"worker not ready within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the worker's log ("" while there is none)."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def send(self, sig: int, *, group: bool = True) -> None:
        """Send ``sig`` to the worker's process group (``group=False``: to the process alone)."""
        if group:
            os.killpg(self.pid, sig)
        else:
            self._proc().send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0, *, group: bool = True) -> bool:
        """Stop the worker with ``sig``; SIGKILL when it is still there after ``timeout`` seconds.
        True when it went with ``sig`` alone (or was not running)."""
        if not self.alive():
            return True
        proc = self._proc()
        self.send(sig, group=group)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL, group=group)
            proc.wait(timeout=10)
            return False
        return True

    def kill(self, *, group: bool = True) -> None:
        """kill -9, and wait until it is gone: a crash, as far as the worker can tell."""
        self.stop(signal.SIGKILL, timeout=10, group=group)

    def _proc(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            raise WorkerFailed("the worker was not started")
        return self.proc
