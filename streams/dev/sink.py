"""The webhook sink: a webhook receiver on loopback, for the demo, the benchmark and the tests.

It accepts JSON POSTs, keeps them in memory in arrival order (path, headers, body, raw bytes,
arrival time) and answers 204. What a test or a benchmark needs beyond that is a parameter: another
status to answer (a 4xx or 5xx is counted as refused and not kept), a delay before answering, a
check of each request (a signature, say; a failed one is answered 401 and counted), and a callback
right after a 2xx answer went out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Delivery", "WebhookSink"]


@dataclass(frozen=True, slots=True)
class Delivery:
    path: str
    #: header names in lower case
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes = b""
    #: time.time() when the request had been read
    arrived: float = 0.0


class WebhookSink:
    """``WebhookSink().start()``; ``url`` is where to post; ``stop()`` (or ``with``) ends it.

    ``status`` (what to answer, settable while running; >= 300 refuses), ``delay`` (seconds
    before answering), ``verify`` (called with the lower-case headers and the raw body; False is
    answered 401 and counted in ``bad_signatures``) and ``on_answer`` (called in the server's
    thread right after a 2xx answer went out: the moment a sender has its confirmation).
    ``keep_alive`` answers HTTP/1.1 and keeps connections open (a thread for each), as a
    production receiver would; by default each request has a connection of its own (HTTP/1.0).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        path: str = "/hooks/opvangwacht",
        status: int = 204,
        delay: float = 0.0,
        verify: Callable[[dict[str, str], bytes], bool] | None = None,
        on_answer: Callable[[Delivery], None] | None = None,
        keep_alive: bool = False,
    ) -> None:
        self.deliveries: list[Delivery] = []
        self.path = path
        self.status = status
        self.delay = delay
        self.verify = verify
        self.on_answer = on_answer
        #: requests answered with a status >= 300 (not kept)
        self.refused = 0
        #: requests ``verify`` turned down (answered 401, not kept)
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                arrived = time.time()
                headers = {k.lower(): v for k, v in self.headers.items()}
                if sink.verify is not None and not sink.verify(headers, raw):
                    with sink._lock:
                        sink.bad_signatures += 1
                    self._answer(401)
                    return
                status = sink.status
                if status >= 300:
                    with sink._lock:
                        sink.refused += 1
                    self._answer(status)
                    return
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self._answer(400)
                    return
                if sink.delay:
                    time.sleep(sink.delay)
                delivery = Delivery(self.path, headers, body, raw, arrived)
                with sink._arrived:
                    sink.deliveries.append(delivery)
                    sink._arrived.notify_all()
                self._answer(status)
                if sink.on_answer is not None:
                    sink.on_answer(delivery)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                if status != 204:
                    self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.url_for(self.path)

    def url_for(self, path: str) -> str:
        """The sink's address with another ``path`` (all paths are accepted and recorded)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def start(self) -> WebhookSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> list[Delivery]:
        """The deliveries so far, as a list of their own."""
        with self._lock:
            return list(self.deliveries)

    def reset(self) -> None:
        """Forget the deliveries and the counts so far."""
        with self._lock:
            self.deliveries.clear()
            self.refused = 0
            self.bad_signatures = 0

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` deliveries arrived, or ``timeout`` seconds passed."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
