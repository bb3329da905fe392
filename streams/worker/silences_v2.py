"""Alertmanager's API v2 silence endpoints on the worker's web port, for ``amtool``:

    GET    /api/v2/status             what amtool asks first (one worker, ready)
    GET    /api/v2/silences           every silence, ?filter=label="value" (repeatable)
    POST   /api/v2/silences           make one (or update one, with "id"); API token
    GET    /api/v2/silence/{id}       one silence
    DELETE /api/v2/silence/{id}       expire it; API token

Part of the actions stage (``streams.worker.actions`` registers it). A silence goes where every
other API silence goes: one record keyed by its id on the compacted silences topic, which every
worker of the group follows whole, so it survives restarts and every worker applies it. This
worker also applies it at once, so that the ``amtool silence query`` right after an ``add`` sees
it. Expiring writes the silence again with its end set to now (it stays readable as expired, as
in Alertmanager). Silences from the alerting file are listed too, but only the file changes them.
"""

from __future__ import annotations

import importlib.metadata
import uuid
from collections.abc import Callable
from typing import Any, cast

import faust
import faust.web  # used at import time below; the faust package loads it lazily
from aiohttp import web as aiohttp_web

from alerts.dispatch.silence import Silence
from alerts.errors import ConfigError
from streams.messages import encode_silence
from streams.web import alertmanager_v2 as am
from streams.web.http import BodyError, read_json_object
from streams.worker.context import Context

__all__ = ["register"]

Authorise = Callable[[Context, faust.web.Request], "str | None"]

#: The longest silence id the API looks up (a UUID is 36 characters).
_MAX_ID = 100


def _version() -> str:
    try:
        return importlib.metadata.version("opvangwacht")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def register(app: faust.App, ctx: Context, authorised: Authorise) -> None:
    send = ctx.runner.edge.send
    started = ctx.clock()
    version = _version()

    def configured() -> dict[str, Silence]:
        return {s.silence_id: s for s in ctx.config.routing.silences}

    def find(silence_id: str) -> Silence | None:
        return ctx.silences.get(silence_id) or configured().get(silence_id)

    async def store(silence: Silence) -> None:
        value = encode_silence(silence)
        await send(ctx.topics.silences, silence.silence_id.encode(), value, None)
        ctx.silences.apply(silence.silence_id, value)

    def refuse(view: faust.web.View, request: faust.web.Request) -> faust.web.Response | None:
        refused = authorised(ctx, request)
        return None if refused is None else view.json(refused, status=401)

    @app.page("/api/v2/status")
    class StatusView(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            return self.json(am.status(version, started))

    @app.page("/api/v2/silences")
    class SilencesView(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            query = cast(aiohttp_web.Request, request).query
            try:
                filters = am.parse_filter(query.getall("filter", []))
            except ConfigError as exc:
                return self.json(str(exc), status=400)
            now = ctx.clock()
            every = {**configured(), **{s.silence_id: s for s in ctx.silences.active()}}
            found = [s for s in every.values() if am.matches_filter(s, filters)]
            found.sort(key=lambda s: (s.ends_at, s.silence_id))
            return self.json([am.gettable(s, now) for s in found])

        async def post(self, request: faust.web.Request) -> faust.web.Response:
            if (refused := refuse(self, request)) is not None:
                return refused
            try:
                body = await read_json_object(cast(aiohttp_web.Request, request))
            except BodyError as exc:
                return self.json(exc.reason, status=exc.status)
            given = body.get("id")
            if given not in (None, ""):
                if not isinstance(given, str) or ctx.silences.get(given) is None:
                    what = "is in the alerting file" if find(str(given)) else "does not exist"
                    return self.json(f"silence {str(given)[:_MAX_ID]!r} {what}", status=404)
                silence_id = given
            else:
                silence_id = str(uuid.uuid4())
            try:
                silence = am.silence_from_postable(body, silence_id, ctx.clock())
            except ConfigError as exc:
                return self.json(str(exc), status=400)
            await store(silence)
            return self.json({"silenceID": silence_id})

    @app.page("/api/v2/silence/{silence_id}")
    class SilenceView(faust.web.View):
        async def get(self, request: faust.web.Request, silence_id: str) -> faust.web.Response:
            silence = find(silence_id[:_MAX_ID])
            if silence is None:
                return self.json(f"no silence {silence_id[:_MAX_ID]!r}", status=404)
            return self.json(am.gettable(silence, ctx.clock()))

        async def delete(self, request: faust.web.Request, silence_id: str) -> Any:
            if (refused := refuse(self, request)) is not None:
                return refused
            silence = ctx.silences.get(silence_id[:_MAX_ID])
            if silence is None:
                where = "it is in the alerting file" if find(silence_id[:_MAX_ID]) else "no such id"
                return self.json(f"cannot expire {silence_id[:_MAX_ID]!r}: {where}", status=404)
            now = ctx.clock()
            if am.state(silence, now) == "expired":
                return self.json(f"silence {silence_id!r} already expired", status=400)
            await store(am.expired_version(silence, now))
            return self.json({"silenceID": silence_id, "state": "expired"})
