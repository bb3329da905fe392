"""Run a local Kafka cluster of three KRaft nodes, to try replication and broker failures.

`opvangwacht kafka start|stop|status --brokers 3` calls the functions here. Each node is one JVM
that is broker and controller at once (``process.roles=broker,controller``), from the same jars as
the single-node broker of `streams/dev/broker.py`; the three controllers form one static quorum
(``controller.quorum.voters``) and the storage of every node is formatted with one cluster id.
Ports sit next to a base port P (OPVANG_KAFKA_PORT or ``--port``, default 9092): the brokers
listen on P, P+1, P+2 and the controllers on P+3, P+4, P+5. Each node is a broker state directory
of its own, so `broker.status` and `broker.stop` work on it unchanged::

    <state dir>/lib/kafka-<version>/       the jars, shared with the single-node broker
    <state dir>/cluster/cluster.lock       held while a start is in progress
    <state dir>/cluster/node-<id>/         server.properties, kafka-data/, kafka.pid, kafka.out,
                                           server.log of node <id> (1, 2, 3)

The cluster keeps three copies of every topic by default (``default.replication.factor=3``,
offsets and transaction topics too) and acknowledges a write with ``acks=all`` once two copies
hold it (``min.insync.replicas=2``): one node may die without losing an acknowledged record or
stopping writes. A node that stopped answering is fenced after six seconds and its partitions get
new leaders. `start` on a cluster with a dead node starts that node again; it catches up from the
others.

Imports the standard library, aiokafka and the broker module only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from streams.dev import broker
from streams.dev.kafka_install import (
    MAVEN_TIMEOUT,
    BrokerError,
    Progress,
    find_java,
    install_log4j_config,
    kafka_libs,
)

__all__ = [
    "BROKERS",
    "ClusterStatus",
    "bootstrap_of",
    "cluster_dir",
    "default_base_port",
    "node_dirs",
    "start",
    "status",
    "stop",
]

BROKERS = 3
_CLUSTER_DIR = "cluster"

# Three JVMs on a small machine: half the single broker's heap each.
JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)


@dataclass(frozen=True)
class ClusterStatus:
    """Every node of the cluster in `state_dir` (empty when it was never started)."""

    nodes: tuple[broker.BrokerStatus, ...]
    state_dir: Path

    @property
    def running(self) -> bool:
        """True when every node runs."""
        return bool(self.nodes) and all(node.running for node in self.nodes)

    @property
    def bootstrap(self) -> str:
        """The value for OPVANG_KAFKA_BOOTSTRAP: every node's broker address."""
        return ",".join(node.bootstrap for node in self.nodes)


def default_base_port() -> int:
    """$OPVANG_KAFKA_PORT, else 9092: the first broker's port."""
    text = os.environ.get("OPVANG_KAFKA_PORT", "").strip()
    if not text:
        return broker.DEFAULT_PORT
    if not text.isdigit() or not 1024 <= int(text) <= 65535 - 2 * BROKERS:
        raise BrokerError(f"OPVANG_KAFKA_PORT must be a port number from 1024 to 65529: {text!r}")
    return int(text)


def cluster_dir(state_dir: Path | None = None) -> Path:
    return broker._resolve(state_dir) / _CLUSTER_DIR


def node_dirs(state_dir: Path | None = None) -> list[Path]:
    """The state directories of the nodes started so far, by node id."""
    root = cluster_dir(state_dir)
    found = [d for d in root.glob("node-*") if d.is_dir() and d.name[5:].isdigit()]
    return sorted(found, key=lambda d: int(d.name[5:]))


def bootstrap_of(base_port: int, brokers: int = BROKERS) -> str:
    return ",".join(f"localhost:{base_port + i}" for i in range(brokers))


def status(state_dir: Path | None = None) -> ClusterStatus:
    """Report on every node of the cluster without changing anything."""
    nodes = tuple(broker.status(nd) for nd in node_dirs(state_dir))
    return ClusterStatus(nodes, cluster_dir(state_dir))


def start(
    state_dir: Path | None = None,
    *,
    base_port: int | None = None,
    timeout: float = 180.0,
    progress: Callable[[str], None] | None = None,
) -> ClusterStatus:
    """Start every node that does not run, and return once all of them serve as one cluster.

    Idempotent: a running node is left alone, a dead one is started again on its old ports with
    its old data (it catches up from the others).
    """
    say: Progress = progress if progress is not None else broker._quiet
    sd = broker._resolve(state_dir)
    base = default_base_port() if base_port is None else base_port
    root = cluster_dir(sd)
    root.mkdir(parents=True, exist_ok=True)
    wanted = bootstrap_of(base)
    with broker._locked(root, timeout + MAVEN_TIMEOUT, say):
        current = status(sd)
        if current.nodes and any(n.running for n in current.nodes) and current.bootstrap != wanted:
            raise BrokerError(
                f"the cluster in {root} runs on {current.bootstrap}: stop it first "
                "(`opvangwacht kafka stop --brokers 3`) to move it to other ports"
            )
        dead = [i for i in range(1, BROKERS + 1) if not _node_running(current, i)]
        if not dead:
            say("the Kafka cluster already runs, checking it answers…")
            _await_cluster(wanted, timeout)
            return status(sd)
        for node_id in dead:
            broker._remove(root / f"node-{node_id}" / broker._PID_FILE)
            broker._check_ports(base + node_id - 1, base + BROKERS + node_id - 1)

        java = find_java()
        classpath = f"{kafka_libs(sd, say)}/*"
        cluster_id = _stored_cluster_id(root) or broker._new_cluster_id()
        launched: list[tuple[subprocess.Popen[bytes], str, Path]] = []
        for node_id in dead:
            nd = root / f"node-{node_id}"
            nd.mkdir(exist_ok=True)
            install_log4j_config(nd)
            port, cport = base + node_id - 1, base + BROKERS + node_id - 1
            text = broker._server_properties(nd, port, cport, _node_settings(node_id, base))
            (nd / broker._PROPERTIES).write_text(text, encoding="utf-8")
            if not (nd / broker._DATA_DIR / "meta.properties").exists():
                say(f"formatting the storage of node {node_id}…")
                broker._format_storage(java, classpath, nd, cluster_id)
            launched.append(
                (broker._launch(java, classpath, nd, JVM_OPTIONS), f"localhost:{port}", nd)
            )
        say(f"waiting for nodes {', '.join(map(str, dead))} on {wanted}…")
        for proc, bootstrap, nd in launched:
            broker._await_start(proc, bootstrap, nd, timeout)
        _await_cluster(wanted, timeout)
        return status(sd)


def stop(state_dir: Path | None = None, *, timeout: float = 30.0) -> ClusterStatus:
    """Stop every node at once (SIGTERM, SIGKILL after `timeout`); nodes that do not run are
    fine. All at once, because a node shutting down cleanly wants a controller quorum."""
    nodes = node_dirs(state_dir)
    if not nodes:
        return status(state_dir)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        stopped = tuple(pool.map(lambda nd: broker.stop(nd, timeout=timeout), nodes))
    return ClusterStatus(stopped, cluster_dir(state_dir))


def _node_running(current: ClusterStatus, node_id: int) -> bool:
    return any(n.running and n.state_dir.name == f"node-{node_id}" for n in current.nodes)


def _node_settings(node_id: int, base: int) -> dict[str, str]:
    voters = ",".join(f"{i}@localhost:{base + BROKERS + i - 1}" for i in range(1, BROKERS + 1))
    copies, insync = str(BROKERS), "2"
    return {
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "default.replication.factor": copies,
        "min.insync.replicas": insync,
        "offsets.topic.replication.factor": copies,
        "transaction.state.log.replication.factor": copies,
        "transaction.state.log.min.isr": insync,
        "share.coordinator.state.topic.replication.factor": copies,
        "share.coordinator.state.topic.min.isr": insync,
        # A dead node is fenced (its partitions get new leaders, it leaves their in-sync
        # replicas) after 6 s without a heartbeat instead of 9; a slow follower after 10 s.
        "broker.session.timeout.ms": "6000",
        "broker.heartbeat.interval.ms": "1000",
        "replica.lag.time.max.ms": "10000",
        "num.io.threads": "2",
    }


def _stored_cluster_id(root: Path) -> str | None:
    for nd in sorted(root.glob("node-*")):
        found = broker._stored_cluster_id(nd)
        if found is not None:
            return found
    return None


def _await_cluster(bootstrap: str, timeout: float) -> None:
    """Block until the cluster reports all of its brokers, or raise BrokerError."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # any failure here just means "not ready yet"
            seen = asyncio.run(_count_brokers(bootstrap))
            if seen >= BROKERS:
                return
        time.sleep(0.5)
    raise BrokerError(
        f"the cluster on {bootstrap} reports {seen} of {BROKERS} brokers after {timeout:g} s: "
        "look at server.log of each node, or run `opvangwacht kafka start --brokers 3` again"
    )


async def _count_brokers(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 10)
        described = await asyncio.wait_for(admin.describe_cluster(), 10)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return len(described.get("brokers", [])) if isinstance(described, dict) else 0
