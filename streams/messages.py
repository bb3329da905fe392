"""The worker's internal messages: one definition for the writer and the reader of each.

Every topic the worker reads besides the wire contract's input has its decoder here (bytes to a
small frozen dataclass or a domain value) and the matching encoder (the value to bytes):

============================================  ================================================
topic                                         values
============================================  ================================================
``internal.province-contributions``           :class:`ContributionBundle`, :class:`Mark`
``internal.national-contributions``           :class:`~alerts.capacity.totals.Contribution`,
                                              :class:`Mark`
``notifications``                             :class:`Notification`, :class:`ReceiverTick`,
                                              :class:`ReceiverAck`, :class:`EnableReceiver`
``acks`` and ``alerts`` (escalation input)    :class:`Acknowledgement`, :class:`EscalationTick`,
                                              :class:`~alerts.model.AlertEvent`
``silences``                                  :class:`~alerts.dispatch.silence.Silence`
``audit``                                     an entry (a dict whose known fields are checked)
============================================  ================================================

A decoder returns a value or raises :class:`~alerts.errors.InvalidReport` with reason
``invalid_json`` or ``schema``, whatever the bytes: the JSON is read by
:func:`streams.wire.load_json`, every field the worker uses is checked for its type and range
before a domain ``from_dict`` sees it, and anything those raise (``KeyError``, ``TypeError``,
``ValueError``, ...) is turned into ``schema`` too. Fields a reader does not know are ignored.

Imports no Kafka or Faust: the agents in :mod:`streams.worker.app` call these.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeAlias

from alerts.capacity.totals import Contribution
from alerts.delivery.ledger import Grouping
from alerts.dispatch.matchers import Matcher
from alerts.dispatch.silence import Silence, parse_silence
from alerts.errors import ConfigError, InvalidReport
from alerts.model import AlertEvent, AlertStatus, Severity, SubjectKind
from streams.contributions import CONTRIBUTION_FIELDS, MAX_TOTAL, contribution_from_dict
from streams.records import encode
from streams.wire import (
    MAX_TEXT,
    count,
    cut,
    decode_object,
    iso_date,
    json_object,
    moment,
    number,
    optional_text,
    quote,
    text,
)

__all__ = [
    "CONTRIBUTION_FIELDS",
    "MAX_MATCHERS",
    "MAX_MATCHER_CHARS",
    "MAX_TOTAL",
    "Acknowledgement",
    "ContributionBundle",
    "EnableReceiver",
    "EscalationMessage",
    "EscalationTick",
    "Mark",
    "NationalMessage",
    "Notification",
    "NotificationMessage",
    "ProvinceMessage",
    "ReceiverAck",
    "ReceiverTick",
    "alert_event_from_dict",
    "contribution_from_dict",
    "decode_alert_event",
    "decode_audit_entry",
    "decode_escalation_message",
    "decode_national_message",
    "decode_notification_message",
    "decode_province_message",
    "decode_silence",
    "encode_alert_event",
    "encode_escalation_message",
    "encode_national_message",
    "encode_notification_message",
    "encode_province_message",
    "encode_silence",
]

#: Seconds in a grouping's wait, interval or repeat: at most a year.
MAX_SECONDS: Final = 366 * 24 * 3600
#: A silence's matchers: how many, and how long each written one may be. Parsing a matcher takes
#: time that grows with the square of its length (20,000 characters took 4 s).
MAX_MATCHERS: Final = 100
MAX_MATCHER_CHARS: Final = 1024
#: Longest alert summary (a digest's runs to a few hundred characters).
MAX_SUMMARY: Final = 10_000

#: Exceptions the domain's ``from_dict`` methods raise on input of the wrong shape.
_FROM_DICT_ERRORS: Final = (KeyError, TypeError, ValueError, AttributeError, OverflowError)


def _kind(obj: Mapping[str, Any], allowed: tuple[str | None, ...], where: str) -> str | None:
    kind = obj.get("type")
    if kind not in allowed:
        shown = ", ".join("(none)" if k is None else repr(k) for k in allowed)
        raise InvalidReport("schema", f"{where}: 'type' must be one of {shown}, got {quote(kind)}")
    return kind


def _where(exc: InvalidReport, where: str) -> InvalidReport:
    """The same error with where it was found in front, and ``schema`` as its reason: an
    internal message has no ``out_of_range``."""
    return InvalidReport("schema", f"{where}: {exc.detail}")


# ---------------------------------------------------------------------------- alert events


def _one_of(value: Any, values: Iterable[StrEnum]) -> bool:
    return isinstance(value, str) and value in {v.value for v in values}


def alert_event_from_dict(obj: Mapping[str, Any]) -> AlertEvent:
    """An AlertEvent from its dict (alerts topic, notifications, audit), every field checked."""
    for name, values in (("status", AlertStatus), ("severity", Severity)):
        if not _one_of(obj.get(name), values):
            raise InvalidReport("schema", f"{name!r} is not one of the known values")
    subject = json_object(obj.get("subject"), "'subject'")
    if not _one_of(subject.get("kind"), SubjectKind):
        raise InvalidReport("schema", "'subject.kind' is not location, province or national")
    text(subject, "id")
    text(obj, "alert_id")
    text(obj, "rule")
    for name in ("province", "municipality_code", "cap_source"):
        optional_text(obj, name)
    for name in ("value", "threshold"):
        number(obj, name)
    number(obj, "headroom", required=False)
    if optional_text(obj, "summary", max_chars=MAX_SUMMARY) is None:
        raise InvalidReport("schema", "'summary' is required")
    moment(obj, "starts_at", required=True)
    moment(obj, "ends_at", required=False)
    iso_date(obj, "event_date")
    count(obj, "revision", required=True, maximum=2**63 - 1, range_reason="schema")
    labels = obj.get("labels")
    if labels is not None:
        for label, value in json_object(labels, "'labels'").items():
            if not isinstance(value, str) or len(label) > MAX_TEXT or len(value) > MAX_TEXT:
                raise InvalidReport("schema", f"label {quote(label)} must be a short string")
    try:
        return AlertEvent.from_dict(obj)
    except _FROM_DICT_ERRORS as exc:  # checked above: a from_dict that learned something new
        raise InvalidReport("schema", f"not an alert event: {type(exc).__name__}") from None


def decode_alert_event(raw: bytes | None) -> AlertEvent:
    """A value of the alerts topic."""
    obj = decode_object(raw)
    try:
        return alert_event_from_dict(obj)
    except InvalidReport as exc:
        raise _where(exc, "alert event") from None


def encode_alert_event(event: AlertEvent) -> bytes:
    return encode(event.to_dict())


# ---------------------------------------------------------------------------- contributions


@dataclass(frozen=True, slots=True)
class Mark:
    """Input partition ``source`` has been read up to ``date``."""

    source: int
    date: dt.date


@dataclass(frozen=True, slots=True)
class ContributionBundle:
    """Contributions to the provinces of one province partition, in the order they were read,
    and then, when ``mark`` is given, the input mark that follows them: the province agent
    applies the items first and the mark after them, as if they were separate messages. One
    message instead of one per province plus the mark (docs/performance.md, 2026-12-05)."""

    items: tuple[Contribution, ...]
    mark: Mark | None = None


ProvinceMessage: TypeAlias = ContributionBundle | Mark
NationalMessage: TypeAlias = Contribution | Mark


def _mark(obj: Mapping[str, Any]) -> Mark:
    source = count(obj, "source", required=True, maximum=100_000, range_reason="schema")
    return Mark(source or 0, iso_date(obj, "date"))


def _mark_fields(mark: Mark) -> dict[str, Any]:
    return {"source": mark.source, "date": mark.date.isoformat()}


def _mark_dict(mark: Mark) -> dict[str, Any]:
    return {"type": "mark", **_mark_fields(mark)}


def decode_province_message(raw: bytes | None) -> ProvinceMessage:
    """A value of the province-contributions topic: a bundle, a mark, or (from older workers)
    one bare contribution, read as a bundle of one."""
    obj = decode_object(raw)
    try:
        kind = _kind(obj, ("contributions", "mark", None), "province message")
        if kind == "mark":
            return _mark(obj)
        if kind is None:
            return ContributionBundle((contribution_from_dict(obj),))
        items = obj.get("items")
        if not isinstance(items, list):
            raise InvalidReport("schema", "'items' must be a list")
        mark = obj.get("mark")
        return ContributionBundle(
            tuple(contribution_from_dict(json_object(i, "an item")) for i in items),
            None if mark is None else _mark(json_object(mark, "'mark'")),
        )
    except InvalidReport as exc:
        raise _where(exc, "province message") from None


def encode_province_message(message: ProvinceMessage) -> bytes:
    """A bundle without items is written as its bare mark: the form workers before 2026-12-05
    read too (they ignore a bundle's ``mark``: docs/architecture.md, "Mixed versions")."""
    if isinstance(message, ContributionBundle) and not message.items and message.mark is not None:
        message = message.mark
    if isinstance(message, Mark):
        return encode(_mark_dict(message))
    value: dict[str, Any] = {
        "type": "contributions",
        "items": [c.to_dict() for c in message.items],
    }
    if message.mark is not None:
        value["mark"] = _mark_fields(message.mark)
    return encode(value)


def decode_national_message(raw: bytes | None) -> NationalMessage:
    """A value of the national-contributions topic: a province's contribution, or a mark."""
    obj = decode_object(raw)
    try:
        kind = _kind(obj, ("mark", None), "national message")
        return _mark(obj) if kind == "mark" else contribution_from_dict(obj)
    except InvalidReport as exc:
        raise _where(exc, "national message") from None


def encode_national_message(message: NationalMessage) -> bytes:
    if isinstance(message, Mark):
        return encode(_mark_dict(message))
    return encode(message.to_dict())


# ---------------------------------------------------------------------------- notifications


@dataclass(frozen=True, slots=True)
class Notification:
    """An alert change (or an escalation, a reminder) to deliver to one receiver."""

    notification_id: str
    receiver: str
    queued_at: dt.datetime
    event: AlertEvent
    group: Grouping | None = None


@dataclass(frozen=True, slots=True)
class ReceiverTick:
    """Wake the receiver's ledger: due retries, digests, groups, reminders."""

    receiver: str


@dataclass(frozen=True, slots=True)
class ReceiverAck:
    """Pass an acknowledgement on to the receiver's on-call tooling."""

    receiver: str
    alert_id: str
    by: str


@dataclass(frozen=True, slots=True)
class EnableReceiver:
    """Turn a receiver back on (after a 410 Gone)."""

    receiver: str
    by: str = ""


NotificationMessage: TypeAlias = Notification | ReceiverTick | ReceiverAck | EnableReceiver


def _grouping(obj: Mapping[str, Any]) -> Grouping:
    clean: dict[str, Any] = {"key": text(obj, "key", max_chars=10 * MAX_TEXT)}
    for name in ("wait", "interval"):
        clean[name] = number(obj, name, required=False, minimum=0, maximum=MAX_SECONDS) or 0.0
    clean["repeat"] = number(obj, "repeat", required=False, minimum=0, maximum=MAX_SECONDS)
    try:
        return Grouping.from_dict(clean)
    except _FROM_DICT_ERRORS as exc:
        raise InvalidReport("schema", f"not a grouping: {type(exc).__name__}") from None


def decode_notification_message(raw: bytes | None) -> NotificationMessage:
    """A value of the notifications topic. Without a ``type`` it is a notification (as the
    reader has always taken it)."""
    obj = decode_object(raw)
    try:
        kind = _kind(obj, ("notification", "tick", "ack", "enable", None), "notification topic")
        receiver = text(obj, "receiver")
        if kind == "tick":
            return ReceiverTick(receiver)
        if kind == "ack":
            return ReceiverAck(receiver, text(obj, "alert_id"), _by(obj))
        if kind == "enable":
            return EnableReceiver(receiver, _by(obj))
        queued_at = moment(obj, "queued_at", required=True)
        assert queued_at is not None
        event = alert_event_from_dict(json_object(obj.get("event"), "'event'"))
        group = obj.get("group")
        return Notification(
            text(obj, "notification_id"),
            receiver,
            queued_at,
            event,
            None if group is None else _grouping(json_object(group, "'group'")),
        )
    except InvalidReport as exc:
        raise _where(exc, "notification topic") from None


def _by(obj: Mapping[str, Any]) -> str:
    return optional_text(obj, "by", default="") or ""


def encode_notification_message(message: NotificationMessage) -> bytes:
    if isinstance(message, ReceiverTick):
        return encode({"type": "tick", "receiver": message.receiver})
    if isinstance(message, ReceiverAck):
        return encode(
            {
                "type": "ack",
                "receiver": message.receiver,
                "alert_id": message.alert_id,
                "by": message.by,
            }
        )
    if isinstance(message, EnableReceiver):
        return encode({"type": "enable", "receiver": message.receiver, "by": message.by})
    body: dict[str, Any] = {
        "type": "notification",
        "notification_id": message.notification_id,
        "receiver": message.receiver,
        "queued_at": message.queued_at.isoformat(),
        "event": message.event.to_dict(),
    }
    if message.group is not None:
        body["group"] = message.group.to_dict()
    return encode(body)


# ---------------------------------------------------------------------------- escalation input


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """Someone acknowledged the alert: stop escalating it."""

    alert_id: str
    by: str


@dataclass(frozen=True, slots=True)
class EscalationTick:
    """Check whether the watched alert is due to go to the next receiver."""

    alert_id: str


EscalationMessage: TypeAlias = AlertEvent | Acknowledgement | EscalationTick


def decode_escalation_message(raw: bytes | None) -> EscalationMessage:
    """A value of the acks topic (acknowledgement or tick) or of the alerts topic (an alert
    change, which has no ``type``): what the escalation agent reads."""
    obj = decode_object(raw)
    try:
        kind = _kind(obj, ("ack", "tick", None), "escalation input")
        if kind == "ack":
            return Acknowledgement(text(obj, "alert_id"), _by(obj))
        if kind == "tick":
            return EscalationTick(text(obj, "alert_id"))
        return alert_event_from_dict(obj)
    except InvalidReport as exc:
        raise _where(exc, "escalation input") from None


def encode_escalation_message(message: EscalationMessage) -> bytes:
    if isinstance(message, Acknowledgement):
        return encode({"type": "ack", "alert_id": message.alert_id, "by": message.by})
    if isinstance(message, EscalationTick):
        return encode({"type": "tick", "alert_id": message.alert_id})
    return encode_alert_event(message)


# ---------------------------------------------------------------------------- silences

_LABEL: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_matchers(raw: Any) -> None:
    """Bounds that keep parsing cheap; what a matcher means is routing.parse_matchers' alone."""
    if isinstance(raw, dict | list) and len(raw) > MAX_MATCHERS:
        raise InvalidReport("schema", f"more than {MAX_MATCHERS} matchers")
    if isinstance(raw, dict):
        for label, value in raw.items():
            if len(label) + len(str(value)) > MAX_MATCHER_CHARS:
                raise InvalidReport(
                    "schema", f"matcher {quote(label)} is over {MAX_MATCHER_CHARS} characters"
                )
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, str) and len(item) > MAX_MATCHER_CHARS:
                raise InvalidReport(
                    "schema", f"a matcher is over {MAX_MATCHER_CHARS} characters: {quote(item)}"
                )


def decode_silence(silence_id: str, raw: bytes | None) -> Silence:
    """A value of the silences topic (what ``POST /api/silences`` wrote, or
    :func:`encode_silence`), as the silence ``silence_id`` (the message key)."""
    obj = decode_object(raw)
    try:
        _check_matchers(obj.get("matchers"))
        try:
            silence = parse_silence(obj, silence_id, f"silence {silence_id[:100]}")
        except ConfigError as exc:
            raise InvalidReport("schema", cut(str(exc), 300)) from None
        except (*_FROM_DICT_ERRORS, RecursionError) as exc:  # re.compile of "((((...))))"
            raise InvalidReport("schema", f"not a silence: {type(exc).__name__}") from None
        try:
            silence.starts_at.astimezone(dt.UTC)
            silence.ends_at.astimezone(dt.UTC)
        except OverflowError:
            raise InvalidReport("schema", "a time of the silence is out of range") from None
        return silence
    except InvalidReport as exc:
        raise _where(exc, "silence") from None


def _written(matcher: Matcher) -> str:
    op = ("!" if matcher.negate else "=") + ("~" if matcher.regex else "")
    if op == "!":
        op = "!="
    return f'{matcher.label}{op}"{matcher.value}"'


def encode_silence(silence: Silence) -> bytes:
    """A silence as :func:`decode_silence` reads it back (and as the API takes it): matchers as
    ``label=value`` strings where they can be written so, else as a mapping (equality only)."""
    writable = all(
        _LABEL.fullmatch(m.label) and "\n" not in m.value and "\r" not in m.value
        for m in silence.matchers
    )
    matchers: Any = (
        [_written(m) for m in silence.matchers]
        if writable
        else {m.label: m.value for m in silence.matchers}
    )
    return encode(
        {
            "silence_id": silence.silence_id,
            "matchers": matchers,
            "starts_at": silence.starts_at.isoformat(),
            "ends_at": silence.ends_at.isoformat(),
            "author": silence.author,
            "comment": silence.comment,
        }
    )


# ---------------------------------------------------------------------------- audit trail


def decode_audit_entry(raw: bytes | None) -> dict[str, Any]:
    """An entry of the audit topic: any object, but the fields its readers use have their
    types (``type`` and ``time`` text, ``provider_id`` text or a number, ``provider_ids`` a
    list of them, ``event`` an alert event)."""
    obj = decode_object(raw)
    try:
        for name in ("type", "time"):
            optional_text(obj, name)
        ids = obj.get("provider_ids")
        if ids is not None and not isinstance(ids, list):
            raise InvalidReport("schema", "'provider_ids' must be a list")
        for value in [obj.get("provider_id"), *(ids or ())]:
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, str | int | float)
                or len(str(value)) > MAX_TEXT
            ):
                raise InvalidReport("schema", f"a provider id must be short text: {quote(value)}")
        if "event" in obj:
            alert_event_from_dict(json_object(obj["event"], "'event'"))
        return obj
    except InvalidReport as exc:
        raise _where(exc, "audit entry") from None
