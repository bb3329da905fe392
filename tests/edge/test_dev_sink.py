"""The webhook sink of the demo, the benchmark and the integration tests (streams/dev/sink.py)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from streams.dev.sink import Delivery, WebhookSink


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_records_path_headers_body_and_raw_bytes() -> None:
    with WebhookSink() as sink:
        raw = json.dumps({"a": 1}).encode()
        assert _post(sink.url, raw, {"X-Test": "yes"}) == 204
        assert sink.wait_for(1, timeout=5)
    [delivery] = sink.deliveries
    assert delivery.path == "/hooks/opvangwacht"
    assert delivery.headers["x-test"] == "yes"
    assert delivery.body == {"a": 1}
    assert delivery.raw == raw
    assert delivery.arrived > 0


def test_refuses_with_the_status_it_is_given_and_keeps_nothing() -> None:
    with WebhookSink(status=503) as sink:
        assert _post(sink.url, b"{}") == 503
        sink.status = 200
        assert _post(sink.url_for("/other"), b"{}") == 200
    assert sink.refused == 1
    assert [d.path for d in sink.deliveries] == ["/other"]


def test_a_failed_check_is_401_and_counted() -> None:
    with WebhookSink(verify=lambda headers, raw: headers.get("sig") == "ok") as sink:
        assert _post(sink.url, b"{}", {"sig": "bad"}) == 401
        assert _post(sink.url, b"{}", {"sig": "ok"}) == 204
    assert sink.bad_signatures == 1
    assert len(sink.deliveries) == 1


def test_on_answer_sees_each_kept_delivery_and_reset_forgets() -> None:
    seen: list[Delivery] = []
    answered = threading.Event()

    def on_answer(delivery: Delivery) -> None:
        seen.append(delivery)
        answered.set()

    with WebhookSink(on_answer=on_answer, keep_alive=True) as sink:
        assert _post(sink.url, b'{"n": 1}') == 204
        assert _post(sink.url, b"not json") == 400
        assert answered.wait(5)
        assert sink.snapshot() == seen
        sink.reset()
        assert sink.deliveries == []
    assert [d.body for d in seen] == [{"n": 1}]
