"""Masking for every text that may leave the process (errors, logs, reprs, audit records): URLs
as scheme://host:port only, phone numbers cut to their first digits, number-like runs in a
provider's free text masked.

Pure. Must not import httpx, faust, aiokafka or ``streams``, nor the other receiver modules.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

__all__ = ["mask_numbers", "mask_phone", "safe_target"]

# --------------------------------------------------------------------------- masking


def safe_target(url: str) -> str:
    """scheme://host[:port] only: userinfo, path and query may all carry a secret (Slack-style
    webhook URLs keep theirs in the path, Twilio's carry the Account SID)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme or '?'}://{host}{port}"


def mask_phone(number: str) -> str:
    """``+31612345678`` -> ``+3161234****``: enough to tell numbers apart, never the whole one.
    Anything that is not a clean E.164 number shows its first three characters only."""
    text = number.strip()
    if re.fullmatch(r"\+\d{8,15}", text):
        return text[:8] + "****"
    return text[:3] + "****"


#: Something that may be a phone number in free text: digits, possibly grouped by spaces, dashes,
#: dots or a bracketed trunk prefix (``06-1234-5678``, ``+31 (0)6 1234 5678``, ``(06) 12345678``).
_NUMBER_LIKE: Final = re.compile(r"\+?\(?\d[\d \-./()]*\d")


def _mask_number_like(found: re.Match[str]) -> str:
    raw = found.group(0)
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 6:
        return raw
    return mask_phone(("+" if raw.startswith("+") else "") + digits)


def mask_numbers(text: str) -> str:
    """Mask everything with six or more digits in a provider's free text (it may quote a number),
    however the digits are grouped: the separators count as part of the number."""
    return _NUMBER_LIKE.sub(_mask_number_like, text)
