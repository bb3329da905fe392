"""Reports in without a Kafka client: ``POST /api/reports`` (JSON or CSV) and the page
``/melden`` where a reception location uploads its spreadsheet.

A request carries a source's token (``Authorization: Bearer <token>``; never a cookie, so another
site cannot send one on a visitor's behalf). Each row is read by ``streams.web.uploads`` with the
topic's own decoders, checked against the source's scope and the loaded locations, and written to
``opvang.occupancy`` or ``opvang.intake`` keyed by ``location_id``, as if a producer had sent it;
the report agent does the rest. The answer lists per row what was accepted and why not, and comes
only after the broker acknowledged every write.

What a ``kill -9`` does: before the broker acknowledged, the sender gets no answer and sends the
file again; the rows that did land carry the same event_ids and change nothing the second time.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any, cast

import aiohttp
import faust
import structlog
from aiohttp import web as aiohttp_web

from streams.web.http import BodyError, page_policy, read_body
from streams.web.sources import Source, Sources
from streams.web.uploads import (
    MAX_UPLOAD_BYTES,
    Accepted,
    Refused,
    Row,
    UploadError,
    csv_rows,
    decode_row,
    json_rows,
    scope_refusal,
)
from streams.worker.context import Context

__all__ = ["CONCURRENT_UPLOADS", "READ_TIMEOUT_SECONDS", "SEND_TIMEOUT_SECONDS", "register"]

log = structlog.get_logger("opvangwacht.worker")

#: How long a request waits for the broker to acknowledge its writes before it answers 503.
SEND_TIMEOUT_SECONDS = 30.0
#: How long a request waits for the locations to be read after a start.
REGISTRY_WAIT_SECONDS = 10.0
#: Uploads read and judged at the same time (each holds at most 1 MiB of body and its rows);
#: another waits up to BUSY_WAIT_SECONDS for a place, then is told to send again (503).
CONCURRENT_UPLOADS = 4
BUSY_WAIT_SECONDS = 5.0
#: A body must arrive within this: a sender that trickles its bytes holds an upload's place.
READ_TIMEOUT_SECONDS = 30.0


def _error(
    view: faust.web.View, status: int, reason: str, detail: str, melding: str
) -> faust.web.Response:
    return view.json({"error": detail, "reason": reason, "melding": melding}, status=status)


def _source(sources: Sources, request: faust.web.Request) -> Source | None:
    given = str(request.headers.get("Authorization", ""))
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return sources.find(token.strip())


def _rows(content_type: str, raw: bytes) -> list[Row]:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("application/json", "text/json"):
        return json_rows(raw)
    if kind in ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"):
        return csv_rows(raw)
    raise UploadError(
        "content_type",
        "send Content-Type application/json or text/csv",
        "Stuur een CSV-bestand of JSON.",
    )


def judge(
    rows: list[Row], source: Source, ctx: Context, timestamp: float
) -> list[Accepted | Refused]:
    """Every row's outcome: decoded, then checked against the loaded locations and the scope."""
    outcomes: list[Accepted | Refused] = []
    for row in rows:
        for outcome in decode_row(row, timestamp=timestamp):
            if isinstance(outcome, Accepted):
                location = ctx.registry.get(outcome.location_id)
                municipality = location.municipality_code if location is not None else None
                if location is None or not source.may_report(outcome.location_id, municipality):
                    outcome = scope_refusal(
                        outcome.row, outcome.kind, outcome.location_id, known=location is not None
                    )
            outcomes.append(outcome)
    return outcomes


def register(app: faust.App, ctx: Context, sources: Sources) -> None:
    page = (resources.files("streams") / "web" / "melden.html").read_text(encoding="utf-8")
    policy = page_policy(page)
    send = ctx.runner.edge.send
    topic_of = {"occupancy": ctx.topics.occupancy, "intake": ctx.topics.intake}
    counted = ctx.metrics.http_reports
    places = asyncio.Semaphore(CONCURRENT_UPLOADS)

    @app.page("/melden")
    async def melden_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        """The upload page for reception locations: plain HTML and script, no external assets."""
        return web.html(page, headers={"Content-Security-Policy": policy})

    @app.page("/api/reports")
    class ReportsView(faust.web.View):
        async def post(self, request: faust.web.Request) -> faust.web.Response:
            if not sources:
                return _error(
                    self, 401, "no_sources",
                    "reports over HTTP are switched off: start the worker with OPVANG_SOURCES",
                    "Melden via deze pagina staat uit: vraag de beheerder om een token.",
                )  # fmt: skip
            source = _source(sources, request)
            if source is None:
                return _error(
                    self, 401, "unauthorized",
                    "send your source token as 'Authorization: Bearer <token>'",
                    "Het token klopt niet: controleer het, of vraag de beheerder om een nieuw "
                    "token.",
                )  # fmt: skip
            try:
                await asyncio.wait_for(places.acquire(), timeout=BUSY_WAIT_SECONDS)
            except TimeoutError:
                return self.json(
                    {
                        "error": "other uploads are being read; send it again in a moment",
                        "reason": "busy",
                        "melding": "Het is even druk: probeer het over een minuut opnieuw.",
                    },
                    status=503,
                    headers={"Retry-After": "10"},
                )
            try:
                return await self._upload(request, source)
            finally:
                places.release()

        async def _upload(self, request: faust.web.Request, source: Source) -> faust.web.Response:
            try:
                raw = await asyncio.wait_for(
                    read_body(cast(aiohttp_web.Request, request), MAX_UPLOAD_BYTES),
                    timeout=READ_TIMEOUT_SECONDS,
                )
                rows = _rows(str(request.headers.get("Content-Type", "")), raw)
            except TimeoutError:
                return _error(
                    self, 408, "slow",
                    f"the body did not arrive within {READ_TIMEOUT_SECONDS:.0f} seconds",
                    "Het versturen duurde te lang: probeer het opnieuw.",
                )  # fmt: skip
            except (aiohttp_web.HTTPException, ConnectionError, aiohttp.ClientError) as exc:
                return _error(
                    self, 400, "incomplete", f"the body did not arrive whole: {type(exc).__name__}",
                    "Het bestand kwam niet helemaal aan: probeer het opnieuw.",
                )  # fmt: skip
            except BodyError as exc:
                melding = (
                    "Het bestand is te groot: stuur het in delen." if exc.status == 413 else ""
                )
                return _error(self, exc.status, "body", exc.reason, melding or "Onleesbaar.")
            except UploadError as exc:
                return _error(self, 400, exc.reason, exc.detail, exc.melding)
            try:
                await asyncio.wait_for(ctx.registry.ready.wait(), timeout=REGISTRY_WAIT_SECONDS)
            except TimeoutError:
                return self.json(
                    {
                        "error": "the worker is still reading its locations; send it again",
                        "reason": "starting",
                        "melding": "De server start nog op: probeer het over een minuut opnieuw.",
                    },
                    status=503,
                    headers={"Retry-After": "30"},
                )
            outcomes = judge(rows, source, ctx, ctx.clock().timestamp())
            accepted = [o for o in outcomes if isinstance(o, Accepted)]
            try:
                await _write(send, topic_of, accepted)
            except Exception as exc:  # the broker did not take them: nothing is promised
                log.warning("reports over HTTP not written", source=source.name, error=str(exc))
                return self.json(
                    {
                        "error": "the broker did not acknowledge the reports; send them again "
                        "(repeated rows change nothing)",
                        "reason": "not_written",
                        "melding": "Opslaan lukte niet. Stuur het bestand opnieuw; dubbele "
                        "regels worden herkend.",
                    },
                    status=503,
                    headers={"Retry-After": "10"},
                )
            for outcome in outcomes:
                outcome_name = "accepted" if isinstance(outcome, Accepted) else outcome.reason
                counted.labels(source.name, outcome_name).inc()
            log.info(
                "reports over HTTP",
                source=source.name,
                accepted=len(accepted),
                refused=len(outcomes) - len(accepted),
            )
            return self.json(
                {
                    "source": source.name,
                    "rows": len(rows),
                    "accepted": len(accepted),
                    "refused": len(outcomes) - len(accepted),
                    "results": [o.to_dict() for o in outcomes],
                }
            )


async def _write(send: Any, topic_of: dict[str, Any], accepted: list[Accepted]) -> None:
    """Send every accepted report, then wait until the broker acknowledged them all."""
    futures = [
        await send(topic_of[a.kind], a.location_id.encode(), a.value, None) for a in accepted
    ]
    pending = [f for f in futures if f is not None]
    if pending:
        await asyncio.wait_for(asyncio.gather(*pending), timeout=SEND_TIMEOUT_SECONDS)
