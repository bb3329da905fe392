"""The one contract every Notifier keeps, the webhook's wire format, and the retry schedule.

Add a channel by adding a factory to ``NOTIFIERS``: every contract test then runs against it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import socket
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from alerts.model import AlertEvent, AlertStatus, Severity, Subject, SubjectKind
from alerts.notify import DeliveryError, DeliveryResult, Notifier, WebhookNotifier
from alerts.notify.retry import RetryPolicy
from alerts.notify.webhook import parse_retry_after

QUERY_SECRET = "qs-s3cr3t-7f1e"
HEADER_SECRET = "hdr-s3cr3t-9a2b"
USER_SECRET = "pw-s3cr3t-41c0"
SECRETS = (QUERY_SECRET, HEADER_SECRET, USER_SECRET)

EVENT = AlertEvent(
    alert_id="cap_exceeded-ter-apel-bcac4a9220",
    rule="cap_exceeded",
    status=AlertStatus.FIRING,
    severity=Severity.CRITICAL,
    subject=Subject(SubjectKind.LOCATION, "ter-apel"),
    province="GR",
    municipality_code="GM1950",
    value=2380,
    threshold=2000,
    summary="Ter Apel: 2.380 personen, 380 boven de afgesproken grens van 2.000",
    starts_at="2024-07-02T09:00:00+02:00",
    ends_at=None,
    event_date=dt.date(2024, 7, 2),
    revision=3,
    headroom=-380,
    cap_source="Afspraak COA-Westerwolde",
    labels={"team": "coa-noord"},
)

# A factory builds a notifier named "ops" that delivers to ``url`` through ``client``, sending
# ``headers`` with every request and giving up after ``timeout`` seconds.
NotifierFactory = Callable[[httpx.AsyncClient, str, Mapping[str, str], float], Notifier]


def _webhook(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], timeout: float
) -> Notifier:
    return WebhookNotifier("ops", url, client, timeout=timeout, headers=headers)


NOTIFIERS = [pytest.param(_webhook, id="webhook")]


def secret_url(base: str) -> str:
    """``base`` (scheme://host:port) with a password in the userinfo and a token in the query."""
    scheme, rest = base.split("://", 1)
    return f"{scheme}://alerts:{USER_SECRET}@{rest}/hook/coa?token={QUERY_SECRET}&x=1"


SECRET_HEADERS = {"authorization": f"Bearer {HEADER_SECRET}"}


def assert_no_secret(error: DeliveryError, notifier: Notifier) -> None:
    texts = [str(error), repr(error), repr(notifier), *map(str, error.args)]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def answer(status: int, headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    return mock_client(lambda request: httpx.Response(status, headers=dict(headers or {})))


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("make", NOTIFIERS)
@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_2xx_is_delivered(make: NotifierFactory, status: int) -> None:
    async with answer(status) as client:
        notifier = make(client, secret_url("https://hooks.example.nl"), SECRET_HEADERS, 5.0)
        result = await notifier.send(EVENT)
    assert isinstance(result, DeliveryResult)
    assert result.receiver == "ops"
    assert result.status_code == status
    assert result.latency_s >= 0


@pytest.mark.parametrize("make", NOTIFIERS)
@pytest.mark.parametrize(
    ("status", "recoverable"),
    [
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (408, True),
        (429, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (410, False),
        (422, False),
    ],
)
async def test_failed_status(make: NotifierFactory, status: int, recoverable: bool) -> None:
    async with answer(status) as client:
        notifier = make(client, secret_url("https://hooks.example.nl"), SECRET_HEADERS, 5.0)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(EVENT)
    error = caught.value
    assert error.recoverable is recoverable
    assert error.status_code == status
    assert error.receiver == "ops"
    assert error.retry_after is None
    assert str(status) in str(error)
    assert_no_secret(error, notifier)


@pytest.mark.parametrize("make", NOTIFIERS)
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_passed_on(make: NotifierFactory, status: int) -> None:
    async with answer(status, {"Retry-After": "7"}) as client:
        notifier = make(client, secret_url("https://hooks.example.nl"), SECRET_HEADERS, 5.0)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(EVENT)
    assert caught.value.recoverable is True
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("make", NOTIFIERS)
@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.WriteTimeout, httpx.PoolTimeout]
)
async def test_timeout_is_recoverable(
    make: NotifierFactory, exc: type[httpx.TimeoutException]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("timed out", request=request)

    async with mock_client(handler) as client:
        notifier = make(client, secret_url("https://hooks.example.nl"), SECRET_HEADERS, 5.0)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(EVENT)
    assert caught.value.recoverable is True
    assert caught.value.status_code is None
    assert_no_secret(caught.value, notifier)


@pytest.mark.parametrize("make", NOTIFIERS)
async def test_transport_error_is_recoverable(make: NotifierFactory) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    async with mock_client(handler) as client:
        notifier = make(client, secret_url("https://hooks.example.nl"), SECRET_HEADERS, 5.0)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(EVENT)
    assert caught.value.recoverable is True
    assert_no_secret(caught.value, notifier)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("make", NOTIFIERS)
async def test_connection_refused_is_recoverable(make: NotifierFactory) -> None:
    url = secret_url(f"http://127.0.0.1:{closed_port()}")
    async with httpx.AsyncClient(trust_env=False) as client:
        notifier = make(client, url, SECRET_HEADERS, 2.0)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(EVENT)
    error = caught.value
    assert error.recoverable is True
    assert error.status_code is None
    assert_no_secret(error, notifier)
    # not even in the chained httpx error a logger would print with the traceback
    printed = "".join(traceback.format_exception(error))
    assert all(secret not in printed for secret in SECRETS)


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A real server on 127.0.0.1 that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("make", NOTIFIERS)
async def test_real_timeout_is_recoverable(make: NotifierFactory, silent_server: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        notifier = make(client, secret_url(silent_server), SECRET_HEADERS, 0.2)
        with pytest.raises(DeliveryError) as caught:
            await asyncio.wait_for(notifier.send(EVENT), timeout=5)
    assert caught.value.recoverable is True
    assert_no_secret(caught.value, notifier)


@pytest.mark.parametrize("make", NOTIFIERS)
async def test_repr_hides_secrets(make: NotifierFactory) -> None:
    async with answer(200) as client:
        notifier = make(client, secret_url("https://hooks.example.nl"), SECRET_HEADERS, 5.0)
        text = repr(notifier)
    assert all(secret not in text for secret in SECRETS)
    assert notifier.name == "ops"
    assert isinstance(notifier.channel, str) and notifier.channel


# --------------------------------------------------------------------------- webhook wire format


async def test_webhook_request_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    url = "https://hooks.example.nl/hook/coa?token=abc"
    async with mock_client(handler) as client:
        notifier = WebhookNotifier("ops", url, client, headers={"x-team": "noord"})
        assert notifier.channel == "webhook"
        await notifier.send(EVENT)
        await notifier.send(EVENT)  # a retry carries the same delivery id
    assert len(seen) == 2
    for request in seen:
        assert request.method == "POST"
        assert str(request.url) == url
        assert request.headers["content-type"] == "application/json"
        assert request.headers["opvang-delivery-id"] == "cap_exceeded-ter-apel-bcac4a9220:3"
        assert request.headers["x-team"] == "noord"
        assert json.loads(request.content) == EVENT.to_dict()


async def test_repr_names_the_target_without_path_query_or_userinfo() -> None:
    # Slack-style URLs keep their secret in the path, so only scheme, host and port are shown.
    async with answer(200) as client:
        notifier = WebhookNotifier("ops", secret_url("https://hooks.example.nl:8443"), client)
    assert repr(notifier) == "WebhookNotifier('ops', 'https://hooks.example.nl:8443')"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    url: str
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """A real HTTP server in a thread on 127.0.0.1 that records each POST and answers 202."""
    box = LocalServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            box.received.append(Received(self.path, headers, body))
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_webhook_posts_the_event_to_a_real_server(local_server: LocalServer) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        notifier = WebhookNotifier(
            "ops",
            f"{local_server.url}/hook/coa?token=abc",
            client,
            timeout=5.0,
            headers={"authorization": "Bearer xyz"},
        )
        result = await notifier.send(EVENT)
    assert result == DeliveryResult("ops", 202, result.latency_s)
    assert len(local_server.received) == 1
    got = local_server.received[0]
    assert got.path == "/hook/coa?token=abc"
    assert json.loads(got.body) == EVENT.to_dict()
    assert json.loads(got.body)["summary"] == EVENT.summary  # UTF-8 text survives as is
    assert got.headers["opvang-delivery-id"] == "cap_exceeded-ter-apel-bcac4a9220:3"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["authorization"] == "Bearer xyz"


# --------------------------------------------------------------------------- Retry-After parsing


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        ("7", None, 7.0),
        (" 120 ", None, 120.0),
        ("0", None, 0.0),
        (None, None, None),
        ("", None, None),
        ("soon", None, None),
        ("-5", None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 30, 30.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 60, 0.0),
    ],
)
def test_parse_retry_after(value: str | None, now: float | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=now) == expected


# --------------------------------------------------------------------------- RetryPolicy


class _Edge(random.Random):
    """A random source that always picks one end of the range it is asked for."""

    def __init__(self, top: bool) -> None:
        super().__init__(0)
        self.top = top

    def uniform(self, a: float, b: float) -> float:
        return b if self.top else a


def test_delays_grow_then_cap() -> None:
    policy = RetryPolicy()  # 0.5 s, doubling, capped at 30 s
    tops = [policy.delay(n, _Edge(top=True)) for n in range(1, 10)]
    bottoms = [policy.delay(n, _Edge(top=False)) for n in range(1, 10)]
    assert tops == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert bottoms == [0.25, 0.5, 1, 2, 4, 8, 15, 15, 15]


def test_custom_policy_steps() -> None:
    policy = RetryPolicy(max_attempts=4, initial_delay=1.0, max_delay=10.0, multiplier=3.0)
    assert [policy.delay(n, _Edge(top=True)) for n in range(1, 6)] == [1, 3, 9, 10, 10]


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.25, 0.5), (2, 0.5, 1), (3, 1, 2), (5, 4, 8), (6, 8, 16), (7, 15, 30), (20, 15, 30)],
)
def test_full_jitter_stays_within_half_and_whole_step(
    attempt: int, low: float, high: float
) -> None:
    policy = RetryPolicy()
    rng = random.Random(20240702)
    delays = [policy.delay(attempt, rng) for _ in range(500)]
    assert all(low <= d <= high for d in delays)
    # it is jitter, not a constant: the draws spread over the range
    assert max(delays) - min(delays) > (high - low) / 2


def test_seeded_jitter_is_reproducible() -> None:
    policy = RetryPolicy()
    first = [policy.delay(n, random.Random(7)) for n in range(1, 7)]
    second = [policy.delay(n, random.Random(7)) for n in range(1, 7)]
    assert first == second


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, 7.0, 7.0),  # far above the 0.5 s step: the receiver's wish wins
        (2, 1.0, 1.0),  # the top of the step at attempt 2 is 1 s
        (1, 1000.0, 120.0),  # floor capped at four times max_delay
        (1, 0.0, 0.5),  # a zero floor leaves the jittered step
    ],
)
def test_retry_after_is_a_floor(attempt: int, retry_after: float, expected: float) -> None:
    policy = RetryPolicy()
    assert policy.delay(attempt, _Edge(top=True), retry_after=retry_after) == expected


def test_retry_after_below_the_step_does_not_shorten_it() -> None:
    policy = RetryPolicy()
    rng = random.Random(3)
    for _ in range(200):
        assert 4 <= policy.delay(5, rng, retry_after=0.1) <= 8


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up_after(n) for n in range(1, 6)] == [False, False, True, True, True]
    assert RetryPolicy().max_attempts == 6
    assert RetryPolicy().gives_up_after(5) is False
    assert RetryPolicy().gives_up_after(6) is True


def test_delay_is_capped_for_any_attempt() -> None:
    policy = RetryPolicy(max_attempts=5000)
    assert 15 <= policy.delay(1100, random.Random(1)) <= 30
