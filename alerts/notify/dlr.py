"""Delivery reports from SMS providers, parsed into one shape: ``(provider_id, status, detail)``.

``status`` is ``delivered``, ``failed`` or ``pending``; ``provider_id`` matches
:attr:`DeliveryResult.provider_id` of the send (CM: our ``reference``; MessageBird: the message
``id``; Twilio: the ``MessageSid``). ``detail`` is short text for the trail, with numbers masked.
Pure functions over what the web endpoint received, and the providers' signatures on it:

- :func:`verify_twilio_signature`: Twilio's ``X-Twilio-Signature``, base64 HMAC-SHA1 keyed with
  the account's auth token over the full callback URL followed by every POST field name and
  value, sorted (Twilio's request validation; its libraries also accept the URL with the port
  removed or the scheme's default port added, and so does this).
- :func:`verify_messagebird_signature`: MessageBird's ``MessageBird-Signature-JWT``, a JWT
  (HS256, HS384 or HS512) keyed with the signing key from MessageBird's dashboard, issuer
  ``MessageBird``, valid between ``nbf`` and ``exp`` (one second of leeway), whose ``url_hash``
  is the hex SHA-256 of the full URL called and whose ``payload_hash`` is the hex SHA-256 of the
  body when there is one (and absent when there is none), as MessageBird's REST API libraries
  verify it. Time is an argument (``now``, Unix seconds): nothing here reads a clock.
- CM.com does not sign its status reports: the callback URL's unguessable token is the check.

- CM.com (JSON POST): ``{"messages": {"msg": {"received", "to", "reference", "status": {"code",
  "errorCode", "errorDescription"}, "operator"}}}``; ``msg`` may also be a list. Codes: 0 accepted
  by the operator, 1 rejected, 2 delivered, 3 failed, 4 read, 7 interacted.
- MessageBird (GET query): ``id``, ``reference``, ``recipient``, ``status`` (scheduled, sent,
  buffered, delivered, expired, delivery_failed), ``statusDatetime``, ``statusReason``,
  ``statusErrorCode``.
- Twilio (form POST): ``MessageSid``, ``MessageStatus`` (queued, sending, sent, delivered,
  undelivered, failed, read, canceled, ...), ``ErrorCode``, ``To``.

Part of the notifier edge: may import httpx and the pure core; must not import faust, aiokafka or
``streams``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from alerts.errors import OpvangError
from alerts.receivers.redact import mask_numbers, mask_phone

__all__ = [
    "JWT_LEEWAY_S",
    "MESSAGEBIRD_SIGNATURE_HEADER",
    "TWILIO_SIGNATURE_HEADER",
    "DeliveryReport",
    "InvalidDeliveryReport",
    "parse_cm",
    "parse_cm_reports",
    "parse_messagebird",
    "parse_report",
    "parse_twilio",
    "twilio_signature",
    "verify_messagebird_signature",
    "verify_twilio_signature",
]

#: The request headers that carry the signatures.
TWILIO_SIGNATURE_HEADER: Final = "X-Twilio-Signature"
MESSAGEBIRD_SIGNATURE_HEADER: Final = "MessageBird-Signature-JWT"

ReportStatus = Literal["delivered", "failed", "pending"]


class DeliveryReport(NamedTuple):
    provider_id: str
    status: ReportStatus
    detail: str


class InvalidDeliveryReport(OpvangError):
    """A callback that is not a delivery report of the provider it claims to come from."""


_CM: Final[Mapping[str, ReportStatus]] = {
    "0": "pending",
    "1": "failed",
    "2": "delivered",
    "3": "failed",
    "4": "delivered",
    "7": "delivered",
}
_MESSAGEBIRD: Final[Mapping[str, ReportStatus]] = {
    "scheduled": "pending",
    "sent": "pending",
    "buffered": "pending",
    "delivered": "delivered",
    "expired": "failed",
    "delivery_failed": "failed",
}
_TWILIO: Final[Mapping[str, ReportStatus]] = {
    "accepted": "pending",
    "scheduled": "pending",
    "queued": "pending",
    "sending": "pending",
    "sent": "pending",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _load(body: bytes | str | Mapping[str, Any]) -> Any:
    if isinstance(body, Mapping):
        return body
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidDeliveryReport("cm: the body is not JSON") from None


def _cm_one(msg: Any) -> DeliveryReport:
    if not isinstance(msg, Mapping):
        raise InvalidDeliveryReport("cm: msg must be an object")
    reference = _text(msg.get("reference"))
    status = msg.get("status")
    code = _text(status.get("code")) if isinstance(status, Mapping) else ""
    if not reference or code not in _CM:
        raise InvalidDeliveryReport("cm: needs a reference and a known status code")
    parts = [f"cm status {code}"]
    if isinstance(status, Mapping) and _text(status.get("errorCode")) not in ("", "0"):
        parts.append(f"error {_text(status.get('errorCode'))}")
        if _text(status.get("errorDescription")):
            parts.append(mask_numbers(_text(status.get("errorDescription")))[:120])
    to = _text(msg.get("to"))
    if to:
        parts.append(f"to {mask_phone('+' + to.removeprefix('00').lstrip('+'))}")
    return DeliveryReport(reference, _CM[code], "; ".join(parts))


def parse_cm_reports(body: bytes | str | Mapping[str, Any]) -> tuple[DeliveryReport, ...]:
    """Every report in one CM status-report POST."""
    data = _load(body)
    messages = data.get("messages") if isinstance(data, Mapping) else None
    msg = messages.get("msg") if isinstance(messages, Mapping) else None
    if msg is None:
        raise InvalidDeliveryReport("cm: expected messages.msg")
    return tuple(_cm_one(m) for m in (msg if isinstance(msg, list) else [msg]))


def parse_cm(body: bytes | str | Mapping[str, Any]) -> DeliveryReport:
    """The one report in a CM status-report POST (the usual case)."""
    reports = parse_cm_reports(body)
    if len(reports) != 1:
        raise InvalidDeliveryReport("cm: expected exactly one msg; use parse_cm_reports")
    return reports[0]


def parse_messagebird(query: Mapping[str, str]) -> DeliveryReport:
    """A MessageBird status report (the query parameters of its GET)."""
    message_id = _text(query.get("id"))
    status = _text(query.get("status"))
    if not message_id or status not in _MESSAGEBIRD:
        raise InvalidDeliveryReport("messagebird: needs an id and a known status")
    parts = [f"messagebird {status}"]
    for key in ("statusReason", "statusErrorCode"):
        if _text(query.get(key)):
            parts.append(f"{key} {mask_numbers(_text(query.get(key)))[:80]}")
    if _text(query.get("recipient")):
        parts.append(f"to {mask_phone('+' + _text(query.get('recipient')).lstrip('+'))}")
    return DeliveryReport(message_id, _MESSAGEBIRD[status], "; ".join(parts))


def parse_twilio(form: Mapping[str, str]) -> DeliveryReport:
    """A Twilio status callback (its form-encoded POST fields)."""
    sid = _text(form.get("MessageSid") or form.get("SmsSid"))
    status = _text(form.get("MessageStatus") or form.get("SmsStatus"))
    if not sid or status not in _TWILIO:
        raise InvalidDeliveryReport("twilio: needs a MessageSid and a known MessageStatus")
    parts = [f"twilio {status}"]
    if _text(form.get("ErrorCode")):
        parts.append(f"error {mask_numbers(_text(form.get('ErrorCode')))}")
    if _text(form.get("To")):
        parts.append(f"to {mask_phone(_text(form.get('To')))}")
    return DeliveryReport(sid, _TWILIO[status], "; ".join(parts))


def parse_report(
    provider: str,
    *,
    body: bytes = b"",
    query: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> tuple[DeliveryReport, ...]:
    """Dispatch on the provider name of the receiver (``cm``, ``messagebird``, ``twilio``)."""
    if provider == "cm":
        return parse_cm_reports(body)
    if provider == "messagebird":
        return (parse_messagebird(query or {}),)
    if provider == "twilio":
        return (parse_twilio(form or {}),)
    raise InvalidDeliveryReport(f"unknown SMS provider {provider!r}")


def _port_variants(url: str) -> list[str]:
    """``url``, and the same without its port or with its scheme's default port: what a proxy
    in between may have changed (Twilio's libraries try the same)."""
    try:
        parts = urlsplit(url)
        port, host = parts.port, parts.hostname
    except ValueError:
        return [url]
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if host is None or default is None:
        return [url]
    userinfo = parts.netloc.rpartition("@")[0]
    shown = f"[{host}]" if ":" in host else host
    bare = (userinfo + "@" if userinfo else "") + shown
    other = bare if port is not None else f"{bare}:{default}"
    return [url, urlunsplit(parts._replace(netloc=other))]


def twilio_signature(
    url: str, form: Mapping[str, str] | Sequence[tuple[str, str]], auth_token: str
) -> str:
    """Twilio's signature of a request: base64 HMAC-SHA1 of the URL followed by each POST field
    name and value, sorted by name (and, for a repeated name, by value)."""
    pairs = form.items() if isinstance(form, Mapping) else form
    payload = url + "".join(key + value for key, value in sorted(set(pairs)))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio_signature(
    url: str, form: Mapping[str, str] | Sequence[tuple[str, str]], signature: str, auth_token: str
) -> bool:
    """Whether ``signature`` (``X-Twilio-Signature``) is Twilio's for this request: the full URL it
    called (query included), the POST fields (none for a GET), keyed with the auth token."""
    given = signature.strip().encode()
    if not given or not auth_token:
        return False
    return any(
        hmac.compare_digest(twilio_signature(variant, form, auth_token).encode(), given)
        for variant in _port_variants(url)
    )


_JWT_ALGORITHMS: Final[Mapping[str, Callable[..., Any]]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}
#: Seconds of clock difference allowed at ``nbf`` and ``exp`` (as MessageBird's libraries allow).
JWT_LEEWAY_S: Final = 1.0


def _b64url(part: str) -> bytes | None:
    try:
        return base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None


def _jwt_json(part: str) -> Mapping[str, Any] | None:
    raw = _b64url(part)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, Mapping) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_messagebird_signature(
    url: str, body: bytes, token: str, signing_key: str, now: float
) -> bool:
    """Whether ``token`` (``MessageBird-Signature-JWT``) is MessageBird's signature of a request to
    ``url`` (the full URL it called, query included, as sent) with ``body``, at ``now``."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not signing_key or len(token) > 8192:
        return False
    header, claims = _jwt_json(parts[0]), _jwt_json(parts[1])
    given = _b64url(parts[2])
    if header is None or claims is None or given is None:
        return False
    algorithm = _JWT_ALGORITHMS.get(str(header.get("alg")))
    if algorithm is None:  # "none", or an algorithm MessageBird does not use
        return False
    signed = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
    expected = hmac.new(signing_key.encode(), signed, algorithm).digest()
    if not hmac.compare_digest(expected, given):
        return False
    not_before, expires = _number(claims.get("nbf")), _number(claims.get("exp"))
    if claims.get("iss") != "MessageBird" or not_before is None or expires is None:
        return False
    if now + JWT_LEEWAY_S < not_before or expires <= now - JWT_LEEWAY_S:
        return False
    url_hash = claims.get("url_hash")
    raw_url = url.encode("utf-8", "surrogateescape")
    if not isinstance(url_hash, str) or not hmac.compare_digest(
        _sha256_hex(raw_url).encode(), url_hash.encode("utf-8", "replace")
    ):
        return False
    payload_hash = claims.get("payload_hash")
    if not body:
        return payload_hash is None
    return isinstance(payload_hash, str) and hmac.compare_digest(
        _sha256_hex(body).encode(), payload_hash.encode("utf-8", "replace")
    )
