"""Run a single-node Kafka broker on this machine for development, demos and tests.

`opvangwacht kafka start|stop|status` calls the functions here. The broker is the official
Apache Kafka jar set running in KRaft mode (broker and controller in one JVM), resolved once
from Maven Central with the pom shipped in `streams/kafka/`, or taken from `$KAFKA_HOME/libs`.

Everything the broker needs lives in one state directory, outside the repository::

    <state dir>/lib/kafka-<version>/   jars resolved by Maven (skipped with KAFKA_HOME)
    <state dir>/server.properties      written on every start from the requested ports
    <state dir>/log4j2.xml             copied from the package on every start
    <state dir>/kafka-data/            formatted on the first start, reused afterwards
    <state dir>/kafka.pid              pid of the running JVM
    <state dir>/kafka.out              JVM stdout/stderr of the latest start
    <state dir>/server.log             broker log at INFO (rolled at 10 MB)
    <state dir>/broker.lock            held while a start or stop is in progress

Java and the jars come from `streams/dev/kafka_install.py`; this module starts, checks and stops
the JVM. Imports the standard library and aiokafka only: never faust, mode or `alerts`.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import fcntl
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from streams.dev.kafka_install import (
    LOG4J_FILE,
    MAVEN_TIMEOUT,
    BrokerError,
    Progress,
    find_java,
    install_log4j_config,
    kafka_libs,
    kafka_version,
    last_lines,
)

__all__ = [
    "DEFAULT_PORT",
    "BrokerStatus",
    "default_state_dir",
    "start",
    "status",
    "stop",
    "wait_until_ready",
]

DEFAULT_PORT = 9092

# Enough for a developer broker, small enough to share a 2-core machine with the test suite.
JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

_PID_FILE = "kafka.pid"
_OUT_FILE = "kafka.out"
_SERVER_LOG = "server.log"
_LOCK_FILE = "broker.lock"
_PROPERTIES = "server.properties"
_DATA_DIR = "kafka-data"
_BROKER_MAIN = "kafka.Kafka"


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    state_dir: Path
    kafka_version: str
    detail: str


def default_state_dir() -> Path:
    """$OPVANG_STATE_DIR, else $XDG_STATE_HOME/opvangwacht, else ~/.local/state/opvangwacht."""
    explicit = os.environ.get("OPVANG_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative values
        return Path(xdg) / "opvangwacht"
    return Path.home() / ".local" / "state" / "opvangwacht"


def status(state_dir: Path | None = None) -> BrokerStatus:
    """Report on the broker of `state_dir` without changing anything."""
    sd = _resolve(state_dir)
    bootstrap = _configured_bootstrap(sd)
    version = kafka_version()
    pid = _read_pid(sd)
    if pid is None:
        detail = "not running"
        if not _port_free(_port_of(bootstrap)):
            detail += f" (port {_port_of(bootstrap)} is in use by another process)"
        return BrokerStatus(False, None, bootstrap, sd, version, detail)
    if not _is_our_broker(pid, sd):
        why = "is not this Kafka broker" if _alive(pid) else "is gone: the broker died"
        detail = f"not running (stale pid file: pid {pid} {why})"
        return BrokerStatus(False, None, bootstrap, sd, version, detail)
    if _tcp_open(bootstrap):
        detail = f"running (pid {pid}), listening on {bootstrap}"
    else:
        detail = f"starting (pid {pid}), not listening on {bootstrap} yet"
    return BrokerStatus(True, pid, bootstrap, sd, version, detail)


def start(
    state_dir: Path | None = None,
    *,
    port: int = DEFAULT_PORT,
    controller_port: int | None = None,
    timeout: float = 120.0,
    progress: Callable[[str], None] | None = None,
) -> BrokerStatus:
    """Start the broker in the background and return once it answers Kafka requests.

    Idempotent: when the broker of `state_dir` already runs, this only waits until it answers.
    `timeout` bounds the wait for the JVM to answer; the one-off Maven resolution has its own
    limit (MAVEN_TIMEOUT). The controller listens on `controller_port` (default: port + 1).
    """
    say: Progress = progress if progress is not None else _quiet
    sd = _resolve(state_dir)
    cport = port + 1 if controller_port is None else controller_port
    if cport == port:
        raise BrokerError(f"broker and controller cannot share port {port}: pick two ports")
    bootstrap = f"localhost:{port}"
    sd.mkdir(parents=True, exist_ok=True)
    with _locked(sd, timeout + MAVEN_TIMEOUT, say):
        current = status(sd)
        if current.running and current.pid is not None:
            if current.bootstrap != bootstrap:
                raise BrokerError(
                    f"the broker in {sd} already runs on {current.bootstrap}: "
                    "stop it first (`opvangwacht kafka stop`) to move it to another port"
                )
            say(f"Kafka already running (pid {current.pid}), checking it answers…")
            wait_until_ready(bootstrap, timeout)
            _check_cluster(bootstrap, sd)
            return status(sd)
        _remove(sd / _PID_FILE)  # stale or absent: either way not ours any more
        _check_ports(port, cport)

        java = find_java()
        libs = kafka_libs(sd, say)
        classpath = f"{libs}/*"
        install_log4j_config(sd)
        (sd / _PROPERTIES).write_text(_server_properties(sd, port, cport), encoding="utf-8")
        if not (sd / _DATA_DIR / "meta.properties").exists():
            say("formatting storage…")
            _format_storage(java, classpath, sd)

        proc = _launch(java, classpath, sd)
        say(f"waiting for the broker on {bootstrap}…")
        _await_start(proc, bootstrap, sd, timeout)
        return status(sd)


def stop(state_dir: Path | None = None, *, timeout: float = 30.0) -> BrokerStatus:
    """Stop the broker of `state_dir`: SIGTERM, then SIGKILL after `timeout` seconds.

    Only the pid in the pid file is signalled, and only when it still is this broker's JVM.
    Stopping a broker that does not run is fine.
    """
    sd = _resolve(state_dir)
    if not sd.is_dir():
        return status(sd)
    with _locked(sd, timeout + 60.0, _quiet):
        pid = _read_pid(sd)
        if pid is None:
            _remove(sd / _PID_FILE)
            return status(sd)
        if not _is_our_broker(pid, sd):
            _remove(sd / _PID_FILE)
            note = f"not running; removed a stale pid file (pid {pid} is not this Kafka broker)"
            return replace(status(sd), detail=note)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        how = "stopped"
        if not _wait_gone(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            how = f"killed after {timeout:g} s without a clean shutdown"
            if not _wait_gone(pid, 10.0):
                raise BrokerError(f"Kafka (pid {pid}) survived SIGKILL: check it with `ps {pid}`")
        _remove(sd / _PID_FILE)
        return replace(status(sd), detail=f"{how} (pid {pid})")


def wait_until_ready(bootstrap: str, timeout: float) -> None:
    """Block until a broker at `bootstrap` answers a metadata request, or raise BrokerError."""
    deadline = time.monotonic() + timeout
    last = "nothing listening"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerError(
                f"no Kafka broker answered on {bootstrap} within {timeout:g} s ({last}): "
                "start one with `opvangwacht kafka start` or fix OPVANG_KAFKA_BOOTSTRAP"
            )
        if _tcp_open(bootstrap):
            try:
                _describe_cluster(bootstrap, min(remaining, 10.0))
                return
            except Exception as exc:  # any failure here just means "not ready yet"
                last = f"last error: {type(exc).__name__}: {exc}"
        time.sleep(min(0.3, max(remaining, 0.0)))


# --- starting -------------------------------------------------------------------------------


def _check_ports(port: int, controller_port: int) -> None:
    if not _port_free(port):
        raise BrokerError(
            f"port {port} is taken by another process: set "
            f"OPVANG_KAFKA_BOOTSTRAP=localhost:{port} if that is a Kafka broker you want to use, "
            "or free it, or start on another port"
        )
    if not _port_free(controller_port):
        raise BrokerError(
            f"controller port {controller_port} is taken by another process: "
            "free it or choose another controller port"
        )


def _server_properties(
    sd: Path, port: int, controller_port: int, overrides: dict[str, str] | None = None
) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@localhost:{controller_port}",
        "listeners": f"PLAINTEXT://localhost:{port},CONTROLLER://localhost:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://localhost:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(sd / _DATA_DIR),
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # A small machine: fewer threads and a smaller compaction buffer than the defaults.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        # The worker's changelogs roll a segment every 10 s; an idle cleaner looks for work every
        # 2 s instead of 15, so what a restart reads is compacted sooner.
        "log.cleaner.backoff.ms": "2000",
        "log.retention.hours": "168",
        **(overrides or {}),  # a node of streams/dev/cluster.py
    }
    header = "# Written by opvangwacht (streams/dev/broker.py) on every start; edits are lost.\n"
    return header + "".join(f"{key}={value}\n" for key, value in settings.items())


def _format_storage(java: str, classpath: str, sd: Path, cluster_id: str | None = None) -> None:
    cmd = [
        java,
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={sd / LOG4J_FILE}",
        f"-Dkafka.logs.dir={sd}",
        "-cp",
        classpath,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id or _new_cluster_id(),
        "-c",
        str(sd / _PROPERTIES),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(f"formatting {sd / _DATA_DIR} took over 180 s: check the disk") from exc
    if done.returncode != 0:
        output = last_lines((done.stdout + done.stderr).splitlines())
        raise BrokerError(
            f"formatting {sd / _DATA_DIR} failed (exit {done.returncode}); delete that "
            f"directory and start again.\n{output}"
        )


def _new_cluster_id() -> str:
    """A random Kafka cluster id: 16 bytes in URL-safe base64, no padding, no leading '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _launch(
    java: str, classpath: str, sd: Path, jvm_options: tuple[str, ...] = JVM_OPTIONS
) -> subprocess.Popen[bytes]:
    cmd = [
        java,
        *jvm_options,
        f"-Dlog4j2.configurationFile={sd / LOG4J_FILE}",
        f"-Dkafka.logs.dir={sd}",
        "-cp",
        classpath,
        _BROKER_MAIN,
        str(sd / _PROPERTIES),
    ]
    with open(sd / _OUT_FILE, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=sd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the CLI and its terminal
            close_fds=True,
        )
    pid_tmp = sd / f"{_PID_FILE}.tmp"
    pid_tmp.write_text(f"{proc.pid}\n", encoding="ascii")
    pid_tmp.replace(sd / _PID_FILE)
    return proc


def _await_start(proc: subprocess.Popen[bytes], bootstrap: str, sd: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            _remove(sd / _PID_FILE)
            raise BrokerError(
                f"Kafka exited with code {code} while starting; the last lines of its "
                f"output (full logs in {sd}):\n{_failure_output(sd)}"
            )
        if _tcp_open(bootstrap):
            try:
                _describe_cluster(bootstrap, 5.0)
                return
            except Exception:  # listening but not serving yet: keep waiting
                pass
        if time.monotonic() > deadline:
            raise BrokerError(
                f"Kafka (pid {proc.pid}) did not answer on {bootstrap} within {timeout:g} s. "
                f"It is still running: look at {sd / _SERVER_LOG}, run `opvangwacht kafka start` "
                "again to keep waiting, or `opvangwacht kafka stop`"
            )
        time.sleep(0.3)


def _check_cluster(bootstrap: str, sd: Path) -> None:
    """Make sure the broker answering on the port is the one formatted in `sd`."""
    expected = _stored_cluster_id(sd)
    if expected is None:
        return
    answered = _describe_cluster(bootstrap, 10.0)
    if answered is not None and answered != expected:
        raise BrokerError(
            f"{bootstrap} answers as Kafka cluster {answered}, not {expected} from {sd}: "
            "another broker holds the port; stop it or use another port"
        )


# --- looking at processes, files and ports ---------------------------------------------------


def _resolve(state_dir: Path | None) -> Path:
    return (state_dir if state_dir is not None else default_state_dir()).expanduser().resolve()


def _quiet(_message: str) -> None:
    return None


@contextlib.contextmanager
def _locked(sd: Path, timeout: float, say: Progress) -> Iterator[None]:
    """Hold an exclusive lock on <state dir>/broker.lock, so one start or stop runs at a time."""
    with open(sd / _LOCK_FILE, "a+b") as handle:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BrokerError(
                        f"another opvangwacht process holds {sd / _LOCK_FILE} for over "
                        f"{timeout:g} s: wait for it to finish or stop it"
                    ) from None
                if not told:
                    say("another start or stop is in progress, waiting for it…")
                    told = True
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read_pid(sd: Path) -> int | None:
    try:
        text = (sd / _PID_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _cmdline(pid: int) -> list[str] | None:
    """The argv of `pid`, or None when it is gone, a zombie or unreadable."""
    proc = Path("/proc")
    if proc.is_dir():
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            return None
        args = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
        return args or None
    try:  # no /proc (macOS): ps splits on spaces, good enough for these checks
        done = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.split() or None


def _is_our_broker(pid: int, sd: Path) -> bool:
    """True when `pid` is a java process running kafka.Kafka with this state dir's config."""
    args = _cmdline(pid)
    if not args or not Path(args[0]).name.startswith("java"):
        return False
    return _BROKER_MAIN in args and str(sd / _PROPERTIES) in " ".join(args)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child that exited
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _configured_bootstrap(sd: Path) -> str:
    try:
        text = (sd / _PROPERTIES).read_text(encoding="utf-8")
    except OSError:
        return f"localhost:{DEFAULT_PORT}"
    match = re.search(r"^advertised\.listeners=PLAINTEXT://([^,\s]+)", text, re.MULTILINE)
    return match.group(1) if match else f"localhost:{DEFAULT_PORT}"


def _stored_cluster_id(sd: Path) -> str | None:
    try:
        text = (sd / _DATA_DIR / "meta.properties").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^cluster\.id=(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def _split_host_port(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    host, _, port = first.rpartition(":")
    return (host.strip("[]") or "localhost"), int(port or DEFAULT_PORT)


def _port_of(bootstrap: str) -> int:
    return _split_host_port(bootstrap)[1]


def _tcp_open(bootstrap: str) -> bool:
    try:
        host, port = _split_host_port(bootstrap)
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False


def _port_free(port: int) -> bool:
    """True when nothing listens on localhost:`port` (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _tail(path: Path, count: int = 20) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            data = handle.read()
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()[-count:]


def _failure_output(sd: Path) -> str:
    parts: list[str] = []
    for name in (_OUT_FILE, _SERVER_LOG):
        lines = _tail(sd / name)
        if lines:
            parts.append(f"--- {sd / name} ---")
            parts.extend(lines)
    return "\n".join(parts) if parts else "(no output: the JVM exited before logging anything)"


# --- talking Kafka ---------------------------------------------------------------------------


def _describe_cluster(bootstrap: str, timeout: float) -> str | None:
    """Send a real metadata request; returns the cluster id the broker reports."""

    async def ask() -> str | None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="opvangwacht-broker-check",
            request_timeout_ms=max(1000, int(timeout * 1000)),
        )
        try:
            await asyncio.wait_for(admin.start(), timeout)
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        cluster_id = cluster.get("cluster_id") if isinstance(cluster, dict) else None
        return str(cluster_id) if cluster_id is not None else None

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(ask())
    # Called from inside an event loop (an async test, the worker): use a thread of our own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, ask()).result()
