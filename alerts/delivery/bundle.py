"""One text message per receiver per evaluation, and per morning count: what goes together in an
SMS, decided once for the worker and the dry run.

- :func:`evaluations` cuts a sequence of alert changes into the steps of the decision core that
  made them: the changes one location report causes, or one closed province or national day
  (consecutive changes with the same report date and subject).
- :func:`bundle_event` makes one message of what one evaluation has for an SMS receiver: a single
  change stays as it is; several become one AlertEvent whose summary lists them, within the
  receiver's segment budget (whole items only, then ``+N meer, zie statuspagina``), with an id
  derived from its members, so a redelivery after a crash is the same message. Given the status
  page's address, the bundle ends with it when it still fits the budget (it never displaces an
  item).
- :func:`morning_verdict` keeps the morning rule: the first message of a morning count (a report
  date) goes out; a later one only when it brings a critical alert the receiver was not told
  about that morning (or resolves one it was told about); the rest is folded (on the status
  page and in the audit, not texted).

Pure. Must not import httpx, faust, aiokafka or ``streams``, nor ``alerts.dispatch`` or
``alerts.notify``; within ``alerts`` only the model, the catalogue, ``alerts.delivery.ledger``
and ``alerts.receivers.sms_text``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from alerts.catalogue import URGENT_LABEL, urgent
from alerts.delivery.ledger import Ledger
from alerts.model import AlertEvent, AlertStatus, Severity, SubjectKind
from alerts.receivers.sms_text import SMS_LIMIT, gsm7_units, segment_limit, sms_text, to_gsm7

__all__ = [
    "BUNDLE_RULE",
    "KEEP_DAYS",
    "Morning",
    "MorningLog",
    "bundle_event",
    "critical_new",
    "evaluations",
    "fold",
    "members_of",
    "morning_verdict",
    "segment_limit",
]

#: The rule name of a message that bundles several changes.
BUNDLE_RULE: Final = "sms_bundle"
_TAIL: Final = "zie statuspagina"
_MORE: Final = " +{n} meer, " + _TAIL
_SEP: Final = ". "


def evaluations(events: Iterable[AlertEvent]) -> list[tuple[AlertEvent, ...]]:
    """``events`` cut into the decision core's steps: runs of consecutive changes with the same
    report date and subject (one location report, one closed province or national day), each
    alert at most once (a step changes an alert once)."""
    out: list[list[AlertEvent]] = []
    last: tuple[dt.date, Any] | None = None
    for event in events:
        key = (event.event_date, event.subject)
        if out and key == last and all(e.alert_id != event.alert_id for e in out[-1]):
            out[-1].append(event)
        else:
            out.append([event])
        last = key
    return [tuple(run) for run in out]


def _pressing(event: AlertEvent) -> bool:
    return event.status is AlertStatus.FIRING and event.severity is Severity.CRITICAL


def _order(members: Sequence[AlertEvent]) -> list[AlertEvent]:
    """Firing critical changes first, then the rest, each in arrival order."""
    return [m for m in members if _pressing(m)] + [m for m in members if not _pressing(m)]


def _item(event: AlertEvent) -> str:
    text = to_gsm7(" ".join(event.summary.split())).rstrip(" .")
    return f"opgelost: {text}" if event.status is AlertStatus.RESOLVED else text


def _body(members: Sequence[AlertEvent], room: int) -> str:
    """As many whole items as fit in ``room`` septets, then ``+N meer, zie statuspagina``; an
    item is never cut, except the first when even it alone does not fit (at a word boundary)."""
    items = [_item(m) for m in _order(members)]
    for keep in range(len(items), 0, -1):
        left = len(items) - keep
        text = _SEP.join(items[:keep]) + (_MORE.format(n=left) if left else "")
        if gsm7_units(text) <= room:
            return text
    tail = _MORE.format(n=len(items) - 1)
    return _shorten(items[0], room - gsm7_units(tail)) + tail


def _with_url(body: str, room: int, status_url: str | None) -> str:
    """``body`` with the status page's address after it, when that still fits ``room`` septets:
    ``... +2 meer, zie statuspagina https://...``, or ``... Zie https://...`` when every item
    fit. Else ``body`` as it is: the address never displaces an item."""
    if not status_url:
        return body
    linked = f"{body} {status_url}" if body.endswith(_TAIL) else f"{body}. Zie {status_url}"
    return linked if gsm7_units(linked) <= room else body


def _shorten(text: str, room: int) -> str:
    """``text`` shortened to ``room`` septets at a word boundary (``...`` at the end)."""
    out = ""
    for word in text.split(" "):
        candidate = f"{out} {word}".strip()
        if gsm7_units(candidate) + 3 > room:
            break
        out = candidate
    return out.rstrip(" ,;:-(") + "..."


def _prefix(members: Sequence[AlertEvent]) -> tuple[Severity, AlertStatus]:
    firing = [m for m in members if m.status is AlertStatus.FIRING]
    if not firing:
        return max((m.severity for m in members), key=lambda s: s.rank), AlertStatus.RESOLVED
    return max((m.severity for m in firing), key=lambda s: s.rank), AlertStatus.FIRING


def members_of(event: AlertEvent) -> tuple[str, ...]:
    """The changes (``alert_id:revision``) a message stands for: a bundle's, or the change."""
    if event.rule == BUNDLE_RULE:
        return tuple(x for x in event.labels.get("bundle_of", "").split(",") if x)
    return (event.dedup_key,)


def critical_new(event: AlertEvent) -> tuple[str, ...]:
    """The alert ids of the firing critical changes a message carries."""
    return tuple(alert_id for alert_id, _ in _critical(event))


def _scope(event: AlertEvent) -> str:
    """Where a critical alert is: ``location/GR``, ``province/GR`` or ``national/NL``."""
    area = event.subject.id if event.subject.kind is SubjectKind.NATIONAL else event.province
    return f"{event.subject.kind.value}/{area or ''}"


def _critical(event: AlertEvent) -> tuple[tuple[str, str], ...]:
    """(alert id, scope) of the firing critical changes a message carries."""
    if event.rule == BUNDLE_RULE:
        ids = [x for x in event.labels.get("critical", "").split(",") if x]
        scopes = event.labels.get("critical_scope", "").split(",")
        return tuple(zip(ids, scopes + [""] * (len(ids) - len(scopes)), strict=False))
    return ((event.alert_id, _scope(event)),) if _pressing(event) else ()


def _restates(scope: str, told: Sequence[str]) -> bool:
    """Whether a critical alert at ``scope`` restates what critical location alerts in ``told``
    (their scopes) already said that morning: a province's, when one of its locations was
    critical; the nation's, when any location was."""
    kind, _, area = scope.partition("/")
    places = {t.partition("/")[2] for t in told if t.startswith("location/")}
    if kind == SubjectKind.PROVINCE.value:
        return area in places
    return kind == SubjectKind.NATIONAL.value and bool(places)


def _resolves(event: AlertEvent) -> tuple[str, ...]:
    """The alert ids a message says are resolved."""
    if event.rule == BUNDLE_RULE:
        return tuple(x for x in event.labels.get("resolved", "").split(",") if x)
    return (event.alert_id,) if event.status is AlertStatus.RESOLVED else ()


def bundle_event(
    receiver: str,
    members: Sequence[AlertEvent],
    *,
    limit: int = SMS_LIMIT,
    status_url: str | None = None,
) -> AlertEvent:
    """One message for ``members`` (the SMS-bound changes of one evaluation for ``receiver``).
    One member is sent as it is. Several become one AlertEvent: the worst severity of the
    firing ones (``Opgelost`` when none fires), a summary that fits ``limit`` septets with its
    prefix, ending with ``status_url`` (the status page, OPVANG_STATUS_URL) when that fits too,
    and ``alert_id`` and ``revision`` derived from the members, so the same members give the
    same notification id after a crash."""
    if len(members) == 1:
        return members[0]
    keys = [m.dedup_key for m in members]
    digest = hashlib.sha256(f"{receiver}|{'|'.join(sorted(keys))}".encode()).hexdigest()
    severity, status = _prefix(members)
    first = _order(members)[0]
    probe = AlertEvent(**{**_fields(first), "severity": severity, "status": status, "summary": "x"})
    room = limit - (gsm7_units(sms_text(probe)) - 1)
    return AlertEvent(
        **{
            **_fields(first),
            "alert_id": f"sms-{digest[:16]}",
            "rule": BUNDLE_RULE,
            "status": status,
            "severity": severity,
            "summary": _with_url(_body(members, room), room, status_url),
            "value": len(members),
            "threshold": 0,
            "event_date": max(m.event_date for m in members),
            "revision": 1,
            "labels": {
                "bundle_of": ",".join(keys),
                "critical": ",".join(m.alert_id for m in members if _pressing(m)),
                "critical_scope": ",".join(_scope(m) for m in members if _pressing(m)),
                "resolved": ",".join(
                    m.alert_id for m in members if m.status is AlertStatus.RESOLVED
                ),
                # goes through quiet hours and budgets when a member does
                **({URGENT_LABEL: "true"} if any(urgent(m) for m in members) else {}),
            },
        }
    )


def _fields(event: AlertEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in AlertEvent.__dataclass_fields__}


#: Report dates a receiver's log remembers: a province day closes a few days late at most.
KEEP_DAYS: Final = 7


@dataclass(frozen=True, slots=True)
class Morning:
    """What one SMS receiver was texted about one morning count (a report date): the firing
    critical alerts it was told of, and how many messages went out for that date."""

    date: dt.date
    critical: tuple[str, ...] = ()
    sent: int = 0
    #: Where the critical alerts texted are (``location/GR``, ...): what a province's or the
    #: nation's critical alert would only restate.
    scopes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "critical": list(self.critical),
            "sent": self.sent,
            "scopes": list(self.scopes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Morning:
        return cls(
            dt.date.fromisoformat(str(data["date"])),
            tuple(str(x) for x in data.get("critical", ())),
            int(data.get("sent", 0)),
            tuple(str(x) for x in data.get("scopes", ())),
        )


@dataclass(frozen=True, slots=True)
class MorningLog:
    """The receiver's latest :data:`KEEP_DAYS` morning counts, oldest first."""

    days: tuple[Morning, ...] = ()

    def get(self, date: dt.date) -> Morning | None:
        return next((m for m in self.days if m.date == date), None)

    def put(self, morning: Morning) -> MorningLog:
        days = sorted(
            (*(m for m in self.days if m.date != morning.date), morning), key=lambda m: m.date
        )
        return MorningLog(tuple(days[-KEEP_DAYS:]))

    def to_dict(self) -> dict[str, Any]:
        return {"days": [m.to_dict() for m in self.days]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MorningLog:
        return cls(tuple(Morning.from_dict(m) for m in data.get("days", ())))


def morning_verdict(log: MorningLog | None, event: AlertEvent) -> tuple[MorningLog, bool]:
    """(the log after, text it?) for a message about ``event.event_date``: the first message of
    a morning count goes out; a later one of the same count (a province day that closed after
    its locations' reports, say) only when it brings news: a firing critical alert not yet
    texted for that morning that does not merely restate one (a province's shortage after a
    critical location in it), or the resolve of one that was texted."""
    log = log or MorningLog()
    critical = _critical(event)
    scopes = tuple(scope for _, scope in critical)
    morning = log.get(event.event_date)
    if morning is None:
        if len(log.days) >= KEEP_DAYS and event.event_date < log.days[0].date:
            return log, True  # older than anything remembered: judged against nothing told
        first = Morning(event.event_date, tuple(a for a, _ in critical), 1, _unique(scopes))
        return log.put(first), True
    new = [
        alert_id
        for alert_id, scope in critical
        if alert_id not in morning.critical and not _restates(scope, morning.scopes)
    ]
    ended = set(_resolves(event)) & set(morning.critical)
    if not new and not ended:
        return log, False
    told = tuple(a for a in morning.critical if a not in ended)
    ids = (*told, *(a for a, _ in critical if a not in told))
    after = Morning(morning.date, ids, morning.sent + 1, _unique((*morning.scopes, *scopes)))
    return log.put(after), True


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def fold(ledger: Ledger, event: AlertEvent) -> tuple[Ledger, bool]:
    """:func:`morning_verdict` against an SMS receiver's ledger: (the ledger after, text it?).
    Only the log changes; a folded message is not remembered as sent."""
    log = None if ledger.morning is None else MorningLog.from_dict(ledger.morning)
    after, send = morning_verdict(log, event)
    if after == log:
        return ledger, send
    return replace(ledger, morning=after.to_dict()), send
