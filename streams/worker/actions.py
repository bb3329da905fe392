"""The worker's web endpoints that change something: acknowledging an alert, making and
expiring silences (also through Alertmanager's API v2, ``streams.worker.silences_v2``), turning
a receiver back on (all with the API token), and the SMS providers' delivery reports (with the
callback token and the provider's signature).

Each endpoint checks what it is given and writes one or a few records to a topic; the agents do
the rest. A ``kill -9`` before the write loses the request (the caller got no 2xx and sends it
again); after it, the request is done.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from typing import Any, cast

import faust
import structlog
from aiohttp import web as aiohttp_web

from alerts.dispatch.silence import parse_silence
from alerts.errors import ConfigError
from alerts.notify.dlr import InvalidDeliveryReport, parse_cm_reports, parse_report
from streams.messages import (
    Acknowledgement,
    EnableReceiver,
    ReceiverAck,
    encode_escalation_message,
    encode_notification_message,
)
from streams.records import encode
from streams.state.audit import Acknowledged, DeliveryReported
from streams.web import api
from streams.web import pagerduty_webhook as pd_webhook
from streams.web.http import (
    BodyError,
    form_fields,
    json_object,
    optional_text,
    read_body,
    read_json_object,
)
from streams.web.reports import ReportKeys, called_urls
from streams.worker import silences_v2
from streams.worker.context import Context

__all__ = ["AUDIT_WAIT_SECONDS", "register"]

log = structlog.get_logger("opvangwacht.worker")

#: How long an SMS delivery report or an acknowledgement waits for the audit trail to be read
#: after a start. Kept short, so that the caller gets an answer (503, send it again later)
#: rather than a timeout of its own.
AUDIT_WAIT_SECONDS = 10.0


def _authorised(ctx: Context, request: faust.web.Request) -> str | None:
    """None when the request may change things; otherwise why not (for a 401 body)."""
    token = ctx.settings.api_token
    if not token:
        return "changes are switched off: start the worker with OPVANG_API_TOKEN set"
    given = str(request.headers.get("Authorization", ""))
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return "send the API token as 'Authorization: Bearer <token>'"
    return None


def _aiohttp(request: faust.web.Request) -> aiohttp_web.Request:
    """The aiohttp request behind Faust's (its aiohttp driver hands views aiohttp's own)."""
    return cast(aiohttp_web.Request, request)


def _refused(view: faust.web.View, error: BodyError) -> faust.web.Response:
    return view.json({"error": error.reason}, status=error.status)


def _still_reading(view: faust.web.View, what: str = "send it again") -> faust.web.Response:
    return view.json(
        {"error": f"the worker is still reading its audit trail; {what}"},
        status=503,
        headers={"Retry-After": "30"},
    )


async def _alert_exists(ctx: Context, alert_id: str) -> bool | None:
    """Whether ``alert_id`` was ever published: this worker's state holds it, or the audit trail
    (which every worker reads whole) has its changes. None: the trail is still being read after
    a start, so nobody can tell yet."""
    known = api.published_alert(ctx.state_view(), alert_id) is not None
    if known or ctx.audit_log.knows(alert_id):
        return True
    try:
        await asyncio.wait_for(ctx.audit_log.ready.wait(), timeout=AUDIT_WAIT_SECONDS)
    except TimeoutError:
        return None
    return ctx.audit_log.knows(alert_id)


async def _acknowledge(
    ctx: Context, alert_id: str, by: str, comment: str, *, tell_pagerduty: bool
) -> None:
    """The alert acknowledged: an audit entry, and the acknowledgement the escalation agent
    reads (which stops the escalation); PagerDuty receivers are told too unless the
    acknowledgement came from PagerDuty."""
    send = ctx.runner.edge.send
    await ctx.runner.audit(alert_id, Acknowledged(by, comment))
    ack = encode_escalation_message(Acknowledgement(alert_id, by))
    await send(ctx.topics.acks, alert_id.encode(), ack, None)
    for spec in ctx.config.receivers if tell_pagerduty else ():
        if spec.kind == "pagerduty":
            forward = encode_notification_message(ReceiverAck(spec.name, alert_id, by))
            await send(ctx.topics.notifications, spec.name.encode(), forward, None)


def register(app: faust.App, ctx: Context) -> None:
    send = ctx.runner.edge.send
    topics = ctx.topics

    @app.page("/api/alerts/{alert_id}/ack")
    class AcknowledgeView(faust.web.View):
        async def post(self, request: faust.web.Request, alert_id: str) -> faust.web.Response:
            refused = _authorised(ctx, request)
            if refused is not None:
                return self.json({"error": refused}, status=401)
            try:
                body = await read_json_object(_aiohttp(request), empty=True)
                by, comment = optional_text(body, "by", 200), optional_text(body, "comment")
            except BodyError as exc:
                return _refused(self, exc)
            if not by:
                return self.json({"error": 'say who acknowledges: {"by": "name"}'}, status=400)
            exists = await _alert_exists(ctx, alert_id)
            if exists is None:
                return _still_reading(self)
            if not exists:
                return self.json({"error": f"no alert {alert_id[:200]!r}"}, status=404)
            await _acknowledge(ctx, alert_id, by, comment, tell_pagerduty=True)
            return self.json({"alert_id": alert_id, "acknowledged_by": by}, status=202)

    @app.page("/api/session")
    class SessionView(faust.web.View):
        """Whether the bearer token is the API token (the status page's log-in); changes
        nothing."""

        async def get(self, request: faust.web.Request) -> faust.web.Response:
            refused = _authorised(ctx, request)
            if refused is not None:
                return self.json({"error": refused}, status=401)
            return self.json({"ok": True})

    @app.page("/api/silences")
    class SilencesView(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            return self.json({"silences": [s.to_dict() for s in ctx.silences.active()]})

        async def post(self, request: faust.web.Request) -> faust.web.Response:
            refused = _authorised(ctx, request)
            if refused is not None:
                return self.json({"error": refused}, status=401)
            try:
                body = await read_json_object(_aiohttp(request))
            except BodyError as exc:
                return _refused(self, exc)
            silence_id = f"api-{uuid.uuid4().hex[:12]}"
            try:
                parse_silence(body, silence_id)
            except ConfigError as exc:
                return self.json({"error": str(exc)}, status=400)
            await send(topics.silences, silence_id.encode(), encode(body), None)
            return self.json({"silence_id": silence_id}, status=201)

    @app.page("/api/silences/{silence_id}")
    class SilenceView(faust.web.View):
        async def delete(self, request: faust.web.Request, silence_id: str) -> faust.web.Response:
            refused = _authorised(ctx, request)
            if refused is not None:
                return self.json({"error": refused}, status=401)
            try:
                # None is needed; a bad one is refused.
                await read_json_object(_aiohttp(request), empty=True)
            except BodyError as exc:
                return _refused(self, exc)
            await send(topics.silences, silence_id.encode(), None, None)
            return self.json({"silence_id": silence_id, "expired": True})

    @app.page("/api/receivers/{name}/enable")
    class EnableReceiverView(faust.web.View):
        """Turn a receiver back on after it answered 410 Gone (its ledger says why it was off)."""

        async def post(self, request: faust.web.Request, name: str) -> Any:
            refused = _authorised(ctx, request)
            if refused is not None:
                return self.json({"error": refused}, status=401)
            if name not in {spec.name for spec in ctx.config.receivers}:
                return self.json({"error": f"no receiver named {name[:200]!r}"}, status=404)
            try:
                body = await read_json_object(_aiohttp(request), empty=True)
                by = optional_text(body, "by", 200)
            except BodyError as exc:
                return _refused(self, exc)
            message = encode_notification_message(EnableReceiver(name, by))
            await send(topics.notifications, name.encode(), message, None)
            return self.json({"receiver": name, "enabled": True}, status=202)

    silences_v2.register(app, ctx, _authorised)
    _register_pagerduty_webhook(app, ctx)
    _register_delivery_reports(app, ctx)


def _register_pagerduty_webhook(app: faust.App, ctx: Context) -> None:
    secrets = ctx.settings.pagerduty_webhook_secrets

    @app.page("/api/pagerduty/webhook")
    class PagerDutyWebhookView(faust.web.View):
        """PagerDuty's v3 webhooks, signed with the subscription's secret
        (OPVANG_PAGERDUTY_WEBHOOK_SECRET): an incident acknowledged or resolved in PagerDuty
        acknowledges its alert here, which stops the escalation. A delivery without a valid
        signature writes nothing (401 or 403)."""

        async def post(self, request: faust.web.Request) -> Any:
            if not secrets:
                return self.json({"error": "no PagerDuty webhook here"}, status=404)
            try:
                raw = await read_body(_aiohttp(request))
            except BodyError as exc:
                return _refused(self, exc)
            header = request.headers.get("X-PagerDuty-Signature")
            refused = pd_webhook.refusal(raw, None if header is None else str(header), secrets)
            if refused is not None:
                log.warning("pagerduty webhook refused", reason=refused[1])
                return self.json({"error": refused[1]}, status=refused[0])
            try:
                event = pd_webhook.parse_event(raw)
            except pd_webhook.WebhookError as exc:
                return self.json({"error": str(exc)}, status=400)
            done = pd_webhook.TAKING_EVENTS.get(event.event_type)
            if done is None or not event.incident_key:
                return self.json({"ignored": event.event_type})
            exists = await _alert_exists(ctx, event.incident_key)
            if exists is None:
                return _still_reading(self)
            if not exists:  # an incident opvangwacht did not open: nothing to stop
                return self.json({"ignored": event.event_type, "reason": "not an alert of ours"})
            by = f"{event.agent or 'iemand'} (PagerDuty)"
            comment = f"{done} in PagerDuty {event.url}".strip()
            await _acknowledge(ctx, event.incident_key, by, comment, tell_pagerduty=False)
            log.info(
                "pagerduty acknowledgement",
                alert_id=event.incident_key,
                event_type=event.event_type,
            )
            return self.json({"alert_id": event.incident_key, "acknowledged_by": by}, status=202)


def _register_delivery_reports(app: faust.App, ctx: Context) -> None:
    #: The keys the SMS providers that sign their delivery reports sign them with.
    report_keys = ReportKeys.from_receivers(ctx.config.receivers, ctx.settings.secrets)
    expected = ctx.settings.dlr_token or ""

    @app.page("/api/sms/reports/{provider}/{token}")
    class DeliveryReportView(faust.web.View):
        """Delivery reports from the SMS providers. They cannot send our API token in a header,
        so the callback URL carries OPVANG_DLR_TOKEN as its last path segment; Twilio's and
        MessageBird's reports must also carry their signature (403 without a valid one)."""

        async def _handle(self, request: faust.web.Request, provider: str, token: str) -> Any:
            if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
                return self.json({"error": "unknown callback"}, status=404)
            query = {str(k): str(v) for k, v in request.query.items()}
            try:
                raw = await read_body(_aiohttp(request))
                form = []
                if "form" in str(request.headers.get("Content-Type", "")):
                    form = form_fields(raw)
            except BodyError as exc:
                return _refused(self, exc)
            refusal = report_keys.refusal(
                provider,
                urls=called_urls(_aiohttp(request)),
                headers=request.headers,
                body=raw,
                form=form,
                now=time.time(),
            )
            if refusal is not None:
                log.warning("delivery report refused", provider=provider[:40], reason=refusal)
                return self.json({"error": refusal}, status=403)
            try:
                if provider == "cm":
                    reports = parse_cm_reports(json_object(raw))
                else:
                    reports = parse_report(provider, body=raw, query=query, form=dict(form))
            except BodyError as exc:
                return _refused(self, exc)
            except (InvalidDeliveryReport, ValueError) as exc:
                return self.json({"error": str(exc)}, status=400)
            try:
                # A report is matched to its alert through the audit trail: after a start, wait
                # until the trail has been read, or ask the provider to send the report again.
                await asyncio.wait_for(ctx.audit_log.ready.wait(), timeout=AUDIT_WAIT_SECONDS)
            except TimeoutError:
                return _still_reading(self, "send the report again")
            for found in reports:
                alert_id = ctx.audit_log.alert_for(found.provider_id) or "unmatched"
                entry = DeliveryReported(provider, found.provider_id, found.status, found.detail)
                await ctx.runner.audit(alert_id, entry)
                ctx.metrics.notifications.labels("sms", provider, f"report:{found.status}").inc()
            return self.json({"accepted": len(reports)})

        async def get(self, request: faust.web.Request, provider: str, token: str) -> Any:
            return await self._handle(request, provider, token)

        async def post(self, request: faust.web.Request, provider: str, token: str) -> Any:
            return await self._handle(request, provider, token)
