"""Micro-benchmarks of the worker's metrics, without Kafka (issue 12, "Metrics on the hot path").

``python -m bench.scrape`` builds a worker with the composition root (no broker), fills its
tables with the picture of the year's 400 locations after ``--days`` days (the decision core,
``alerts.replay``), and times:

- ``scrape``: ``generate_latest`` of the worker's registry, what ``GET /metrics`` costs, when
  nothing changed since the last scrape, when a few locations changed, and when every location
  and province changed (a backlog at about a day of reports per second, as in the year replay);
- ``sensors``: the Faust sensor hooks a report passes through (message in, stream event in and
  out, message out, a send initiated and completed, table gets and sets), per report;
- ``labels``: a pipeline counter's ``labels(topic, outcome).inc()``, as the ingest stage counts
  each report.

Prints one JSON document. Uses one core for a few seconds; reads no clock for decisions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import generate_latest

from alerts.model import IntakeReport, OccupancyReport
from alerts.replay import Replay, replay
from bench.year import YearData
from streams.records import encode, intake_to_domain, location_to_domain, occupancy_to_domain
from streams.settings import Settings, load_alerting_config
from streams.state.split import Changes
from streams.worker.app import Worker, build_worker

START = dt.date(2026, 1, 5)


def picture(n_locations: int, days: int, seed: int) -> tuple[Any, list[Replay]]:
    """The locations, and the core's records after each of the last two days."""
    data = YearData(n_locations, seed)
    known = {}
    for raw in data.locations:
        location = location_to_domain(encode(raw))
        known[location.location_id] = location
    reports: list[OccupancyReport | IntakeReport] = []
    for day in range(days):
        for topic, _, value in data.day("", START + dt.timedelta(days=day)):
            convert = intake_to_domain if topic.endswith("intake") else occupancy_to_domain
            reports.append(convert(encode(value)))
    per_day = len(reports) // days
    config = load_alerting_config(None)
    before = replay(known, reports[:-per_day], config)
    after = replay(known, reports, config)
    return known, [before, after]


def a_worker(known: dict[str, Any]) -> Worker:
    worker = build_worker(Settings(), load_alerting_config(None))
    worker.app.finalize()
    # As in a running worker (Faust adds its monitor when the app starts): every table read
    # of a scrape passes the sensor.
    worker.app.sensors.add(worker.app.monitor)
    for location in known.values():
        worker.ctx.registry._locations[location.location_id] = location
    return worker


def store(worker: Worker, result: Replay, only: set[str] | None = None) -> None:
    """Put ``result``'s records in the worker's tables (in memory; nothing is sent)."""
    tables = worker.ctx.tables
    changes = Changes()
    for key, record in result.locations.items():
        if only is None or key in only:
            tables.locations.stage(changes, 0, key, record)
    if only is None:
        for key, aggregate in result.provinces.items():
            tables.provinces.stage(changes, 0, key, aggregate)
        if result.national is not None:
            tables.nation.stage(changes, 0, "NL", result.national)


def timed(
    run: Callable[[], Any], repeat: int, setup: Callable[[], Any] | None = None
) -> dict[str, float]:
    """Median and fastest time of ``run`` (``setup`` before each, not timed)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000}


def scrape(worker: Worker, states: list[Replay], repeat: int) -> dict[str, Any]:
    # What GET /metrics sends (before issue 12: the registry, the picture's collector in it).
    body: Callable[[], bytes] = getattr(worker, "scrape", None) or (
        lambda: generate_latest(worker.prometheus)
    )
    before, after = states
    store(worker, before)
    size = len(body())
    unchanged = timed(body, repeat)
    few = sorted(after.locations)[:10]
    flip = iter([after, before] * repeat)
    some = timed(body, repeat, setup=lambda: store(worker, next(flip), set(few)))
    flip_all: Iterator[Replay] = iter([after, before] * repeat)
    everything = timed(body, repeat, setup=lambda: store(worker, next(flip_all)))
    return {
        "bytes": size,
        "unchanged": unchanged,
        "ten_locations_changed": some,
        "all_changed": everything,
    }


def sensors(worker: Worker, n: int) -> dict[str, Any]:
    """The sensor hooks a report passes through in Faust, called ``n`` times."""
    from faust.types import TP

    app = worker.app
    sensor = app.monitor  # the one sensor a running worker has (app.sensors holds it then)
    tp = TP(worker.ctx.settings.topic("occupancy"), 0)
    out_topic = worker.ctx.settings.topic("alerts")
    agent = worker.ingest.agent

    class _Message:
        time_in: float | None = None
        time_out: float | None = None
        time_total: float | None = None

    class _Task:  # what Faust keeps a weak reference to, per stream
        def __str__(self) -> str:
            return "ingest"

    stream = agent.stream()
    stream.task_owner = _Task()
    table = worker.ctx.tables.locations.heads

    def one() -> None:
        for offset in range(n):
            message = _Message()
            sensor.on_message_in(tp, offset, message)
            state = sensor.on_stream_event_in(tp, offset, stream, None)
            sensor.on_table_get(table, "x")
            sensor.on_table_set(table, "x", None)
            sent = sensor.on_send_initiated(None, out_topic, None, 10, 100)
            sensor.on_send_completed(None, sent, None)
            sensor.on_stream_event_out(tp, offset, stream, None, state)
            sensor.on_message_out(tp, offset, message)

    result = timed(one, 5)
    return {"reports": n, "per_report_us": result["median_ms"] * 1000 / n}


def labelled(worker: Worker, n: int) -> dict[str, Any]:
    """What the ingest stage does per report: ``events.labels(topic, outcome).inc()``."""
    events = worker.ctx.metrics.events
    topic = worker.ctx.settings.topic("occupancy")

    def one() -> None:
        for _ in range(n):
            events.labels(topic, "applied").inc()

    result = timed(one, 5)
    return {"calls": n, "per_call_us": result["median_ms"] * 1000 / n}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scrape", description=__doc__)
    parser.add_argument("--locations", type=int, default=400)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    known, states = picture(args.locations, args.days, args.seed)
    worker = a_worker(known)
    results = {
        "locations": args.locations,
        "days": args.days,
        "scrape": scrape(worker, states, args.repeat),
        "sensors": sensors(worker, args.events),
        "labels": labelled(worker, args.events),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
