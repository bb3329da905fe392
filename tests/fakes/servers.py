"""Small HTTP servers on loopback that answer like CM.com, MessageBird, Twilio, PagerDuty Events
API v2, Alertmanager API v2 and a webhook receiver, as each documents its requests and responses.

Each records every request (:attr:`FakeServer.requests`) and can be told to misbehave for the next
N requests: ``fail(500)``, ``fail(429, retry_after=7)``, ``fail(410)``, ``delay(2.0)`` (answer only
after the client's timeout). Credentials are checked the way the provider does (a wrong token gets
the provider's own 400/401), so a notifier that sends them wrongly fails its test.

    with CmFake(token="...") as cm:
        ... SmsNotifier(base_url=cm.url) ...
        assert cm.requests[0].json()["messages"]["msg"][0]["body"]["type"] == "auto"
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass
class Reply:
    status: int
    body: Any = None  # bytes, or anything JSON
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


@dataclass
class _Misbehave:
    status: int | None
    delay: float
    headers: dict[str, str]


class FakeServer:
    """Base: a threaded HTTP server that records requests and answers through :meth:`answer`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._plan: deque[_Misbehave] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake._lock:
                    fake.requests.append(recorded)
                    action = fake._plan.popleft() if fake._plan else None
                if action is not None and action.delay:
                    fake._stopping.wait(action.delay)
                if action is not None and action.status is not None:
                    reply = Reply(action.status, {"error": "on demand"}, action.headers)
                else:
                    reply = fake.answer(recorded)
                data = reply.encoded()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if data and "content-type" not in {k.lower() for k in reply.headers}:
                        self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        with self._lock:
            self._plan.extend(_Misbehave(status, 0.0, extra) for _ in range(times))

    def delay(self, seconds: float, *, times: int = 1) -> None:
        """Answer the next ``times`` requests only after ``seconds`` (past a client's timeout)."""
        with self._lock:
            self._plan.extend(_Misbehave(None, seconds, {}) for _ in range(times))

    def recover(self) -> None:
        """Forget the misbehaviour still planned: from now on, answer normally."""
        with self._lock:
            self._plan.clear()

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # ------------------------------------------------------------------ behaviour

    def answer(self, request: Recorded) -> Reply:
        return Reply(404, {"error": "not found"})

    @staticmethod
    def _json_body(request: Recorded) -> Any:
        try:
            return request.json()
        except ValueError:
            return None


class WebhookReceiver(FakeServer):
    """Takes any POST and answers 204; the test verifies what was recorded."""

    def answer(self, request: Recorded) -> Reply:
        if request.method != "POST":
            return Reply(405)
        return Reply(204)


class CmFake(FakeServer):
    """CM.com Business Messaging JSON gateway: ``POST /v1.0/message``."""

    def __init__(self, token: str, reject: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.token = token
        self.reject = reject  # numbers (as sent, 00...) to answer Rejected

    def answer(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/v1.0/message":
            return Reply(404)
        body = self._json_body(request)
        token = request.headers.get("x-cm-producttoken")
        if token is None and isinstance(body, dict):
            token = body.get("messages", {}).get("authentication", {}).get("productToken")
        if token != self.token:
            return Reply(
                400,
                {
                    "details": "No account found for the given authentication",
                    "errorCode": 101,
                    "messages": [],
                },
            )
        msgs = body.get("messages", {}).get("msg") if isinstance(body, dict) else None
        if not isinstance(msgs, list) or not msgs:
            return Reply(400, {"details": "No message found", "errorCode": 201, "messages": []})
        results = []
        for msg in msgs:
            content = msg.get("body", {}).get("content")
            for to in msg.get("to", []):
                number = str(to.get("number", ""))
                ok = (
                    bool(content)
                    and bool(msg.get("from"))
                    and re.fullmatch(r"(00|\+)\d{8,15}", number) is not None
                    and number not in self.reject
                )
                results.append(
                    {
                        "to": number,
                        "status": "Accepted" if ok else "Rejected",
                        "reference": msg.get("reference"),
                        "parts": 1 if ok else 0,
                        "messageDetails": None if ok else f"Gsm '{number}' is not a number.",
                        "messageErrorCode": 0 if ok else 303,
                    }
                )
        accepted = sum(1 for r in results if r["status"] == "Accepted")
        return Reply(
            200 if accepted else 400,
            {"details": f"Created {accepted} message(s)", "errorCode": 0, "messages": results},
        )


class MessageBirdFake(FakeServer):
    """MessageBird SMS API: ``POST /messages`` with ``Authorization: AccessKey <key>``."""

    def __init__(self, access_key: str) -> None:
        super().__init__()
        self.access_key = access_key

    def answer(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/messages":
            return Reply(404)
        if request.headers.get("authorization") != f"AccessKey {self.access_key}":
            return Reply(
                401,
                {
                    "errors": [
                        {
                            "code": 2,
                            "description": "Request not allowed (incorrect access_key)",
                            "parameter": "access_key",
                        }
                    ]
                },
            )
        body = self._json_body(request)
        if not isinstance(body, dict):
            return Reply(
                422, {"errors": [{"code": 9, "description": "bad body", "parameter": None}]}
            )
        for name in ("originator", "body", "recipients"):
            if not body.get(name):
                return Reply(
                    422,
                    {
                        "errors": [
                            {"code": 9, "description": f"{name} is required", "parameter": name}
                        ]
                    },
                )
        message_id = uuid.uuid4().hex
        recipients = body["recipients"]
        return Reply(
            201,
            {
                "id": message_id,
                "href": f"{self.url}/messages/{message_id}",
                "direction": "mt",
                "type": "sms",
                "originator": body["originator"],
                "body": body["body"],
                "reference": body.get("reference"),
                "datacoding": body.get("datacoding", "plain"),
                "createdDatetime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "recipients": {
                    "totalCount": len(recipients),
                    "totalSentCount": len(recipients),
                    "totalDeliveredCount": 0,
                    "totalDeliveryFailedCount": 0,
                    "items": [{"recipient": r, "status": "sent"} for r in recipients],
                },
            },
        )


class TwilioFake(FakeServer):
    """Twilio Messages API: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form encoded,
    HTTP basic auth with the Account SID and auth token."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token

    def answer(self, request: Recorded) -> Reply:
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or not request.path.endswith("/Messages.json"):
            return Reply(404)
        if request.basic_auth() != (self.account_sid, self.auth_token) or request.path != expected:
            return Reply(
                401,
                {
                    "code": 20003,
                    "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                    "status": 401,
                },
            )
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return Reply(400, {"code": 21601, "message": "Form encoding expected", "status": 400})
        form = request.form()
        to = form.get("To", "")
        if not re.fullmatch(r"\+\d{8,15}", to):
            return Reply(
                400,
                {
                    "code": 21211,
                    "message": f"The 'To' number {to} is not a valid phone number.",
                    "status": 400,
                },
            )
        if not form.get("Body") or not (form.get("From") or form.get("MessagingServiceSid")):
            return Reply(
                400, {"code": 21602, "message": "Message body is required.", "status": 400}
            )
        sid = "SM" + uuid.uuid4().hex
        return Reply(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": to,
                "from": form.get("From"),
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "error_code": None,
                "uri": f"{expected[:-5]}/{sid}.json",
            },
        )


class PagerDutyFake(FakeServer):
    """PagerDuty Events API v2: ``POST /v2/enqueue``; 202 with the dedup key."""

    SEVERITIES = ("critical", "error", "warning", "info")

    def __init__(self, routing_key: str) -> None:
        super().__init__()
        self.routing_key = routing_key

    def _invalid(self, why: str) -> Reply:
        return Reply(
            400,
            {"status": "invalid event", "message": "Event object is invalid", "errors": [why]},
        )

    def answer(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/v2/enqueue":
            return Reply(404)
        body = self._json_body(request)
        if not isinstance(body, dict):
            return self._invalid("body is not a JSON object")
        if body.get("routing_key") != self.routing_key:
            return self._invalid("'routing_key' is invalid")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            return self._invalid("'event_action' is invalid")
        dedup = body.get("dedup_key")
        if action == "trigger":
            payload = body.get("payload") or {}
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    return self._invalid(f"'payload.{name}' is missing or blank")
            if payload["severity"] not in self.SEVERITIES:
                return self._invalid("'payload.severity' is invalid")
            if len(payload["summary"]) > 1024:
                return self._invalid("'payload.summary' is too long")
            dedup = dedup or uuid.uuid4().hex
        elif not dedup:
            return self._invalid("'dedup_key' is required for acknowledge and resolve")
        if len(str(dedup)) > 255:
            return self._invalid("'dedup_key' is too long")
        return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": dedup})


class AlertmanagerFake(FakeServer):
    """Alertmanager API v2: ``POST /api/v2/alerts`` with a JSON array of postable alerts."""

    LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

    def answer(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/api/v2/alerts":
            return Reply(404)
        alerts = self._json_body(request)
        if not isinstance(alerts, list):
            return Reply(400, b'"body must be an array of alerts"')
        for alert in alerts:
            labels = alert.get("labels") if isinstance(alert, dict) else None
            if not isinstance(labels, dict) or not labels.get("alertname"):
                return Reply(400, b'"labels.alertname is required"')
            for name, value in labels.items():
                if not self.LABEL.match(name) or not isinstance(value, str) or not value:
                    return Reply(400, f'"invalid label {name}"'.encode())
            for key in ("startsAt", "endsAt"):
                if key in alert:
                    try:
                        dt.datetime.fromisoformat(str(alert[key]).replace("Z", "+00:00"))
                    except ValueError:
                        return Reply(400, f'"{key} is not RFC 3339"'.encode())
            annotations = alert.get("annotations", {})
            if not isinstance(annotations, dict) or not all(
                isinstance(v, str) for v in annotations.values()
            ):
                return Reply(400, b'"annotations must be strings"')
        return Reply(200)
