"""``opvangwacht demo``: the whole path on one machine, started and stopped by one command.

Starts the embedded broker (unless OPVANG_KAFKA_BOOTSTRAP names one), a webhook sink on loopback
and a worker on fresh topics; publishes the reference locations and a bundled scenario; prints what
the sink received and where the metrics are; stops what it started, also on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from streams.cli.publish import (
    Progress,
    load_locations_file,
    publish,
    read_scenario,
    resolve_scenario,
)
from streams.dev import broker
from streams.dev.sink import WebhookSink
from streams.dev.worker_process import WorkerFailed, WorkerProcess
from streams.settings import Settings
from streams.topics import ensure_topics

__all__ = ["run_demo"]


def _say(text: str) -> None:
    print(text, flush=True)


async def _delete_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker_address)
    await admin.start()
    try:
        names = [
            t
            for t in await admin.list_topics()
            if t.startswith(settings.topic_prefix) or t.startswith(settings.app_id)
        ]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_demo(*, scenario: str = "ter-apel-demo", keep: bool = False) -> int:
    base = Settings.from_env()
    run_id = time.strftime("%Y%m%d%H%M%S")
    prefix = f"demo-{run_id}."
    web_port = base.web_port if not _port_in_use(base.web_port) else _free_port()
    settings = Settings(
        bootstrap=base.bootstrap,
        topic_prefix=prefix,
        web_port=web_port,
        partitions=base.partitions,
        data_dir=Path(tempfile.mkdtemp(prefix="opvangwacht-demo-")),
    )
    started_broker = False
    worker: WorkerProcess | None = None
    sink = WebhookSink().start()
    try:
        if settings.bootstrap is None:
            if not broker.status().running:
                _say("1/5  starting the embedded Kafka broker (first run downloads it with Maven)")
                broker.start(progress=lambda line: _say(f"     {line}"))
                started_broker = True
            else:
                _say("1/5  the embedded Kafka broker is already running")
        else:
            _say(f"1/5  using the Kafka broker at {settings.bootstrap}")

        config_path = settings.data_dir / "alerting.yml"
        config_path.write_text(
            "receivers:\n  - name: demo-sink\n    webhook:\n"
            f"      url: {sink.url}\n      timeout: 5\n",
            encoding="utf-8",
        )
        _say(f"2/5  starting a worker on topics {prefix}* with a webhook sink at {sink.url}")
        env = {
            "OPVANG_TOPIC_PREFIX": prefix,
            "OPVANG_CONFIG": str(config_path),
            "OPVANG_DATA_DIR": str(settings.data_dir),
        }
        if settings.bootstrap:
            env["OPVANG_KAFKA_BOOTSTRAP"] = settings.bootstrap
        asyncio.run(ensure_topics(settings))
        log_path = settings.data_dir / "worker.log"
        worker = WorkerProcess(env=env, log_path=log_path, port=web_port).start()
        health = f"http://127.0.0.1:{web_port}/health"

        _say("3/5  publishing the reference locations")
        locations = load_locations_file()
        asyncio.run(publish(settings, locations))
        try:
            # Until the worker knows all the locations, so no report races them.
            worker.wait_healthy(lambda b: b.get("locations", 0) >= len(locations), 90, 0.5)
        except WorkerFailed:
            exc = (
                f"the worker did not become healthy within 90 s ({health})"
                if worker.alive()
                else f"the worker exited with code {worker.returncode}"
            )
            _say(f"{exc}. Last lines of {log_path}:")
            _say("\n".join(log_path.read_text(errors="replace").splitlines()[-15:]))
            return 1

        path = resolve_scenario(scenario)
        records = read_scenario(path)
        _say(f"4/5  replaying {path.name}: {len(records)} reports, one day every 0.3 s")
        bar = Progress(len(records), "     replay")
        asyncio.run(publish(settings, records, days_per_second=3.0, progress=bar.advance))
        bar.close()

        _say("5/5  waiting for the webhook sink to hear about it")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses = [
                (d.body["data"].get("rule"), d.body["data"].get("status"))
                for d in sink.deliveries
                if isinstance(d.body.get("data"), dict)
            ]
            if ("cap_exceeded", "resolved") in statuses:
                break
            sink.wait_for(len(sink.deliveries) + 1, timeout=1.0)
        _say("")
        if not sink.deliveries:
            _say(f"The sink received nothing. Worker log: {log_path}")
            return 1
        _say("The webhook sink received (CloudEvents, one per alert change):")
        for delivery in sink.deliveries:
            body = delivery.body.get("data") or {}
            if "rule" not in body:
                continue
            _say(
                f"  {body['event_date']}  {body['status']:<8} {body['severity']:<8} "
                f"{body['rule']:<13} {body['summary']}"
            )
        _say("")
        metrics_url = f"http://127.0.0.1:{web_port}/metrics"
        _say(f"Metrics: {metrics_url}    Health: {health}")
        try:
            with urllib.request.urlopen(metrics_url, timeout=5) as response:
                text = response.read().decode()
            for line in text.splitlines():
                ter_apel = 'location_id="ter-apel"' in line and line.startswith(
                    ("opvang_location_occupancy", "opvang_location_free_places")
                )
                if ter_apel or line.startswith("opvang_national_free_places "):
                    _say(f"  {line}")
        except (urllib.error.URLError, OSError):
            pass
        if not keep:
            _say("The demo stops the worker now; `opvangwacht demo --keep` leaves it running.")
        if keep:
            _say(f"Worker left running (pid {worker.pid}); stop it with: kill {worker.pid}")
            worker = None
            return 0
        return 0
    except KeyboardInterrupt:
        _say("\ninterrupted: stopping what the demo started")
        return 130
    finally:
        if worker is not None:
            worker.stop(timeout=20)
        sink.stop()
        if not keep:
            # The broker may already be gone; its topics are then gone too.
            with contextlib.suppress(Exception):
                asyncio.run(_delete_topics(settings))
        if started_broker and not keep:
            broker.stop()
            _say("stopped the embedded broker")


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(run_demo())
