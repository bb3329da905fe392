"""Which SMS delivery reports the worker believes, before one reaches the audit trail.

Every report URL carries ``OPVANG_DLR_TOKEN`` as its last path segment (checked by the view).
Where the provider signs its callbacks, the signature is checked too, and a report without a valid
one is refused (403) and never written anywhere:

- ``twilio``: ``X-Twilio-Signature``, keyed with the auth token of a Twilio receiver (the
  variable its ``token_env`` names);
- ``messagebird``: ``MessageBird-Signature-JWT``, keyed with the signing key of a MessageBird
  receiver (the variable its ``signing_key_env`` names);
- ``cm``: CM.com does not sign its status reports; the secret path segment is the check.

Both signatures cover the URL the provider called. Behind a proxy that URL is not the one the
worker sees: ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are used for it when present (safe to
take from anyone, since a signature for a URL still needs the key).

The algorithms are ``alerts.notify.dlr``; this module picks the keys and the URL. It reads no
environment itself: the composition root passes ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web as aiohttp_web

from alerts.notify.dlr import (
    MESSAGEBIRD_SIGNATURE_HEADER,
    TWILIO_SIGNATURE_HEADER,
    verify_messagebird_signature,
    verify_twilio_signature,
)
from alerts.receivers.specs import ReceiverSpec, SmsSpec

__all__ = ["SIGNING_PROVIDERS", "ReportKeys", "called_urls"]

#: The providers whose delivery reports must carry a valid signature.
SIGNING_PROVIDERS: Final = frozenset({"twilio", "messagebird"})
_KEY_SETTING: Final = {"twilio": "token_env", "messagebird": "signing_key_env"}


@dataclass(frozen=True, slots=True)
class ReportKeys:
    """The keys each provider's reports may be signed with: one per receiver of that provider
    (receivers may belong to different accounts)."""

    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_receivers(
        cls, receivers: Iterable[ReceiverSpec], env: Mapping[str, str]
    ) -> ReportKeys:
        keys: dict[str, list[str]] = {}
        for receiver in receivers:
            spec = receiver.spec
            if not isinstance(spec, SmsSpec) or spec.report_key_env is None:
                continue
            value = env.get(spec.report_key_env, "").strip()
            found = keys.setdefault(spec.provider, [])
            if value and value not in found:
                found.append(value)
        return cls({provider: tuple(values) for provider, values in keys.items()})

    def refusal(
        self,
        provider: str,
        *,
        urls: Sequence[str],
        headers: Mapping[str, str],
        body: bytes,
        form: Sequence[tuple[str, str]],
        now: float,
    ) -> str | None:
        """None when a report from ``provider`` may be believed; otherwise why not (one line,
        no secret in it) for the 403. ``form``: the POST fields (Twilio signs them), ``body``
        the raw body (MessageBird hashes it), ``now`` Unix seconds."""
        if provider not in SIGNING_PROVIDERS:
            return None
        keys = self.keys.get(provider, ())
        if not keys:
            return (
                f"no {provider} receiver names the key its delivery reports are signed with "
                f"({_KEY_SETTING[provider]})"
            )
        if provider == "twilio":
            signature = headers.get(TWILIO_SIGNATURE_HEADER, "")
            if not signature:
                return f"unsigned: {TWILIO_SIGNATURE_HEADER} is missing"
            good = any(
                verify_twilio_signature(url, form, signature, key) for url in urls for key in keys
            )
        else:
            token = headers.get(MESSAGEBIRD_SIGNATURE_HEADER, "")
            if not token:
                return f"unsigned: {MESSAGEBIRD_SIGNATURE_HEADER} is missing"
            good = any(
                verify_messagebird_signature(url, body, token, key, now)
                for url in urls
                for key in keys
            )
        return None if good else "the signature does not match this request"


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def called_urls(request: aiohttp_web.BaseRequest) -> list[str]:
    """The full URL of ``request`` as the caller wrote it (path and query as sent, not
    re-encoded): as the worker received it, and as a proxy in front says it was called."""
    path = request.raw_path
    urls = [f"{request.scheme}://{request.host}{path}"]
    proto = _first(request.headers.get("X-Forwarded-Proto")) or request.scheme
    host = _first(request.headers.get("X-Forwarded-Host")) or request.host
    forwarded = f"{proto}://{host}{path}"
    if forwarded not in urls:
        urls.append(forwarded)
    return urls
