"""SMS channel: one GSM-7 segment per message (or the receiver's ``segments`` budget) through
CM.com, MessageBird (Bird) or Twilio.

The text is :func:`alerts.receivers.sms_text.sms_text`. Requests as the providers document them:

- **CM.com** Business Messaging: ``POST {base}/v1.0/message``, header ``X-CM-PRODUCTTOKEN``, JSON
  ``{"messages": {"msg": [{"from", "to": [{"number": "0031..."}], "body": {"type": "auto",
  "content"}, "reference", "allowedChannels": ["SMS"]}]}}``. CM returns no message id: the
  ``reference`` we send (stable per alert change and receiver) is what its status reports carry,
  so it is the provider id. HTTP 200 can still reject single numbers (``status: Rejected``).
- **MessageBird**: ``POST {base}/messages``, header ``Authorization: AccessKey <key>``, JSON
  ``{"originator", "recipients": [31612345678], "body", "reference", "datacoding": "plain"}``;
  201 with ``id``.
- **Twilio**: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, HTTP basic auth
  (Account SID, auth token), form fields ``To``, ``From``, ``Body``; 201 with ``sid``. One request
  per number; numbers already accepted for this alert change are skipped on a retry in the same
  process, and named (as provider ids) in the error when a later one fails.

Errors name the provider's host and HTTP status, its numeric error code where it gives one, and
masked numbers; never the token, the Account SID, the path or a whole number.

Part of the notifier edge: may import httpx and the pure core; must not import faust, aiokafka or
``streams``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

from alerts.model import AlertEvent
from alerts.notify.base import DeliveryError, DeliveryResult
from alerts.notify.http import request, status_error
from alerts.receivers.redact import mask_phone, safe_target
from alerts.receivers.sms_text import segment_limit, sms_text
from alerts.receivers.specs import SMS_BASE_URLS, SmsProvider

__all__ = ["SmsNotifier", "cm_reference"]

_REMEMBERED: Final = 4096


def cm_reference(event: AlertEvent, receiver: str) -> str:
    """CM's ``reference``: 32 hex characters, stable per alert change and receiver."""
    return hashlib.sha256(f"{event.alert_id}.{event.revision}.{receiver}".encode()).hexdigest()[:32]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _code(payload: Any, *keys: str) -> str:
    """A provider's numeric error code from its JSON, as ``code N``; never its free text."""
    if not isinstance(payload, Mapping):
        return ""
    for key in keys:
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return f"provider code {value}"
    errors = payload.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        value = errors[0].get("code")
        if isinstance(value, int):
            return f"provider code {value}"
    return ""


class SmsNotifier:
    channel = "sms"

    def __init__(
        self,
        name: str,
        client: httpx.AsyncClient,
        *,
        provider: SmsProvider,
        to: Sequence[str],
        sender: str,
        token: str,
        account_sid: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
        segments: int = 1,
    ) -> None:
        if provider == "twilio" and not account_sid:
            raise ValueError("twilio needs an Account SID")
        self.name = name
        self.provider = provider
        self._client = client
        self._to = tuple(to)
        self._sender = sender
        self._token = token
        self._account_sid = account_sid or ""
        self._base = (base_url or SMS_BASE_URLS[provider]).rstrip("/")
        self._timeout = timeout
        #: The segment budget: a message (an SMS bundle) may take this many segments.
        self._segments = segments
        # (dedup_key, number) -> provider id, for numbers a provider already accepted (twilio)
        self._accepted: OrderedDict[tuple[str, str], str] = OrderedDict()

    def __repr__(self) -> str:
        numbers = ", ".join(mask_phone(n) for n in self._to)
        target = safe_target(self._base)
        return f"SmsNotifier({self.name!r}, {self.provider!r}, {target!r}, [{numbers}])"

    async def send(self, event: AlertEvent, *, message_id: str | None = None) -> DeliveryResult:
        """``message_id`` is not used: SMS providers take no idempotency key."""
        text = sms_text(event, segment_limit(self._segments))
        if self.provider == "cm":
            return await self._cm(event, text)
        if self.provider == "messagebird":
            return await self._messagebird(event, text)
        return await self._twilio(event, text)

    # ------------------------------------------------------------------ CM.com

    async def _cm(self, event: AlertEvent, text: str) -> DeliveryResult:
        url = f"{self._base}/v1.0/message"
        reference = cm_reference(event, self.name)
        body = {
            "messages": {
                "msg": [
                    {
                        "allowedChannels": ["SMS"],
                        "from": self._sender,
                        "to": [{"number": "00" + n.lstrip("+")} for n in self._to],
                        "body": {"type": "auto", "content": text},
                        "reference": reference,
                        **(
                            {
                                "minimumNumberOfMessageParts": 1,
                                "maximumNumberOfMessageParts": self._segments,
                            }
                            if self._segments > 1
                            else {}
                        ),
                    }
                ]
            }
        }
        response, latency = await request(
            self.name,
            self._client,
            "POST",
            url,
            timeout=self._timeout,
            json=body,
            headers={"X-CM-PRODUCTTOKEN": self._token, "accept": "application/json"},
        )
        payload = _json(response)
        if not 200 <= response.status_code < 300:
            raise status_error(self.name, response, url, _code(payload, "errorCode"))
        messages = payload.get("messages") if isinstance(payload, Mapping) else None
        rejected = [
            m for m in messages or [] if isinstance(m, Mapping) and m.get("status") != "Accepted"
        ]
        if rejected:
            numbers = ", ".join(
                mask_phone("+" + str(m.get("to", "")).removeprefix("00")) for m in rejected
            )
            accepted = len(messages or []) - len(rejected)
            raise DeliveryError(
                self.name,
                f"{safe_target(url)} rejected {len(rejected)} number(s): {numbers} "
                f"({_code(rejected[0], 'messageErrorCode') or 'no code'})",
                recoverable=False,
                status_code=response.status_code,
                provider_ids=(reference,) if accepted else (),
            )
        return DeliveryResult(self.name, response.status_code, latency, reference, (reference,))

    # ------------------------------------------------------------------ MessageBird

    async def _messagebird(self, event: AlertEvent, text: str) -> DeliveryResult:
        url = f"{self._base}/messages"
        body = {
            "originator": self._sender,
            "recipients": [int(n.lstrip("+")) for n in self._to],
            "body": text,
            "reference": cm_reference(event, self.name),
            "datacoding": "plain",
        }
        response, latency = await request(
            self.name,
            self._client,
            "POST",
            url,
            timeout=self._timeout,
            json=body,
            headers={"Authorization": f"AccessKey {self._token}", "accept": "application/json"},
        )
        payload = _json(response)
        if not 200 <= response.status_code < 300:
            raise status_error(self.name, response, url, _code(payload))
        message_id = payload.get("id") if isinstance(payload, Mapping) else None
        ids = (str(message_id),) if message_id else ()
        return DeliveryResult(
            self.name, response.status_code, latency, message_id and str(message_id), ids
        )

    # ------------------------------------------------------------------ Twilio

    async def _twilio(self, event: AlertEvent, text: str) -> DeliveryResult:
        url = f"{self._base}/2010-04-01/Accounts/{self._account_sid}/Messages.json"
        sids: list[str] = []
        status = 201
        latency = 0.0
        for number in self._to:
            key = (f"{event.dedup_key}.{self.name}", number)
            if key in self._accepted:
                sids.append(self._accepted[key])
                continue
            try:
                response, took = await request(
                    self.name,
                    self._client,
                    "POST",
                    url,
                    timeout=self._timeout,
                    data={"To": number, "From": self._sender, "Body": text},
                    auth=(self._account_sid, self._token),
                )
            except DeliveryError as exc:
                exc.provider_ids = tuple(sids)
                raise
            latency += took
            payload = _json(response)
            if not 200 <= response.status_code < 300:
                raise status_error(
                    self.name,
                    response,
                    url,
                    f"{_code(payload, 'code') or 'no code'}, to {mask_phone(number)}",
                    provider_ids=tuple(sids),
                )
            sid = payload.get("sid") if isinstance(payload, Mapping) else None
            sid_text = str(sid) if sid else f"unknown:{mask_phone(number)}"
            sids.append(sid_text)
            self._remember(key, sid_text)
            status = response.status_code
        return DeliveryResult(self.name, status, latency, ",".join(sids), tuple(sids))

    def _remember(self, key: tuple[str, str], sid: str) -> None:
        self._accepted[key] = sid
        while len(self._accepted) > _REMEMBERED:
            self._accepted.popitem(last=False)
