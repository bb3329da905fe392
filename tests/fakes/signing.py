"""Delivery reports signed as the SMS providers sign them, for tests that play the provider.

Written from the providers' documentation, apart from ``alerts.notify.dlr`` (which checks them):
the unit tests hold both to the providers' own published vectors.

- Twilio: ``X-Twilio-Signature`` = base64 HMAC-SHA1, keyed with the auth token, of the full URL
  followed by each POST field name and value, sorted by name.
- MessageBird: ``MessageBird-Signature-JWT`` = a JWT (HS256) keyed with the signing key, with
  claims ``iss`` "MessageBird", ``nbf``, ``exp``, ``jti``, ``url_hash`` (hex SHA-256 of the URL)
  and, when there is a body, ``payload_hash`` (hex SHA-256 of the body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping

__all__ = ["messagebird_jwt", "twilio_signature"]


def twilio_signature(url: str, form: Mapping[str, str], auth_token: str) -> str:
    data = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(
        hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def _part(value: dict[str, object]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def messagebird_jwt(
    url: str, body: bytes, signing_key: str, *, now: float | None = None, lifetime: float = 60.0
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "iss": "MessageBird",
        "nbf": issued,
        "exp": issued + int(lifetime),
        "jti": str(uuid.uuid4()),
        "url_hash": hashlib.sha256(url.encode()).hexdigest(),
    }
    if body:
        claims["payload_hash"] = hashlib.sha256(body).hexdigest()
    signed = f"{_part({'alg': 'HS256', 'typ': 'JWT'})}.{_part(claims)}"
    mac = hmac.new(signing_key.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
