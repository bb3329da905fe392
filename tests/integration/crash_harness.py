"""The crash harness of issue 9: the same input through an uncrashed worker and through one that
is killed (``kill -9``) and stopped (SIGTERM) at seeded moments, compared.

Black box: the worker runs as a subprocess and is driven only through its wire contract (input
topics in; the alerts and notifications topics, the signed webhook receiver, /health, /metrics
and /api/locations out) and the consumer group's committed offsets. Nothing of the worker is
imported.

A crash run follows a seeded plan (crash_plan.py): a backlog is published before the first
start, then each step publishes some days, stops the worker its own way, publishes more days while
it is down, and restarts it (as the same static group member or as a new member):

- ``mid_batch``: kill -9 once the worker has handled a seeded share of its backlog;
- ``after_webhook``: kill -9 from the webhook receiver's thread right after its nth 2xx answer;
- ``recovery``: kill -9 at the nth /health "recovering" (503) right after a restart;
- ``sigterm``: a clean stop once the worker has handled a seeded share of its backlog;
- ``pace`` (control plans only): no stop at all, the same publishing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from crash_compare import Differences, Outcome, compare, self_check
from crash_input import CrashInput, Record, alerting_yaml, generate
from crash_plan import STATIC_ID, Plan, Step, make_plan
from e2e_support import (
    HookServer,
    OffsetProbe,
    Received,
    WorkerProcess,
    call_api,
    create_input_topics,
    group_id,
    metric_value,
    produce_many,
)

from streams.dev.topic_reader import drain_topic

SECRET_ENV = "CRASH_HOOK_SECRET"
SECRET = "whsec_" + base64.b64encode(b"opvangwacht-crash-test-secret-01").decode()
PARTITIONS = 2
#: Bounds: one step (a new member restarted after a kill waits out the old member's session,
#: 60 s, first), the drain at the end, the deliveries after it.
STEP_TIMEOUT = 180.0
DRAIN_TIMEOUT = 300.0
DELIVERY_TIMEOUT = 60.0
#: No event counted and no offset moved for this long, input not consumed: a stall. Longer than
#: the wait of a new member for the killed one's session (60 s) plus a start.
IDLE_LIMIT = 90.0


class Run:
    """One worker on a prefix of its own, with its own webhook receiver; restarted as often as
    a plan says."""

    def __init__(self, name: str, bootstrap: str, workdir: Path, data: CrashInput) -> None:
        self.name = name
        self.bootstrap = bootstrap
        self.data = data
        self.hook = HookServer()
        workdir.mkdir(parents=True, exist_ok=True)
        self.worker = WorkerProcess(
            bootstrap=bootstrap,
            prefix=f"crash-{name}-{uuid.uuid4().hex[:8]}.",
            workdir=workdir,
            config=alerting_yaml(self.hook.url, SECRET_ENV),
            extra_env={SECRET_ENV: SECRET, "OPVANG_PARTITIONS": str(PARTITIONS)},
        )
        self.worker.env.pop("OPVANG_WORKER_ID", None)
        self.days: Iterator[tuple[Record, ...]] = iter(data.days)
        self.published_days = 0
        self.notes: list[str] = []
        self.started = time.monotonic()
        self.probe = OffsetProbe(bootstrap, group_id(self.worker.prefix))
        self.closed = False
        self.base = 0  # the group's committed input offsets (summed) when the worker started
        self.starts = 0
        #: Per worker process: the most "correction" outcomes on the occupancy topic seen.
        self.corrections: dict[int, int] = {}

    def topic(self, name: str) -> str:
        return f"{self.worker.prefix}{name}"

    @property
    def inputs(self) -> list[str]:
        return [self.topic("occupancy"), self.topic("intake")]

    def say(self, text: str) -> None:
        print(f"[{self.name} {time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.say(f"NOTE {text}")

    async def open(self) -> None:
        await self.probe.__aenter__()
        await create_input_topics(self.bootstrap, self.worker.prefix, PARTITIONS)
        await self.publish(self.data.locations)

    def close(self) -> None:
        """Kill whatever still runs; safe to call more than once."""
        self.worker.stop(signal.SIGKILL)
        if not self.closed:
            self.closed = True
            self.hook.close()

    async def aclose(self) -> None:
        self.close()
        with contextlib.suppress(Exception):
            await self.probe.__aexit__()

    async def publish(self, records: Sequence[Record]) -> None:
        await produce_many(
            self.bootstrap, [(self.topic(r.topic), r.key, r.encoded()) for r in records]
        )

    async def publish_days(self, count: int, why: str) -> int:
        """Publish the next ``count`` days (fewer when the input runs out); returns how many
        reports that was."""
        days = [day for _, day in zip(range(count), self.days, strict=False)]
        records = [r for day in days for r in day]
        if records:
            await self.publish(records)
            first = self.published_days + 1
            self.published_days += len(days)
            self.say(
                f"published days {first}-{self.published_days}, {len(records)} reports ({why})"
            )
        return len(records)

    def events(self) -> float | None:
        """Input events this worker process has handled (its counter starts at 0 with it). Notes
        on the way the morning counts it applied after a newer one of the same location: never
        in a correct run, as each location's counts are published in date order."""
        try:
            text = self.worker.metrics()
        except (OSError, ValueError):
            return None
        late = {"topic": self.topic("occupancy"), "outcome": "correction"}
        self.corrections[self.starts] = int(metric_value(text, "opvang_events_total", late))
        return metric_value(text, "opvang_events_total")

    def returncode(self) -> str:
        proc = self.worker.proc
        return "not started" if proc is None else f"exit code {proc.poll()}"

    def exited(self) -> bool:
        proc = self.worker.proc
        return proc is None or proc.poll() is not None

    async def spawn(self, static: bool) -> None:
        """Start the worker (as the static member or a new one), noting where its consumer group
        stands: the new process reads on from there."""
        positions = await self.probe.positions(self.inputs)
        self.base = sum(done for done, _ in positions.values())
        self.starts += 1
        if static:
            self.worker.env["OPVANG_WORKER_ID"] = STATIC_ID
        else:
            self.worker.env.pop("OPVANG_WORKER_ID", None)
        self.worker.spawn()

    def kill(self) -> None:
        proc = self.worker.proc
        assert proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> bool:
        """Wait until the group's committed offsets on the input and internal topics reach their
        ends, and then neither the worker's event counter nor any offset has moved for 3 s
        (longer than Faust's 2.8 s commit interval). Gives up after ``timeout``, or once nothing
        at all has moved for IDLE_LIMIT while the input is not consumed (a stall)."""
        followed = [
            *self.inputs,
            self.topic("internal.province-contributions"),
            self.topic("internal.national-contributions"),
        ]
        alerts = self.topic("alerts")
        deadline = time.monotonic() + timeout
        last: Any = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            if self.exited():
                self.note(f"the worker exited by itself ({self.returncode()})")
                return False
            positions = await self.probe.positions([*followed, alerts])
            caught_up = all(d >= e for tp, (d, e) in positions.items() if tp.topic != alerts)
            state = (self.events(), sorted(positions.items()))
            if state != last:
                last, since = state, time.monotonic()
            idle = time.monotonic() - since
            if caught_up and state[0] is not None and idle >= 3.0:
                return True
            if idle >= IDLE_LIMIT:
                break
            await asyncio.sleep(1.0)
        lag = {f"{tp.topic}[{tp.partition}]": v for tp, v in positions.items() if v[0] != v[1]}
        why = f"nothing moved for {IDLE_LIMIT:.0f} s" if idle >= IDLE_LIMIT else "timeout"
        self.note(f"not drained ({why}; committed/end): {lag}")
        return False

    async def notified(self) -> set[str]:
        records = await drain_topic(self.bootstrap, self.topic("notifications"))
        messages = [json.loads(v) for _, v in records if v]
        return {str(m["notification_id"]) for m in messages if m.get("type") == "notification"}

    def delivered(self) -> list[str]:
        return [r.headers.get("webhook-id", "") for r in list(self.hook.received)]

    async def collect(self, drained: bool) -> Outcome:
        """Wait (bounded) until every notification on the topic was delivered, then take what
        the run left behind."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        notified = await self.notified()
        while not notified <= set(self.delivered()) and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            notified = await self.notified()
        alerts = [json.loads(v) for _, v in await drain_topic(self.bootstrap, self.topic("alerts"))]
        status, body = call_api(self.worker.port, "/api/locations")
        rows = json.loads(body)["locations"] if status == 200 else []
        if status != 200:
            self.note(f"/api/locations answered {status}")
        positions = await self.probe.positions(self.inputs)
        self.say(
            f"collected {len(alerts)} alert events, {len(self.delivered())} deliveries of "
            f"{len(notified)} notifications"
        )
        return Outcome(
            name=self.name,
            alerts=alerts,
            delivered=self.delivered(),
            notified=notified,
            locations={row["location_id"]: row for row in rows},
            input_offsets={f"{tp.topic}[{tp.partition}]": v for tp, v in positions.items()},
            drained=drained,
            corrections=sum(self.corrections.values()),
            notes=list(self.notes),
        )


async def reference_run(run: Run) -> Outcome:
    """Everything published first, one worker, never disturbed."""
    await run.open()
    await run.publish_days(len(run.data.days), "all of it, before the start")
    await run.spawn(static=False)
    run.worker.wait_health(lambda body: body.get("status") == "ok", 120)
    drained = await run.drain()
    run.say("drained" if drained else "NOT drained")
    return await run.collect(drained)


async def crash_run(run: Run, plan: Plan) -> Outcome:
    await run.open()
    await run.publish_days(plan.backlog, "backlog before the first start")
    await run.spawn(plan.first_static)
    for number, step in enumerate(plan.steps, 1):
        label = f"step {number}/{len(plan.steps)}"
        run.say(f"{label}: {step.describe()}")
        await STEPS[step.kind](run, step, label)
        await run.publish_days(step.down, "after the step" if step.kind == "pace" else "while down")
        if not run.exited():
            continue  # a control step stops nothing
        await run.spawn(step.static)
        member = f"static member {STATIC_ID}" if step.static else "new member"
        run.say(f"restart {number} as {member} (pid {run.worker.proc.pid})")  # type: ignore[union-attr]
    run.worker.wait_health(lambda body: body.get("status") == "ok", STEP_TIMEOUT)
    await run.publish_days(len(run.data.days), "the rest, after the last restart")
    drained = await run.drain()
    run.say("drained" if drained else "NOT drained")
    return await run.collect(drained)


async def _stop_behind(run: Run, step: Step, label: str) -> None:
    """mid_batch, sigterm, pace: stop (or not) once a share of the backlog is handled."""
    await run.publish_days(step.up, "to be behind")
    # This process handles the input from the group's offsets at its start to the end, so its
    # event counter (from 0) tells how far it has got; the committed offsets lag behind that.
    ends = sum(end for _, end in (await run.probe.positions(run.inputs)).values())
    start = run.events() or 0.0
    backlog = max(0, ends - run.base - int(start))
    target = start + max(1, int(step.fraction * backlog))
    deadline = time.monotonic() + STEP_TIMEOUT
    handled = start
    while not run.exited():
        handled = run.events() or handled
        if handled >= target or handled >= ends - run.base:
            break
        if time.monotonic() > deadline:
            run.note(f"{label}: stall: {handled:.0f} of {target:.0f} events in {STEP_TIMEOUT} s")
            break
        await asyncio.sleep(0.05)
    else:
        run.note(f"{label}: the worker exited by itself ({run.returncode()})")
        return
    if step.kind == "pace":
        run.say(f"{label}: paused having handled {handled - start:.0f} of {backlog}; no stop")
        return
    if step.kind == "sigterm":
        clean = run.worker.stop(signal.SIGTERM)
        how = f"SIGTERM, {run.returncode()}" + ("" if clean else " after SIGKILL")
        if not clean:
            run.note(f"{label}: SIGTERM did not stop the worker within 30 s")
    else:
        run.kill()
        how = "kill -9"
    lag = await run.probe.lag(run.inputs)
    run.say(
        f"{label}: {how} having handled {handled - start:.0f} events of a backlog of {backlog}; "
        f"{lag} input messages past the committed offsets"
    )


async def _after_webhook(run: Run, step: Step, label: str) -> None:
    fired = threading.Event()
    answers: list[str] = []
    proc = run.worker.proc
    assert proc is not None

    def on_answer(received: Received) -> None:
        answers.append(received.headers.get("webhook-id", "?"))
        if len(answers) >= step.nth and not fired.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            fired.set()

    run.hook.on_answer = on_answer
    try:
        await run.publish_days(step.up, "for alert changes to deliver")
        deadline = time.monotonic() + STEP_TIMEOUT
        while not fired.is_set() and not run.exited() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        run.hook.on_answer = None
    if not fired.is_set() and run.exited():
        run.note(f"{label}: the worker exited by itself ({run.returncode()})")
        return
    if not fired.is_set():
        run.note(f"{label}: no webhook 2xx #{step.nth} within {STEP_TIMEOUT} s; killed anyway")
    run.kill()
    lag = await run.probe.lag(run.inputs)
    run.say(f"{label}: kill -9 right after 2xx to {answers[-1:]}; input lag {lag}")


async def _recovery(run: Run, step: Step, label: str) -> None:
    """Kill at the nth /health answer "recovering" (20 ms apart) after the restart, or as soon as
    the worker leaves recovery before that."""
    recovering = 0
    deadline = time.monotonic() + STEP_TIMEOUT
    body: dict[str, Any] = {}
    while not run.exited() and time.monotonic() < deadline:
        answer = run.worker.health_status()
        if answer is not None:
            code, body = answer
            status = body.get("status")
            recovering += status == "recovering"
            left = recovering > 0 and status != "recovering"
            if recovering >= step.nth or left or code == 200:
                break
        await asyncio.sleep(0.02)
    if run.exited():
        run.note(f"{label}: the worker exited by itself ({run.returncode()})")
        return
    run.kill()
    run.say(f"{label}: kill -9 at /health {body} (answer {recovering} saying recovering)")


STEPS = {
    "mid_batch": _stop_behind,
    "sigterm": _stop_behind,
    "pace": _stop_behind,
    "after_webhook": _after_webhook,
    "recovery": _recovery,
}


async def run_and_compare(
    bootstrap: str,
    workdir: Path,
    seed: int,
    kills: int,
    sigterms: int,
    runs: list[Run],
    *,
    control: bool = False,
) -> tuple[Differences, Outcome, Outcome]:
    """The reference run, then the crash run of the same seeded input, compared. Every run is
    appended to ``runs`` as it starts, so that the caller can kill what is left on failure.
    ``control``: the crash run's plan without its stops (a check of the harness itself)."""
    data = generate(seed)
    plan = make_plan(seed, kills, sigterms, len(data.days), control=control)
    print(
        f"crash test, seed {seed}: {len(data.locations)} locations, {len(data.reports)} reports "
        f"over {len(data.days)} days; {kills} kills, {sigterms} SIGTERM restarts",
        flush=True,
    )
    for number, step in enumerate(plan.steps, 1):
        print(f"  step {number}: {step.describe()}", flush=True)
    reference = Run(f"reference-{seed}", bootstrap, workdir / f"reference-{seed}", data)
    runs.append(reference)
    try:
        expected = await reference_run(reference)
    finally:
        await reference.aclose()
    problems = self_check(expected)
    assert not problems, "the reference run itself is not usable:\n" + "\n".join(problems)
    crashed_run = Run(f"crash-{seed}", bootstrap, workdir / f"crash-{seed}", data)
    runs.append(crashed_run)
    try:
        crashed = await crash_run(crashed_run, plan)
    finally:
        await crashed_run.aclose()
    return compare(expected, crashed), expected, crashed
