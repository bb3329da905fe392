"""``amtool silence add|query|expire`` (Debian's prometheus-alertmanager) against a real worker fed
through Kafka: the silence holds a message back, expiring it lets the next one through, changes
need the API token, and the silences are still there after a restart."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from builders import TWO_CAPPED_CENTRES
from e2e_support import HookServer, WorkerProcess, produce
from tooling import require

pytestmark = pytest.mark.integration

TOKEN = "amtool-token-" + uuid.uuid4().hex


class Amtool:
    def __init__(self, binary: str, port: int, http_config: Path | None) -> None:
        self.base = [binary, f"--alertmanager.url=http://127.0.0.1:{port}"]
        if http_config is not None:
            self.base.append(f"--http.config.file={http_config}")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=30, check=False
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def query(self, *args: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = json.loads(self.ok("silence", "query", "-o", "json", *args))
        return found


def heard(hook: HookServer) -> list[tuple[str, str, str]]:
    return [
        (r.body["data"]["rule"], r.body["data"]["subject"]["id"], r.body["data"]["status"])
        for r in hook.received
    ]


def occupancy(prefix: str, loc: str, day: int, count: int) -> tuple[str, str, bytes]:
    body = {
        "event_id": f"{loc}-{day}",
        "location_id": loc,
        "date": f"2024-06-{day:02d}",
        "occupancy": count,
    }
    return (f"{prefix}occupancy", loc, json.dumps(body).encode())


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def test_amtool_silences_hold_messages_and_survive_a_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    binary = require("amtool", "prometheus-alertmanager")
    ops = HookServer()
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"amtool-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=(
            f"receivers:\n  - name: ops\n    webhook: {{url: '{ops.url}'}}\n"
            "route:\n  receiver: ops\n"
        ),
        extra_env={"OPVANG_API_TOKEN": TOKEN},
    )
    http_config = tmp_path / "amtool-http.yml"
    http_config.write_text(f"authorization:\n  credentials: {TOKEN}\n")
    wrong_config = tmp_path / "amtool-wrong.yml"
    wrong_config.write_text("authorization:\n  credentials: not-the-token\n")
    worker.start()
    try:
        prefix = worker.prefix
        await worker.publish_locations(*TWO_CAPPED_CENTRES)
        amtool = Amtool(binary, worker.port, http_config)
        anonymous = Amtool(binary, worker.port, None)
        wrong = Amtool(binary, worker.port, wrong_config)

        # Without the token, or with a wrong one, nothing is made.
        add = ("silence", "add", "location_id=budel", "--comment=uitbreiding", "--duration=2h")
        assert anonymous.run(*add, "--author=ops").returncode != 0
        assert wrong.run(*add, "--author=ops").returncode != 0
        assert amtool.query() == []

        budel = amtool.ok(*add, "--author=dienstdoende").strip()
        uuid.UUID(budel)  # amtool prints the new id
        severe = amtool.ok(
            "silence",
            "add",
            'rule=~"cap_.*"',
            "severity!=critical",
            'location_id!~"ter-.*|budel"',
            "--comment=alleen kritiek",
            "--duration=3h",
            "--author=dienstdoende",
        ).strip()
        listed = {s["id"]: s for s in amtool.query()}
        assert set(listed) == {budel, severe}
        assert listed[budel]["createdBy"] == "dienstdoende"
        assert listed[budel]["status"]["state"] == "active"
        assert {
            (m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in listed[severe]["matchers"]
        } == {
            ("rule", "cap_.*", True, True),
            ("severity", "critical", False, False),
            ("location_id", "ter-.*|budel", True, False),
        }
        # amtool's filters: a silence whose matchers, read as labels, match them.
        assert [s["id"] for s in amtool.query("location_id=budel")] == [budel]
        assert [s["id"] for s in amtool.query('rule=~"cap.*"')] == [severe]
        assert amtool.query("location_id=ter-apel") == []
        assert amtool.ok("silence", "query", "-q").split() != []
        # amtool silence update: the same id, a new end.
        ends = listed[severe]["endsAt"]
        amtool.ok("silence", "update", severe, "--duration=5h")
        (again,) = amtool.query('rule=~"cap.*"')
        assert again["id"] == severe and again["endsAt"] > ends
        assert again["matchers"] == listed[severe]["matchers"]
        # Anyone may read (as GET /api/silences); the plain table names both.
        table = anonymous.ok("silence", "query")
        assert budel in table and severe in table

        # Budel nearly full (cap_near) is held back by its silence; Ter Apel over its cap is not.
        await produce(
            kafka_bootstrap,
            [occupancy(prefix, "ter-apel", 1, 2300), occupancy(prefix, "budel", 1, 1950)],
        )
        wait_for(lambda: ("cap_exceeded", "ter-apel", "firing") in heard(ops), 45, "Ter Apel")
        time.sleep(2)
        assert not [h for h in heard(ops) if h[1] == "budel"], heard(ops)

        # Expiring needs the token too; then Budel is heard again.
        assert anonymous.run("silence", "expire", budel).returncode != 0
        assert amtool.query("location_id=budel")[0]["status"]["state"] == "active"
        amtool.ok("silence", "expire", budel)
        assert [s["id"] for s in amtool.query()] == [severe]
        expired = amtool.query("--expired")
        assert [s["id"] for s in expired] == [budel]
        assert expired[0]["status"]["state"] == "expired"
        assert amtool.run("silence", "expire", str(uuid.uuid4())).returncode != 0

        await produce(kafka_bootstrap, [occupancy(prefix, "budel", 2, 2100)])
        wait_for(lambda: ("cap_exceeded", "budel", "firing") in heard(ops), 45, "Budel")
    finally:
        worker.stop()

    # The silences live on the silences topic: a restarted worker has both, as they were.
    worker.start()
    try:
        amtool = Amtool(binary, worker.port, http_config)
        wait_for(lambda: len(amtool.query()) == 1, 30, "the silences after the restart")
        assert [s["id"] for s in amtool.query()] == [severe]
        assert [s["id"] for s in amtool.query("--expired")] == [budel]
    finally:
        worker.stop()
        ops.close()
    assert TOKEN not in worker.log_path.read_text(errors="replace")
