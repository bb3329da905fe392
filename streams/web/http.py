"""What every view of the worker's web port shares: one reader for request bodies, and the headers
every answer carries.

**Bodies.** :func:`read_body` reads at most a limit (64 KiB: :data:`MAX_BODY_BYTES`) and refuses
more with 413 before reading it all; :func:`json_object` and :func:`form_fields` decode what was
read, strictly: JSON of any depth (orjson refuses nesting deeper than 1024 levels as an error, not
a crash), valid UTF-8 only, an object where an object is wanted. Every failure is a
:class:`BodyError` carrying the status (400 or 413) and a one-line reason for the answer's
``{"error": ...}``, so that no body, however malformed, makes a view answer 500.

**Headers.** :func:`install` hooks the aiohttp application Faust serves (``app.web.web_app``): every
answer, the views' and aiohttp's own (404, 405), gets ``X-Content-Type-Options: nosniff`` and,
unless the view set its own, a Content-Security-Policy that allows nothing (``default-src
'none'``): JSON, metrics and feeds need nothing. The status page sets :func:`page_policy`: its
inline script and style allowed by their sha256 hashes, fetches to the worker itself, nothing
else; no ``'unsafe-inline'``.

aiohttp and the standard library only; nothing of Faust, Kafka or the worker's state.
"""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

import orjson
from aiohttp import web as aiohttp_web

__all__ = [
    "DEFAULT_POLICY",
    "MAX_BODY_BYTES",
    "BodyError",
    "form_fields",
    "install",
    "json_object",
    "optional_text",
    "page_policy",
    "read_body",
    "read_json_object",
]

#: The largest request body any endpoint reads. An acknowledgement, a silence or a delivery report
#: is a few hundred bytes; 64 KiB leaves room for a long comment or a silence with 64 matchers.
MAX_BODY_BYTES: Final = 64 * 1024


class BodyError(Exception):
    """A request body the endpoint cannot take: ``status`` (400, 413) and a one-line ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _too_large(limit: int) -> BodyError:
    return BodyError(413, f"the body is larger than {limit // 1024} KiB")


async def read_body(request: aiohttp_web.BaseRequest, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, at most ``limit`` bytes; a larger one is a 413 as soon as that is known
    (from Content-Length, or while reading), without reading the rest."""
    try:
        declared = request.content_length
    except ValueError:
        raise BodyError(400, "Content-Length is not a number") from None
    if declared is not None and declared > limit:
        raise _too_large(limit)
    data = bytearray()
    async for chunk in request.content.iter_any():
        data += chunk
        if len(data) > limit:
            raise _too_large(limit)
    return bytes(data)


def json_object(raw: bytes, *, empty: bool = False) -> dict[str, Any]:
    """``raw`` as a JSON object. ``empty``: an empty body counts as ``{}``."""
    if not raw.strip():
        if empty:
            return {}
        raise BodyError(400, "send a JSON object")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson's message names the problem (invalid UTF-8, nesting too deep, a bad character)
        # and where; it never quotes more than a character of the body.
        reason = " ".join(str(exc).split())[:200]
        raise BodyError(400, f"the body is not JSON: {reason}") from None
    if not isinstance(value, dict):
        raise BodyError(400, "send a JSON object")
    return value


async def read_json_object(
    request: aiohttp_web.BaseRequest, *, limit: int = MAX_BODY_BYTES, empty: bool = False
) -> dict[str, Any]:
    """:func:`read_body` then :func:`json_object`."""
    return json_object(await read_body(request, limit), empty=empty)


def optional_text(body: Mapping[str, Any], key: str, limit: int = 1000) -> str:
    """A text field of a JSON body, stripped; ``""`` when absent or null. Anything but a string
    (a number, an object), or a text longer than ``limit``, is a 400 naming the field."""
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BodyError(400, f"{key} must be a string")
    if len(value) > limit:
        raise BodyError(400, f"{key} is at most {limit} characters")
    return value.strip()


def form_fields(raw: bytes) -> list[tuple[str, str]]:
    """An ``application/x-www-form-urlencoded`` body as (name, value) pairs, in order, repeats
    kept. Invalid UTF-8, in the body or in a %-escape, is a 400."""
    try:
        text = raw.decode("utf-8")
        return urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, errors="strict"
        )
    except UnicodeDecodeError:
        raise BodyError(400, "the form is not UTF-8") from None
    except ValueError as exc:  # parse_qsl: too many fields
        raise BodyError(400, f"cannot read the form: {exc}") from None


# ---------------------------------------------------------------- headers

#: For every answer that does not set its own: nothing may load, nothing may frame it.
DEFAULT_POLICY: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
#: ``<script src="name.js">``: a relative path, served by the worker itself.
_OWN_SCRIPT = re.compile(r'<script src="[A-Za-z0-9_-]+\.js"[^>]*></script>')


def _hash_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def page_policy(html: str) -> str:
    """The Content-Security-Policy of a page whose script and style are inline: each ``<script>``
    and ``<style>`` element (without attributes) allowed by the hash of its text, as a browser
    computes it; script files by a relative name (``<script src="actions.js">``) from the worker
    itself ('self': every other answer of the worker is JSON, XML or text, which a browser does
    not run as a script under nosniff); fetches and images from the worker itself; nothing else,
    no framing."""
    visible = _COMMENT.sub("", html)
    elements = _INLINE.findall(visible)
    scripts = [_hash_source(body) for tag, body in elements if tag == "script"]
    if _OWN_SCRIPT.search(visible):  # a script file of the worker's own (actions.js)
        scripts.append("'self'")
    styles = [_hash_source(body) for tag, body in elements if tag == "style"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + (" ".join(scripts) or "'none'"),
            "style-src " + (" ".join(styles) or "'none'"),
            "connect-src 'self'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


async def _secure(request: aiohttp_web.BaseRequest, response: aiohttp_web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Content-Security-Policy", DEFAULT_POLICY)


def install(web_app: aiohttp_web.Application) -> None:
    """Give every answer of ``web_app`` the headers above. Before the server starts: aiohttp
    freezes its signals then."""
    hooks: Any = web_app.on_response_prepare
    if _secure not in hooks:
        hooks.append(_secure)
