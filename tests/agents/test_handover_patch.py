"""The consumer's hand-over of a record to the streams without four tasks per record
(``streams.worker.faust_patches``, docs/performance.md 2026-12-04): every case gives what Faust's
own ``Service.wait_first`` gives, and only a hand-over that really waits goes through it."""

from __future__ import annotations

import asyncio
import gc
import inspect
import textwrap
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from mode import Service
from mode.utils.locks import Event

from streams.settings import Settings, load_alerting_config
from streams.worker import faust_patches
from streams.worker.app import build_worker


class Faustish(Service):  # type: ignore[misc]  # mode's Service is untyped for mypy
    """Any service, with Faust's wait_first."""


class Patched(Service):  # type: ignore[misc]
    """The same, with the consumer's wait_first as the worker installs it."""

    wait_first = faust_patches._consumer_wait_first


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []


Scenario = Callable[[Log, Event, asyncio.Future[Any]], Awaitable[Any]]


async def at_once(log: Log, flow: Event, gate: asyncio.Future[Any]) -> Any:
    log.lines.append("handed over")
    return "done"


async def after_a_lock(log: Log, flow: Event, gate: asyncio.Future[Any]) -> Any:
    async with asyncio.Lock():  # free: taken without waiting, as Faust's conductor lock is
        log.lines.append("handed over")
    return 7


async def waits_for_room(log: Log, flow: Event, gate: asyncio.Future[Any]) -> Any:
    log.lines.append("buffer full")
    asyncio.get_running_loop().call_later(0.01, gate.set_result, "room")
    room = await gate
    log.lines.append(f"handed over after {room}")
    await asyncio.sleep(0)  # and a bare yield to the loop after that
    return room


async def stuck_until_the_flow_stops(log: Log, flow: Event, gate: asyncio.Future[Any]) -> Any:
    log.lines.append("buffer full")
    asyncio.get_running_loop().call_later(0.01, flow.set)
    try:
        await gate  # never set: a rebalance suspends the flow instead
    except asyncio.CancelledError:
        log.lines.append("abandoned")
        raise
    return "never"


async def yields_until_the_flow_stops(log: Log, flow: Event, gate: asyncio.Future[Any]) -> Any:
    log.lines.append("waiting its turn")
    asyncio.get_running_loop().call_later(0.01, flow.set)
    try:
        for _ in range(10_000):  # bare yields: the cancellation is thrown in, not a future's
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        log.lines.append("abandoned")
        raise
    log.lines.append("ran on")
    return "never"


async def fails_at_once(log: Log, flow: Event, gate: asyncio.Future[Any]) -> Any:
    log.lines.append("decoding")
    raise ValueError("bad record")


async def fails_after_waiting(log: Log, flow: Event, gate: asyncio.Future[Any]) -> Any:
    asyncio.get_running_loop().call_later(0.01, gate.set_exception, KeyError("gone"))
    await gate
    return "never"


SCENARIOS = [
    at_once,
    after_a_lock,
    waits_for_room,
    stuck_until_the_flow_stops,
    yields_until_the_flow_stops,
    fails_at_once,
    fails_after_waiting,
]


async def run(service: Service, scenario: Scenario) -> tuple[Any, list[str]]:
    """What Faust's record loop does with one record: ``wait_first(handover, flow.wait())``."""
    log, flow = Log(), Event()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    beside = flow.wait()
    try:
        result = await service.wait_first(scenario(log, flow, gate), beside)
        outcome: Any = (
            [getattr(c, "__name__", type(c).__name__) for c in result.done],
            result.results,
            result.stopped,
        )
    except Exception as exc:  # the outcome compared
        outcome = repr(exc)
    await asyncio.sleep(0.02)  # cancellations and late callbacks settle
    # The flow event's wait never lingers: run and cancelled by Faust, or closed unstarted.
    assert inspect.getcoroutinestate(beside) == inspect.CORO_CLOSED
    return outcome, log.lines


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_the_patched_wait_first_gives_what_faust_gives(scenario: Scenario) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" fails the test
        by_faust = await run(Faustish(), scenario)
        patched = await run(Patched(), scenario)
        gc.collect()
    faust_outcome, faust_log = by_faust
    patched_outcome, patched_log = patched
    assert patched_log == faust_log
    if isinstance(faust_outcome, str):
        assert patched_outcome == faust_outcome  # the same error
        return
    # Faust names its winners by the coroutine it was given; the patch by the same coroutine,
    # or by the wrapper it resumed it in. The results and the stopped flag are the same.
    assert patched_outcome[1:] == faust_outcome[1:]
    assert len(patched_outcome[0]) == len(faust_outcome[0])


async def test_a_hand_over_that_finishes_at_once_makes_no_task(monkeypatch: Any) -> None:
    calls: list[int] = []
    original = faust_patches._wait_first

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args))
        return await original(*args, **kwargs)

    monkeypatch.setattr(faust_patches, "_wait_first", counted)
    await run(Patched(), at_once)
    await run(Patched(), after_a_lock)
    assert calls == []
    await run(Patched(), waits_for_room)
    await run(Patched(), stuck_until_the_flow_stops)
    assert calls == [3, 3]  # the service, the resumed hand-over, the flow event


async def test_other_waits_keep_faust_s_wait_first() -> None:
    """``Service.wait`` (one event, a timeout) and anything not shaped like the record loop's call
    take Faust's way unchanged."""
    service, event = Patched(), Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert (await service.wait(event)).stopped is False
    result = await service.wait_first(asyncio.sleep(10), timeout=0.01)
    assert (result.done, result.stopped) == ([], True)


def test_faust_s_record_loop_is_the_call_the_patch_was_written_for() -> None:
    """The consumer calls ``wait_first`` in one place, with the hand-over first and the flow event
    second, and ignores what it returns; if a new Faust changes that, read it again."""
    source = textwrap.dedent(inspect.getsource(Consumer))
    assert source.count("wait_first(") == 1
    loop = textwrap.dedent(inspect.getsource(Consumer._drain_messages))
    call = "await self.wait_first(\n" in loop and "callback(message), self.suspend_flow.wait()"
    assert call, loop
    assert "= await self.wait_first(" not in loop


def test_the_worker_installs_it() -> None:
    build_worker(Settings(), load_alerting_config(None))
    assert faust_patches.installed()
    assert Consumer.wait_first is faust_patches._consumer_wait_first
    assert Service.wait_first is faust_patches._wait_first  # other services keep Faust's


class _Fetching:
    """What ``Consumer.on_buffer_full`` touches: the partitions being fetched."""

    def __init__(self, *tps: str) -> None:
        self.app = type("App", (), {"in_recovery": False})()
        self.active = set(tps)
        self._buffered_partitions: set[str] = set()

    def _get_active_partitions(self) -> set[str]:
        return self.active


def test_a_full_stream_buffer_stops_the_fetching_of_no_single_partition() -> None:
    """Faust stopped fetching the one partition whose record found the buffer four fifths full,
    and the report agent's two topics then drifted days apart (docs/performance.md, 2026-12-04
    night); the worker leaves every partition fetched, and the record waits for room."""
    build_worker(Settings(), load_alerting_config(None))
    consumer = _Fetching("occupancy-0", "intake-0")
    Consumer.on_buffer_full(consumer, "occupancy-0")
    assert consumer.active == {"occupancy-0", "intake-0"}
    assert consumer._buffered_partitions == set()


def test_faust_s_conductor_waits_for_room_in_a_full_buffer() -> None:
    """What the worker relies on instead: a record that finds its stream's buffer full is put
    when there is room (awaited in the hand-over), not dropped."""
    from faust.transport import conductor

    source = textwrap.dedent(inspect.getsource(conductor))
    assert "if queue.full():" in source and "full.append((event, chan))" in source
    assert "dest_chan.put(dest_event)" in source and "return_when=asyncio.ALL_COMPLETED" in source
