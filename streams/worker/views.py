"""The worker's read-only web surface: the status page, health, metrics, the JSON read API and
the CAP 1.2 feed. Documents are built by plain functions (``streams.web.api``, ``alerts.cap``);
this module only registers them as Faust views on the app it is given.

Reads tables and followers, writes nothing: a ``kill -9`` here loses an answer, never state.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from importlib import resources
from typing import Any, cast

import faust
from aiohttp import web as aiohttp_web
from prometheus_client import CONTENT_TYPE_LATEST

from alerts.delivery.ledger import Ledger
from alerts.formats import oasis_cap as cap
from alerts.model import AlertEvent
from streams.reference import load_municipalities
from streams.web import api
from streams.web.http import page_policy
from streams.worker.context import Context

__all__ = ["acknowledgement", "register"]


def acknowledgement(ctx: Context, alert_id: str) -> dict[str, Any]:
    """Who acknowledged the alert's current firing period, and when (from the audit trail)."""
    history = ctx.audit_log.history(alert_id)
    acks = [entry for entry in history if entry.get("type") == "ack"]
    changes = [e for e in history if e.get("type") == "change"]
    last_fired = max(
        (str(e.get("time", "")) for e in changes if e.get("event", {}).get("status") == "firing"),
        default="",
    )
    current = [a for a in acks if str(a.get("time", "")) >= last_fired]
    if not current:
        return {"acknowledged_by": None, "acknowledged_at": None}
    return {"acknowledged_by": current[-1].get("by"), "acknowledged_at": current[-1].get("time")}


def _json(web: faust.web.View, body: Any) -> faust.web.Response:
    if body is None:
        return web.json({"error": "not found"}, status=404)
    return web.json(body)


def register(
    app: faust.App, ctx: Context, scrape: Callable[[Collection[str] | None], bytes]
) -> None:
    """The read-only pages; ``scrape`` gives /metrics' body (``Worker.scrape``)."""
    page = (resources.files("streams") / "web" / "index.html").read_text(encoding="utf-8")
    policy = page_policy(page)
    view = ctx.state_view

    @app.page("/")
    async def status_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        """The operations centre's page: plain HTML and script, no build step, no external
        assets; its inline script and style allowed by their hashes, nothing else."""
        return web.html(page, headers={"Content-Security-Policy": policy})

    script = (resources.files("streams") / "web" / "actions.js").read_bytes()

    @app.page("/actions.js")
    async def actions_script(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        """The status page's actions (acknowledge, silence, history): its one script file."""
        response = aiohttp_web.Response(
            body=script, content_type="text/javascript", charset="utf-8"
        )
        return cast(faust.web.Response, response)

    @app.page("/health")
    async def health(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        recovering = bool(getattr(app, "in_recovery", False))
        remaining = 0
        if recovering:
            try:
                remaining = int(cast(Any, app.tables).recovery.active_remaining_total())
            except Exception:
                remaining = -1
        body, code = api.health_document(
            ready=ctx.registry.ready.is_set(),
            recovering=recovering,
            remaining=remaining,
            locations=len(ctx.registry),
            topic_prefix=ctx.settings.topic_prefix,
        )
        return web.json(body, status=code)

    @app.page("/health/live")
    async def live(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        """Liveness: 200 while the process answers at all. Starting, recovering or without
        locations is not a reason to restart it (that is /health, readiness)."""
        return web.json({"status": "alive"})

    @app.page("/metrics")
    async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # Built directly: Faust's helper refuses a charset inside content_type, and the
        # Prometheus text format's content type carries one.
        # ``name[]`` asks for some samples only, as prometheus_client's exporters allow (the
        # benchmark's progress poll asks for the event counter once a second).
        # Faust types the query as a plain mapping; under aiohttp it is a multidict.
        names = cast(aiohttp_web.Request, request).query.getall("name[]", None)
        body = scrape(names)
        response = aiohttp_web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
        return cast(faust.web.Response, response)

    @app.page("/api/national")
    async def api_national(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return _json(web, api.national_document(view(), ctx.registry.all()))

    @app.page("/api/provinces")
    async def api_provinces(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return _json(web, api.provinces_list(view(), ctx.registry.all()))

    @app.page("/api/provinces/{code}")
    async def api_province(
        web: faust.web.View, request: faust.web.Request, code: str
    ) -> faust.web.Response:
        return _json(web, api.province_detail(view(), code))

    @app.page("/api/locations")
    async def api_locations(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return _json(web, api.locations_list(view(), ctx.registry.all()))

    @app.page("/api/locations/{location_id}")
    async def api_location(
        web: faust.web.View, request: faust.web.Request, location_id: str
    ) -> faust.web.Response:
        return _json(web, api.location_detail(view(), location_id))

    @app.page("/api/alerts")
    async def api_alerts(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        filters = {key: str(request.query.get(key, "")) for key in ("severity", "rule", "province")}
        refusal = api.filter_refusal(filters)
        if refusal is not None:
            return web.json({"error": refusal}, status=400)
        body = api.active_alerts(view(), filters)
        for alert in body["alerts"]:
            alert.update(acknowledgement(ctx, str(alert.get("alert_id", ""))))
        return _json(web, body)

    @app.page("/api/alerts/{alert_id}/history")
    async def api_alert_history(
        web: faust.web.View, request: faust.web.Request, alert_id: str
    ) -> faust.web.Response:
        return web.json({"alert_id": alert_id, "history": ctx.audit_log.history(alert_id)})

    @app.page("/api/notifications/dead")
    async def api_dead_notifications(
        web: faust.web.View, request: faust.web.Request
    ) -> faust.web.Response:
        return web.json({"dead": ctx.audit_log.dead()})

    @app.page("/api/receivers")
    async def api_receivers(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        rows = []
        for spec in ctx.config.receivers:
            ledger: Ledger | None = ctx.tables.ledgers.get(spec.name)
            oldest = ledger.oldest_pending() if ledger else None
            rows.append(
                {
                    "name": spec.name,
                    "kind": spec.kind,
                    "municipality_code": spec.municipality_code,
                    "province": spec.province,
                    "disabled": ledger.disabled if ledger else None,
                    "pending": len(ledger.pending) if ledger else 0,
                    "held": len(ledger.held) if ledger else 0,
                    "oldest_pending": oldest.isoformat() if oldest else None,
                }
            )
        return web.json({"receivers": rows})

    _register_cap(app, ctx)


def _register_cap(app: faust.App, ctx: Context) -> None:
    """CAP 1.2 messages and their Atom feed, for crisis systems."""
    municipality_names = {m["code"]: m["name"] for m in load_municipalities()}
    sender, exercise = ctx.settings.cap_sender, ctx.settings.cap_exercise

    def changes(alert_id: str) -> list[AlertEvent]:
        return [
            AlertEvent.from_dict(entry["event"])
            for entry in ctx.audit_log.history(alert_id)
            if entry.get("type") == "change" and isinstance(entry.get("event"), dict)
        ]

    @app.page("/api/cap/{alert_id}")
    async def api_cap(
        web: faust.web.View, request: faust.web.Request, alert_id: str
    ) -> faust.web.Response:
        found = changes(alert_id)
        if not found:
            return web.json({"error": "not found"}, status=404)
        latest = max(found, key=lambda e: e.revision)
        xml = cap.cap_message(
            latest,
            sender=sender,
            history=[e for e in found if e.revision < latest.revision],
            exercise=exercise,
            municipality_names=municipality_names,
        )
        body = xml.encode("utf-8")
        response = aiohttp_web.Response(body=body, content_type=cap.CAP_CONTENT_TYPE)
        return cast(faust.web.Response, response)

    @app.page("/api/cap")
    async def api_cap_feed(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        """Atom feed of the active alerts, each entry linking to its CAP message."""
        url = request.url
        base = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
        # Folded as on the page: a warning that a critical alert supersedes is no entry itself.
        active, superseded = api.cap_feed_events(ctx.state_view())
        feed = cap.atom_feed(
            active,
            superseded=superseded,
            feed_id=f"urn:opvangwacht:feed:{ctx.settings.topic_prefix}",
            updated=ctx.clock().replace(microsecond=0).isoformat(),
            self_url=f"{base}/api/cap",
            cap_url=lambda e: f"{base}/api/cap/{e.alert_id}",
            municipality_names=municipality_names,
        )
        body = feed.encode("utf-8")
        response = aiohttp_web.Response(body=body, content_type="application/atom+xml")
        return cast(faust.web.Response, response)
