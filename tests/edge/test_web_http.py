"""The web edge's shared pieces (streams.web.http): the body reader and the page's policy, on a
real aiohttp server (aiohttp's test client), without Kafka or Faust."""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.web.http import (
    DEFAULT_POLICY,
    MAX_BODY_BYTES,
    BodyError,
    form_fields,
    install,
    json_object,
    optional_text,
    page_policy,
    read_json_object,
)


async def _echo(request: web.Request) -> web.Response:
    try:
        body = await read_json_object(request)
        return web.json_response({"by": optional_text(body, "by")})
    except BodyError as exc:
        return web.json_response({"error": exc.reason}, status=exc.status)


@pytest.fixture
async def client() -> Any:
    app = web.Application()
    app.router.add_post("/echo", _echo)
    install(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b'{"by": "ops"}', 200, None),
        (b"[" * 10_000 + b"]" * 10_000, 400, "depth limit exceeded"),
        (b'{"by": "\xff"}', 400, "not valid UTF-8"),
        (b'{"by": "\\ud800"}', 400, "surrogate"),
        (b'{"by": ' + b"9" * 5000 + b"}", 400, "not JSON"),
        (b"[1, 2]", 400, "send a JSON object"),
        (b'"ops"', 400, "send a JSON object"),
        (b"", 400, "send a JSON object"),
        (b"{not json", 400, "not JSON"),
        (b'{"by": 5}', 400, "by must be a string"),
        (b'{"by": {"a": 1}}', 400, "by must be a string"),
        (b'{"by": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}', 413, "larger than 64 KiB"),
    ],
    ids=[
        "object",
        "nested-10000-deep",
        "invalid-utf8",
        "lone-surrogate",
        "5000-digit-number",
        "array",
        "string",
        "empty",
        "not-json",
        "number-for-text",
        "object-for-text",
        "too-large",
    ],
)
async def test_a_body_is_read_or_refused_with_400_or_413(
    client: TestClient, body: bytes, status: int, reason: str | None
) -> None:
    response = await client.post("/echo", data=body)
    assert response.status == status
    answer = await response.json()
    if reason is not None:
        assert reason in answer["error"]
        assert "\n" not in answer["error"]


async def test_a_large_chunked_body_is_refused_without_reading_it_all(client: TestClient) -> None:
    async def chunks() -> Any:
        for _ in range(1000):
            yield b"x" * 1024

    response = await client.post("/echo", data=chunks())
    assert response.status == 413


async def test_every_answer_says_nosniff_and_has_a_policy(client: TestClient) -> None:
    for response in (
        await client.post("/echo", data=b'{"by": "ops"}'),
        await client.post("/echo", data=b"x"),
        await client.get("/nowhere"),  # aiohttp's own 404
        await client.get("/echo"),  # aiohttp's own 405
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == DEFAULT_POLICY


def test_json_object_may_take_an_empty_body() -> None:
    assert json_object(b"", empty=True) == {}
    assert json_object(b"  \n", empty=True) == {}
    with pytest.raises(BodyError):
        json_object(b"[]", empty=True)


def test_form_fields_keep_order_and_repeats_and_refuse_bad_utf8() -> None:
    assert form_fields(b"b=2&a=1&a=0&c=") == [("b", "2"), ("a", "1"), ("a", "0"), ("c", "")]
    for raw in (b"a=%ff", b"a=\xff"):
        with pytest.raises(BodyError) as refused:
            form_fields(raw)
        assert refused.value.status == 400


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_page_policy_allows_the_pages_own_script_and_style_by_hash() -> None:
    html = (
        "<!-- <script>not this</script> -->"
        "<style>body { color: red; }</style><script>\nlet a = 1;\n</script>"
    )
    policy = page_policy(html)
    assert f"script-src {_sha256(chr(10) + 'let a = 1;' + chr(10))};" in policy
    assert f"style-src {_sha256('body { color: red; }')};" in policy
    assert "unsafe-inline" not in policy and "default-src 'none'" in policy
    assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_a_script_file_of_the_worker_is_allowed_as_self_and_nothing_else_is() -> None:
    own = page_policy('<script src="actions.js" defer></script>')
    assert "script-src 'self';" in own
    for other in (
        '<script src="https://cdn.example/x.js"></script>',
        '<script src="//cdn.example/x.js"></script>',
        '<!-- <script src="actions.js"></script> -->',
    ):
        assert "script-src 'none';" in page_policy(other), other


def test_the_status_page_has_one_script_and_one_style_and_no_inline_handlers() -> None:
    page = (resources.files("streams") / "web" / "index.html").read_text(encoding="utf-8")
    policy = page_policy(page)
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    # Its inline script by hash, and its one script file (actions.js) from the worker itself.
    assert [s[:8] for s in directives["script-src"].split()] == ["'sha256-", "'self'"]
    assert page.count("<script src=") == 1 and '<script src="actions.js"' in page
    assert len(directives["style-src"].split()) == 1
    assert 'setAttribute("style"' not in page
    assert " onclick=" not in page and " onload=" not in page
    json.dumps(policy)  # one header value: no newline in it
    assert "\n" not in policy
