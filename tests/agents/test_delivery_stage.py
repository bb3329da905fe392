"""The delivery stage of a worker built by the composition root, without Kafka: notification
records in, sends through the Notifier protocol out, the receiver's ledger in its table.

The notifier is a recording fake of our own interface (``alerts.notify.base.Notifier``)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from builders import an_alert
from fakes.worker import a_worker

from alerts.config import AlertingConfig
from alerts.delivery.bundle import bundle_event
from alerts.delivery.ledger import notification_id
from alerts.model import AlertEvent, Severity
from alerts.notify.base import DeliveryError, DeliveryResult
from streams.messages import Notification, encode_notification_message

CONFIG = {
    "route": {"receiver": "ops"},
    "receivers": [{"name": "ops", "webhook": {"url": "https://ops.example.nl/hook"}}],
}


class RecordingNotifier:
    name = "ops"
    channel = "webhook"

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[AlertEvent, str | None]] = []
        self.fail = fail

    async def send(self, event: AlertEvent, *, message_id: str | None = None) -> DeliveryResult:
        if self.fail:
            raise DeliveryError(self.name, "HTTP 503", recoverable=True, status_code=503)
        self.sent.append((event, message_id))
        return DeliveryResult(self.name, 200, 0.01)


def record(offset: int, notification: Notification) -> Any:
    message = SimpleNamespace(
        topic="opvang.notifications",
        partition=0,
        offset=offset,
        timestamp=None,
        key=b"ops",
        value=encode_notification_message(notification),
    )
    return SimpleNamespace(message=message)


def notification(nid: str, event: AlertEvent) -> Notification:
    return Notification(nid, "ops", dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC), event)


async def test_a_notification_is_sent_once_with_its_id_and_the_ledger_remembers() -> None:
    worker, recorder = a_worker(AlertingConfig.from_mapping(CONFIG, {}))
    stage, runner = worker.delivery, worker.ctx.runner
    notifier = RecordingNotifier()
    stage.notifiers = {"ops": notifier}
    event = an_alert()
    change = notification(f"{event.alert_id}.{event.revision}.ops", event)
    reminder = notification(f"{event.alert_id}.{event.revision}.ops.esc1", event)
    await runner.run_batch(stage.cursor, [record(0, change), record(1, reminder)], stage.handle)
    assert [message_id for _, message_id in notifier.sent] == [
        change.notification_id,
        reminder.notification_id,
    ]
    ledger = worker.ctx.tables.ledgers.get("ops")
    assert ledger is not None and ledger.knows(change.notification_id)
    # Read again after a restart: the ledger took both in, nothing is sent twice.
    stage.cursor.reset()
    await runner.run_batch(stage.cursor, [record(0, change), record(1, reminder)], stage.handle)
    assert len(notifier.sent) == 2
    attempts = [e for _, e in recorder.topics["audit"].sent if e["type"] == "attempt"]
    assert [a["outcome"] for a in attempts] == ["delivered", "delivered"]


async def test_a_failed_send_is_kept_for_its_retry() -> None:
    worker, recorder = a_worker(AlertingConfig.from_mapping(CONFIG, {}))
    stage, runner = worker.delivery, worker.ctx.runner
    stage.notifiers = {"ops": RecordingNotifier(fail=True)}
    event = an_alert()
    change = notification(f"{event.alert_id}.{event.revision}.ops", event)
    await runner.run_batch(stage.cursor, [record(0, change)], stage.handle)
    ledger = worker.ctx.tables.ledgers.get("ops")
    assert ledger is not None and [p.notification_id for p in ledger.pending] == [
        change.notification_id
    ]
    attempts = [e for _, e in recorder.topics["audit"].sent if e["type"] == "attempt"]
    assert [(a["outcome"], a["status_code"]) for a in attempts] == [("retry", 503)]


SMS_CONFIG = {
    "route": {"receiver": "ops"},
    "receivers": [
        {"name": "ops", "webhook": {"url": "https://ops.example.nl/hook"}},
        {
            "name": "mayor",
            "municipality_code": "GM1950",
            "sms": {
                "provider": "cm",
                "to": "+31612345678",
                "sender": "Opvangwacht",
                "token_env": "CM_PRODUCT_TOKEN",
            },
        },
    ],
}


class RecordingSms(RecordingNotifier):
    name = "mayor"
    channel = "sms"


def sms_record(offset: int, event: AlertEvent) -> Any:
    nid = notification_id(event, "mayor")
    sent_at = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    item = record(offset, Notification(nid, "mayor", sent_at, event))
    item.message.key = b"mayor"
    return item


async def test_an_sms_bundle_made_again_after_a_crash_is_sent_once() -> None:
    """A stage redone after a crash makes the same changes, so the same bundle with the same id:
    produced twice, it is one SMS. A later message of that morning with nothing critical new is
    folded."""
    worker, recorder = a_worker(AlertingConfig.from_mapping(SMS_CONFIG, {"CM_PRODUCT_TOKEN": "x"}))
    stage, runner = worker.delivery, worker.ctx.runner
    sms = RecordingSms()
    stage.notifiers = {"mayor": sms}
    cap = an_alert()
    slept = an_alert(alert_id="slept_outside-ter-apel-x", rule="slept_outside", summary="40 buiten")
    first = bundle_event("mayor", [cap, slept])
    again = bundle_event("mayor", [cap, slept])  # the same changes, made again after the crash
    await runner.run_batch(stage.cursor, [sms_record(0, first)], stage.handle)
    await runner.run_batch(stage.cursor, [sms_record(1, again)], stage.handle)
    assert [message_id for _, message_id in sms.sent] == [notification_id(first, "mayor")]
    warning = an_alert(
        alert_id="without_bed-ter-apel-x", rule="without_bed", severity=Severity.WARNING
    )
    await runner.run_batch(stage.cursor, [sms_record(2, warning)], stage.handle)
    assert len(sms.sent) == 1, "a warning after the morning's SMS is folded"
    skipped = [e for _, e in recorder.topics["audit"].sent if e["type"] == "skipped"]
    assert [e["reason"].split(":")[0] for e in skipped] == ["folded"]
    ledger = worker.ctx.tables.ledgers.get("mayor")
    assert ledger is not None and ledger.morning is not None
