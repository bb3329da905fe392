"""Delivery reports from SMS providers, parsed into one shape: ``(provider_id, status, detail)``.

``status`` is ``delivered``, ``failed`` or ``pending``; ``provider_id`` matches
:attr:`DeliveryResult.provider_id` of the send (CM: our ``reference``; MessageBird: the message
``id``; Twilio: the ``MessageSid``). ``detail`` is short text for the trail, with numbers masked.
Pure functions over what the web endpoint received; :func:`verify_twilio_signature` checks Twilio's
``X-Twilio-Signature`` (CM and MessageBird status reports are not signed this way: give their
callback URL an unguessable token instead).

- CM.com (JSON POST): ``{"messages": {"msg": {"received", "to", "reference", "status": {"code",
  "errorCode", "errorDescription"}, "operator"}}}``; ``msg`` may also be a list. Codes: 0 accepted
  by the operator, 1 rejected, 2 delivered, 3 failed, 4 read, 7 interacted.
- MessageBird (GET query): ``id``, ``reference``, ``recipient``, ``status`` (scheduled, sent,
  buffered, delivered, expired, delivery_failed), ``statusDatetime``, ``statusReason``,
  ``statusErrorCode``.
- Twilio (form POST): ``MessageSid``, ``MessageStatus`` (queued, sending, sent, delivered,
  undelivered, failed, read, canceled, ...), ``ErrorCode``, ``To``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

from alerts.errors import OpvangError
from alerts.receivers import mask_numbers, mask_phone

__all__ = [
    "DeliveryReport",
    "InvalidDeliveryReport",
    "parse_cm",
    "parse_cm_reports",
    "parse_messagebird",
    "parse_report",
    "parse_twilio",
    "verify_twilio_signature",
]

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
    except (ValueError, UnicodeDecodeError):
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


def verify_twilio_signature(
    url: str, form: Mapping[str, str], signature: str, auth_token: str
) -> bool:
    """Twilio's request validation: base64 HMAC-SHA1, keyed with the auth token, of the full
    callback URL followed by every POST field name and value, sorted by name."""
    payload = url + "".join(f"{key}{form[key]}" for key in sorted(form))
    expected = base64.b64encode(
        hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()
    return hmac.compare_digest(expected, signature.strip())
