"""The one contract every Notifier keeps, run over every channel (``fakes.channels.CHANNELS``).

2xx delivered; 5xx, 408, 429, timeouts and refused connections recoverable; other 4xx not; a
Retry-After passed on; and no secret, token, full phone number or URL path in any error text, repr
or traceback. Status matrices use httpx.MockTransport; everything else a real fake provider on
127.0.0.1. Add a channel to CHANNELS and all of this runs against it.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable

import httpx
import pytest
from fakes.channels import CHANNELS, EVENT, SECRETS, Channel
from fakes.servers import closed_port

from alerts.notify.base import DeliveryError, DeliveryResult, Notifier

ALL = [pytest.param(c, id=c.id) for c in CHANNELS]


def texts_of(error: DeliveryError, notifier: Notifier) -> list[str]:
    return [
        str(error),
        repr(error),
        repr(notifier),
        *map(str, error.args),
        "".join(traceback.format_exception(error)),
    ]


def assert_no_secret(error: DeliveryError, notifier: Notifier) -> None:
    for text in texts_of(error, notifier):
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} in {text!r}"


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def answer(status: int, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return mock_client(lambda request: httpx.Response(status, headers=headers or {}))


BASE = "https://provider.example.nl"


# --------------------------------------------------------------------------- status matrix (mock)


@pytest.mark.parametrize("channel", ALL)
@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_2xx_is_delivered(channel: Channel, status: int) -> None:
    async with answer(status) as client:
        notifier = channel.notifier(client, BASE)
        result = await notifier.send(EVENT)
    assert isinstance(result, DeliveryResult)
    assert (result.receiver, result.status_code) == ("ops", status)
    assert result.latency_s >= 0


@pytest.mark.parametrize("channel", ALL)
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
async def test_failed_status(channel: Channel, status: int, recoverable: bool) -> None:
    async with answer(status) as client:
        notifier = channel.notifier(client, BASE)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(EVENT)
    error = caught.value
    assert error.recoverable is recoverable
    assert error.status_code == status
    assert error.receiver == "ops"
    assert error.retry_after is None
    assert str(status) in str(error)
    # only a webhook's 410 asks to switch the receiver off
    assert error.disable is (status == 410 and channel.id == "webhook")
    assert_no_secret(error, notifier)


@pytest.mark.parametrize("channel", ALL)
@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout,
        httpx.ConnectTimeout,
        httpx.WriteTimeout,
        httpx.PoolTimeout,
        httpx.RemoteProtocolError,
        httpx.ConnectError,
        httpx.ReadError,
    ],
)
async def test_timeouts_and_transport_errors_are_recoverable(
    channel: Channel, exc: type[httpx.TransportError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(f"failed on {request.url}", request=request)

    async with mock_client(handler) as client:
        notifier = channel.notifier(client, BASE)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(EVENT)
    assert caught.value.recoverable is True
    assert caught.value.status_code is None
    assert_no_secret(caught.value, notifier)


# --------------------------------------------------------------------------- real fake providers


@pytest.mark.parametrize("channel", ALL)
async def test_delivered_by_the_fake_provider(channel: Channel) -> None:
    with channel.fake() as fake:
        async with httpx.AsyncClient(trust_env=False) as client:
            result = await channel.notifier(client, fake.url).send(EVENT)
    assert result.status_code == channel.success
    assert fake.requests, "nothing reached the fake"
    if channel.id.startswith("sms") or channel.id == "pagerduty":
        assert result.provider_id  # recorded before any retry is decided


@pytest.mark.parametrize("channel", ALL)
@pytest.mark.parametrize("status", [500, 503, 502])
async def test_5xx_from_the_provider_is_recoverable(channel: Channel, status: int) -> None:
    with channel.fake() as fake:
        fake.fail(status)
        async with httpx.AsyncClient(trust_env=False) as client:
            notifier = channel.notifier(client, fake.url)
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(EVENT)
            # the provider is back: the next attempt goes through
            await notifier.send(EVENT)
    assert caught.value.recoverable is True
    assert caught.value.status_code == status
    assert_no_secret(caught.value, notifier)


@pytest.mark.parametrize("channel", ALL)
@pytest.mark.parametrize(("status", "header"), [(429, "7"), (503, "7"), (429, "120")])
async def test_retry_after_is_passed_on(channel: Channel, status: int, header: str) -> None:
    with channel.fake() as fake:
        fake.fail(status, retry_after=header)
        async with httpx.AsyncClient(trust_env=False) as client:
            notifier = channel.notifier(client, fake.url)
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(EVENT)
    assert caught.value.recoverable is True
    assert caught.value.retry_after == float(header)


#: Channels that authenticate their caller (the webhook and Alertmanager fakes take anyone).
WITH_CREDENTIALS = [c for c in ALL if c.id not in ("webhook", "alertmanager")]


@pytest.mark.parametrize("channel", WITH_CREDENTIALS)
async def test_wrong_credentials_are_not_recoverable(channel: Channel) -> None:
    with channel.fake() as fake:
        fake_cred = {"token": "wrong", "access_key": "wrong", "auth_token": "wrong"}
        for attribute, value in fake_cred.items():
            if hasattr(fake, attribute):
                setattr(fake, attribute, value)
        if hasattr(fake, "routing_key"):
            fake.routing_key = "wrong"  # type: ignore[attr-defined]
        async with httpx.AsyncClient(trust_env=False) as client:
            notifier = channel.notifier(client, fake.url)
            with pytest.raises(DeliveryError) as caught:
                await notifier.send(EVENT)
    assert caught.value.recoverable is False
    assert caught.value.status_code in (400, 401)
    assert_no_secret(caught.value, notifier)


@pytest.mark.parametrize("channel", ALL)
async def test_timeout_past_the_limit_is_recoverable(channel: Channel) -> None:
    with channel.fake() as fake:
        fake.delay(3.0)
        async with httpx.AsyncClient(trust_env=False) as client:
            notifier = channel.notifier(client, fake.url, timeout=0.2)
            with pytest.raises(DeliveryError) as caught:
                await asyncio.wait_for(notifier.send(EVENT), timeout=5)
    assert caught.value.recoverable is True
    assert caught.value.status_code is None
    assert "timed out" in str(caught.value)
    assert_no_secret(caught.value, notifier)


@pytest.mark.parametrize("channel", ALL)
async def test_connection_refused_is_recoverable(channel: Channel) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        notifier = channel.notifier(client, f"http://127.0.0.1:{closed_port()}", timeout=2.0)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(EVENT)
    assert caught.value.recoverable is True
    assert caught.value.status_code is None
    assert_no_secret(caught.value, notifier)


@pytest.mark.parametrize("channel", ALL)
async def test_repr_names_the_host_only(channel: Channel) -> None:
    async with answer(200) as client:
        notifier = channel.notifier(client, "https://provider.example.nl:8443")
    text = repr(notifier)
    assert all(secret not in text for secret in SECRETS), text
    assert "provider.example.nl:8443" in text
    assert notifier.name == "ops"
    assert notifier.channel in ("webhook", "sms", "pagerduty", "alertmanager")
