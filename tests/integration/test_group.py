"""Several workers, one picture (issue 11): two real worker processes in one consumer group on
the real broker.

- the Ter Apel scenario through two workers gives exactly the alert changes of the core (which
  one worker gives too: tests/integration/test_replay_ter_apel.py);
- both workers answer the read API alike, for the whole country;
- inhibition across workers: a source alert made on one worker holds back a target made on the
  other;
- ``kill -9`` of one worker in the middle of a replay: no alert change lost or invented, every
  expected ``webhook-id`` delivered, and the survivor serves the whole picture.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import HookServer, WorkerProcess, call_api, produce, read_topic, read_topic_raw
from pure_replay import replay

from alerts.config import AlertingConfig
from streams.dev.worker_process import health_ok
from streams.reference import data_path, load_targets
from streams.state.progress import partition_of

pytestmark = pytest.mark.integration

PARTITIONS = 2
#: Ter Apel and Zevenaar are on different input partitions (2 partitions), so with two workers
#: that share the partitions their alerts are made on different workers.
SOURCE, TARGET = "ter-apel", "zevenaar"


def config(hook_url: str) -> str:
    return (
        "aggregation:\n  expect_intake: true\n"
        "route:\n  receiver: ops\n"
        f"receivers:\n  - name: ops\n    webhook:\n      url: {hook_url}\n"
        "inhibit_rules:\n"
        f"  - source_matchers: {{rule: cap_exceeded, location_id: {SOURCE}}}\n"
        f"    target_matchers: {{rule: without_bed, location_id: {TARGET}}}\n"
    )


def expected_alerts() -> list[str]:
    raw = yaml.safe_load("aggregation:\n  expect_intake: true\nreceivers: []\n")
    core = AlertingConfig.from_mapping(raw).with_targets(load_targets())
    expected = replay(data_path("scenarios", "ter-apel-2022-08.jsonl"), core)
    return sorted(json.dumps(e.to_dict(), sort_keys=True) for e in expected)


class Group:
    def __init__(self, root: Path, bootstrap: str) -> None:
        self.hook = HookServer()
        self.prefix = f"group-{uuid.uuid4().hex[:8]}."
        self.bootstrap = bootstrap
        self.workers = [
            WorkerProcess(
                bootstrap=bootstrap,
                prefix=self.prefix,
                workdir=self._dir(root / name),
                config=config(self.hook.url),
                extra_env={
                    "OPVANG_PARTITIONS": str(PARTITIONS),
                    "OPVANG_WORKER_ID": name,
                    "OPVANG_STANDBY_REPLICAS": "1",
                },
            )
            for name in ("worker-a", "worker-b")
        ]

    @staticmethod
    def _dir(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self) -> None:
        for worker in self.workers:
            worker.spawn()
        for worker in self.workers:
            worker.wait_health(health_ok, timeout=120)  # serving; locations come next

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.hook.close()

    def cli(self, *args: str) -> str:
        worker = self.workers[0]
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", *args],
            env={**os.environ, **worker.env},
            cwd=worker.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    def load_locations(self) -> None:
        self.cli("load-locations")
        for worker in self.workers:
            worker.wait_health(lambda body: body.get("locations", 0) >= 11, timeout=60)

    async def alerts(self, expect: int, timeout: float = 120) -> list[dict[str, Any]]:
        return await read_topic(
            self.bootstrap, f"{self.prefix}alerts", expect=expect, timeout=timeout, settle=3
        )


@pytest.fixture
def group(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Group]:
    made = Group(tmp_path, kafka_bootstrap)
    made.start()
    try:
        yield made
    finally:
        made.stop()


def _distinct(alerts: list[dict[str, Any]]) -> list[str]:
    """Alert changes without the repeats of an identical change (at-least-once after a kill)."""
    return sorted({json.dumps(a, sort_keys=True) for a in alerts})


def _api(worker: WorkerProcess, path: str) -> Any:
    status, body = call_api(worker.port, path)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


def _settled(group: Group, path: str, timeout: float = 30) -> list[Any]:
    """The same document from every worker (within one refresh of the mirror): wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        answers = [_api(worker, path) for worker in group.workers]
        if all(answer == answers[0] for answer in answers) or time.monotonic() > deadline:
            return answers
        time.sleep(0.5)


def _published_by(worker: WorkerProcess, alert_id: str) -> bool:
    log = Path(worker.workdir / "worker.log").read_text(encoding="utf-8", errors="replace")
    return any("alert" in line and alert_id in line for line in log.splitlines())


async def test_two_workers_give_the_alerts_of_one_and_the_same_picture(group: Group) -> None:
    expected = expected_alerts()
    group.load_locations()
    group.cli("replay", "ter-apel-2022-08")
    alerts = await group.alerts(expect=len(expected))
    assert _distinct(alerts) == expected
    # Each worker made some of them: the work was shared.
    made = [sum(_published_by(worker, a["alert_id"]) for a in alerts) for worker in group.workers]
    assert all(count > 0 for count in made), made

    # The whole country from whichever worker is asked.
    for path in ("/api/national", "/api/alerts", "/api/locations", "/api/provinces"):
        first, second = _settled(group, path)
        assert first == second, path
    national = _api(group.workers[1], "/api/national")
    assert national, national
    locations = _api(group.workers[0], "/api/locations")
    reported = [loc for loc in locations["locations"] if loc.get("location_id") == "ter-apel"]
    assert reported, locations


async def test_a_source_on_one_worker_inhibits_a_target_on_the_other(group: Group) -> None:
    assert partition_of(SOURCE, PARTITIONS) != partition_of(TARGET, PARTITIONS)
    group.load_locations()
    source = {"event_id": "s1", "location_id": SOURCE, "date": "2026-11-30", "occupancy": 2100}
    await produce(
        group.bootstrap, [(f"{group.prefix}occupancy", SOURCE, json.dumps(source).encode())]
    )
    await group.alerts(expect=1, timeout=60)
    # The other worker sees the source firing once its mirror has read the changelog.
    first, _ = _settled(group, "/api/alerts")
    assert any(a["rule"] == "cap_exceeded" for a in first["alerts"]), first
    target = {
        "event_id": "t1",
        "location_id": TARGET,
        "date": "2026-11-30",
        "occupancy": 250,
        "without_bed": 10,
    }
    await produce(
        group.bootstrap, [(f"{group.prefix}occupancy", TARGET, json.dumps(target).encode())]
    )
    alerts = await group.alerts(expect=2, timeout=60)
    by_rule = {a["rule"]: a for a in alerts if a["subject"]["id"] in (SOURCE, TARGET)}
    assert {"cap_exceeded", "without_bed"} <= set(by_rule), alerts
    source_id, target_id = by_rule["cap_exceeded"]["alert_id"], by_rule["without_bed"]["alert_id"]
    makers = {
        alert_id: [w.env["OPVANG_WORKER_ID"] for w in group.workers if _published_by(w, alert_id)]
        for alert_id in (source_id, target_id)
    }
    assert makers[source_id] != makers[target_id], makers  # made on different workers
    audit = await read_topic_raw(
        group.bootstrap, f"{group.prefix}audit", expect=4, timeout=30, settle=2
    )
    routed = [
        json.loads(value)
        for key, value in audit
        if key == target_id.encode() and value is not None and b'"routed"' in value
    ]
    assert [entry["action"] for entry in routed] == ["inhibited"], routed


async def test_kill_one_of_two_loses_nothing(group: Group) -> None:
    expected = expected_alerts()
    group.load_locations()
    group.cli("replay", "ter-apel-2022-08")
    await asyncio.sleep(1.0)  # well into the replay: some of it handled, most of it not
    victim, survivor = group.workers
    victim.kill()
    alerts = await group.alerts(expect=len(expected), timeout=180)
    assert _distinct(alerts) == expected
    # Every alert change reached the webhook receiver (a repeat has the same webhook-id).
    wanted = {f"{a['alert_id']}.{a['revision']}.ops" for a in alerts}
    deadline = time.monotonic() + 120
    while True:
        got = {d.headers.get("webhook-id") for d in group.hook.snapshot()}
        if wanted <= got or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert wanted - got == set()
    repeats = len(group.hook.snapshot()) - len(got)
    print(f"webhook deliveries: {len(got)} distinct, {repeats} repeated after the kill")
    # The survivor serves the whole picture.
    national = _api(survivor, "/api/national")
    assert national
    alerts_doc = _api(survivor, "/api/alerts")
    # A warning a critical alert on the same subject supersedes is listed under that one.
    firing = {a["alert_id"] for a in alerts_doc["alerts"]} | {
        s["alert_id"] for a in alerts_doc["alerts"] for s in a.get("superseded", [])
    }
    last = {}
    for alert in sorted(alerts, key=lambda a: a["revision"]):
        last[alert["alert_id"]] = alert["status"]
    assert firing == {alert_id for alert_id, status in last.items() if status == "firing"}
