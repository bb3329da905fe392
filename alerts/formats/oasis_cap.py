"""Alerts as OASIS CAP 1.2 messages, and an Atom feed of the active ones, for crisis systems.

Pure: every function turns alert events into XML text, with no clock, no I/O and no global state,
so the same events always give byte-identical output. ``docs/cap.md`` explains the mapping.

One CAP message per alert *change*: the first firing change of a firing period is an ``Alert``,
later firing changes in that period (a severity step) are ``Update`` messages and the change that
resolves it is a ``Cancel``. Updates and the Cancel reference the earlier messages of the same
period, which the caller passes as ``history`` (the alert's earlier events, in any order).

Must not import httpx, faust, aiokafka or ``streams``; within ``alerts`` only the model and the
catalogue.
"""

from __future__ import annotations

import datetime as dt
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from typing import Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

from alerts.catalogue import rule_info
from alerts.model import PROVINCE_NAMES, AlertEvent, AlertStatus, Severity, SubjectKind

__all__ = [
    "ATOM_NS",
    "CAP_CONTENT_TYPE",
    "CAP_NS",
    "atom_feed",
    "cap_identifier",
    "cap_message",
    "cap_sent",
    "cbs_province_code",
]

CAP_NS: Final = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS: Final = "http://www.w3.org/2005/Atom"
CAP_CONTENT_TYPE: Final = "application/cap+xml"

_AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")
_XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'
_HEADLINE_MAX: Final = 160
#: Characters CAP 1.2 forbids in ``identifier`` and ``sender`` (they delimit ``references``).
_FORBIDDEN: Final = frozenset(" ,<&\t\r\n")

#: CBS region codes of the provinces (StatLine "PV" codes), by the contract's province code.
_CBS_PROVINCE: Final = {
    "GR": "PV20",
    "FR": "PV21",
    "DR": "PV22",
    "OV": "PV23",
    "FL": "PV24",
    "GL": "PV25",
    "UT": "PV26",
    "NH": "PV27",
    "ZH": "PV28",
    "ZE": "PV29",
    "NB": "PV30",
    "LB": "PV31",
}

#: ``critical`` is Severe, not Extreme: Extreme is the level that crisis systems may turn into a
#: cell broadcast (NL-Alert) or a siren, for a threat to life now; this service measures capacity.
_SEVERITY: Final = {
    Severity.CRITICAL: "Severe",
    Severity.WARNING: "Moderate",
    Severity.INFO: "Minor",
}

_MONTHS: Final = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)


# ---------------------------------------------------------------- identifiers and times


def cap_identifier(event: AlertEvent) -> str:
    """The CAP identifier of one alert change: the same for the same ``(alert_id, revision)``."""
    return f"urn:opvangwacht:{quote(event.alert_id, safe=':-._~')}:{event.revision}"


def _instant(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"time without a UTC offset: {text!r}")
    return moment


def _cap_time(moment: dt.datetime) -> str:
    """CAP date-time: whole seconds and a numeric offset, never ``Z``. Given in Amsterdam time,
    whose offset is never zero, so the spec's ``-00:00`` spelling for UTC never comes up."""
    return moment.astimezone(_AMSTERDAM).replace(microsecond=0).isoformat()


def _morning(date: dt.date) -> dt.datetime:
    # The same moment as alerts.rules.lifecycle.event_time: the morning count, 09:00 in Amsterdam.
    return dt.datetime.combine(date, dt.time(9, 0), tzinfo=_AMSTERDAM)


def cap_sent(event: AlertEvent) -> str:
    """When this change happened, in CAP form, from the event alone (never a clock).

    Resolved: ``ends_at``. Firing: ``starts_at`` when the change is the start of the firing period,
    else the morning of ``event_date`` (a severity step days after the start).
    """
    if event.status is AlertStatus.RESOLVED:
        return _cap_time(_instant(event.ends_at) if event.ends_at else _morning(event.event_date))
    start = _instant(event.starts_at)
    if start.astimezone(_AMSTERDAM).date() >= event.event_date:
        return _cap_time(start)
    return _cap_time(_morning(event.event_date))


def cbs_province_code(province: str) -> str | None:
    """``"GR"`` -> ``"PV20"``; None for a code that is not one of the twelve provinces."""
    return _CBS_PROVINCE.get(province)


# ---------------------------------------------------------------- the CAP message


def _earlier_in_period(event: AlertEvent, history: Sequence[AlertEvent]) -> list[AlertEvent]:
    """The earlier changes of the same firing period, oldest first, one per revision.

    A period starts after the last resolved change and shares ``starts_at``; anything else in
    ``history`` (other alerts, later revisions, earlier periods) is ignored.
    """
    earlier: dict[int, AlertEvent] = {}
    for other in history:
        if other.alert_id == event.alert_id and other.revision < event.revision:
            earlier.setdefault(other.revision, other)
    ordered = [earlier[revision] for revision in sorted(earlier)]
    last_resolved = max(
        (i for i, other in enumerate(ordered) if other.status is AlertStatus.RESOLVED), default=-1
    )
    return [
        other
        for other in ordered[last_resolved + 1 :]
        if other.status is AlertStatus.FIRING and other.starts_at == event.starts_at
    ]


def _check_token(name: str, value: str) -> None:
    if not value or any(char in _FORBIDDEN for char in value):
        raise ValueError(f"CAP {name} must be non-empty, without spaces, commas, < or &: {value!r}")


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def _pair(parent: ET.Element, tag: str, name: str, value: str) -> None:
    element = ET.SubElement(parent, tag)
    _sub(element, "valueName", name)
    _sub(element, "value", value)


def _number(value: float) -> str:
    """Machine form: ``2380`` or ``2.5``."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(float(value))


def _nl_number(value: float) -> str:
    """Dutch form: ``2.380`` or ``2,5``."""
    if math.isfinite(value) and value == int(value):
        number = int(value)
        return ("-" if number < 0 else "") + f"{abs(number):,}".replace(",", ".")
    whole = f"{abs(value):,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return ("-" if value < 0 else "") + whole


def _nl_date(date: dt.date) -> str:
    return f"{date.day} {_MONTHS[date.month - 1]} {date.year}"


def _headline(text: str, exercise: bool) -> str:
    headline = f"OEFENING: {text}" if exercise else text
    if len(headline) > _HEADLINE_MAX:
        headline = headline[: _HEADLINE_MAX - 1].rstrip() + "…"
    return headline


def _description(event: AlertEvent, label: str) -> str:
    lines = [event.summary]
    measured = f"{label}: {_nl_number(event.value)}; drempel: {_nl_number(event.threshold)}"
    if event.headroom is not None:
        measured += f"; ruimte: {_nl_number(event.headroom)}"
    lines.append(measured + ".")
    if event.cap_source:
        lines.append(f"Bron van de grens: {event.cap_source}.")
    state = "opgeheven" if event.status is AlertStatus.RESOLVED else "actief"
    lines.append(
        f"Peildatum {_nl_date(event.event_date)}. Melding {event.alert_id}, wijziging "
        f"{event.revision}, {state}."
    )
    return "\n".join(lines)


def _instruction(event: AlertEvent) -> str:
    if event.status is AlertStatus.RESOLVED:
        return "De situatie is voorbij; voor deze melding is geen actie meer nodig."
    return (
        "Bekijk de actuele opvangcijfers en handel volgens het draaiboek van de eigen organisatie "
        "(gemeente, veiligheidsregio, COA)."
    )


def _area(info: ET.Element, event: AlertEvent, municipality_names: Mapping[str, str]) -> None:
    area = ET.SubElement(info, "area")
    kind = event.subject.kind
    province = event.province or (event.subject.id if kind is SubjectKind.PROVINCE else None)
    province_name = PROVINCE_NAMES.get(province) if province else None
    if kind is SubjectKind.NATIONAL:
        _sub(area, "areaDesc", "Nederland")
        _pair(area, "geocode", "ISO3166-1", "NL")
        return
    if kind is SubjectKind.PROVINCE:
        _sub(area, "areaDesc", f"Provincie {province_name or event.subject.id}")
    else:
        code = event.municipality_code
        name = municipality_names.get(code) if code else None
        desc = f"Gemeente {name or code}" if code else f"Locatie {event.subject.id}"
        if province_name:
            desc += f", provincie {province_name}"
        _sub(area, "areaDesc", desc)
        if code:
            _pair(area, "geocode", "CBS-gemeentecode", code)
    cbs = cbs_province_code(province) if province else None
    if cbs:
        _pair(area, "geocode", "CBS-provinciecode", cbs)


def _tree_text(root: ET.Element) -> str:
    ET.indent(root, space="  ")
    return _XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


def cap_message(
    event: AlertEvent,
    *,
    sender: str,
    history: Sequence[AlertEvent] = (),
    exercise: bool = False,
    web: str | None = None,
    municipality_names: Mapping[str, str] | None = None,
) -> str:
    """One alert change as a CAP 1.2 ``<alert>`` document (XML text; encode it as UTF-8).

    ``sender``: this system's CAP sender id (no spaces, commas, ``<`` or ``&``), e.g. an e-mail
    address or a URN. ``history``: the alert's earlier events; the ones of the same firing period
    become ``references``. ``exercise``: status Exercise instead of Actual. ``web``: an absolute
    URL with more about the alert. ``municipality_names``: CBS code -> name, for ``areaDesc``.
    """
    _check_token("sender", sender)
    identifier = cap_identifier(event)
    _check_token("identifier", identifier)
    earlier = _earlier_in_period(event, history)
    resolved = event.status is AlertStatus.RESOLVED
    msg_type = "Cancel" if resolved else "Update" if earlier else "Alert"
    sent = cap_sent(event)
    rule = rule_info(event.rule)
    event_name, category, label = (
        (rule.title, rule.cap_category, rule.measures) if rule else (event.rule, "Other", "Waarde")
    )

    alert = ET.Element("alert", {"xmlns": CAP_NS})
    _sub(alert, "identifier", identifier)
    _sub(alert, "sender", sender)
    _sub(alert, "sent", sent)
    _sub(alert, "status", "Exercise" if exercise else "Actual")
    _sub(alert, "msgType", msg_type)
    _sub(alert, "scope", "Public")
    if exercise:
        _sub(alert, "note", "Oefening: dit is geen echte melding.")
    if earlier:
        _sub(
            alert,
            "references",
            " ".join(f"{sender},{cap_identifier(e)},{cap_sent(e)}" for e in earlier),
        )

    info = ET.SubElement(alert, "info")
    _sub(info, "language", "nl-NL")
    _sub(info, "category", category)
    _sub(info, "event", event_name)
    if resolved:
        response = "AllClear"
    elif event.severity is Severity.CRITICAL:
        response = "Prepare"
    else:
        response = "Monitor"
    _sub(info, "responseType", response)
    if resolved:
        urgency = "Past"
    elif rule is not None and rule.always_through:
        urgency = "Immediate"
    elif event.severity is Severity.CRITICAL:
        urgency = "Expected"
    else:
        urgency = "Future"
    _sub(info, "urgency", urgency)
    _sub(info, "severity", _SEVERITY[event.severity])
    forecast = rule is not None and rule.forecast
    _sub(info, "certainty", "Likely" if forecast and not resolved else "Observed")
    _pair(info, "eventCode", "opvangwacht:regel", event.rule)
    _sub(info, "effective", sent)
    _sub(info, "onset", _cap_time(_instant(event.starts_at)))
    _sub(info, "senderName", "opvangwacht")
    _sub(info, "headline", _headline(event.summary, exercise))
    _sub(info, "description", _description(event, label))
    _sub(info, "instruction", _instruction(event))
    if web:
        _sub(info, "web", web)
    parameters: list[tuple[str, str]] = [
        ("melding", event.alert_id),
        ("wijziging", str(event.revision)),
        ("status", event.status.value),
        ("ernst", event.severity.value),
        ("onderwerp", f"{event.subject.kind.value}:{event.subject.id}"),
        ("peildatum", event.event_date.isoformat()),
        ("waarde", _number(event.value)),
        ("drempel", _number(event.threshold)),
    ]
    if event.headroom is not None:
        parameters.append(("ruimte", _number(event.headroom)))
    if event.province:
        parameters.append(("provincie", event.province))
    if event.cap_source:
        parameters.append(("grensbron", event.cap_source))
    parameters.extend((f"label:{key}", event.labels[key]) for key in sorted(event.labels))
    for name, value in parameters:
        _pair(info, "parameter", f"opvangwacht:{name}", value)
    _area(info, event, municipality_names or {})
    return _tree_text(alert)


# ---------------------------------------------------------------- the Atom feed


def _newest_per_alert(events: Sequence[AlertEvent]) -> list[AlertEvent]:
    newest: dict[str, AlertEvent] = {}
    for event in events:
        known = newest.get(event.alert_id)
        if known is None or event.revision > known.revision:
            newest[event.alert_id] = event
    return [e for e in newest.values() if e.status is AlertStatus.FIRING]


def atom_feed(
    events: Sequence[AlertEvent],
    *,
    feed_id: str,
    updated: str,
    self_url: str,
    cap_url: Callable[[AlertEvent], str],
    title: str = "opvangwacht: actieve meldingen",
    municipality_names: Mapping[str, str] | None = None,
    superseded: Mapping[str, Sequence[AlertEvent]] | None = None,
) -> str:
    """An Atom 1.0 feed (XML text) of the alerts still firing: one entry per alert, for its newest
    change, linking to that alert's CAP message at ``cap_url(event)``.

    ``events`` may hold several changes per alert (the newest revision counts; an alert whose
    newest change resolved it is left out). ``updated`` is the feed's time, from the caller
    (RFC 3339 with an offset), so the output depends on the input only. ``superseded``: per alert
    id, the alerts folded under it (:func:`alerts.rules.supersede.fold`, applied by the caller);
    they get no entry of their own, but a ``related`` link and a mention in the summary of the
    entry that supersedes them. Their CAP messages and the superseding one's are not changed.
    """
    _instant(updated)
    names = municipality_names or {}
    under = superseded or {}
    folded = {other.alert_id for others in under.values() for other in others}
    active = sorted(
        (e for e in _newest_per_alert(events) if e.alert_id not in folded),
        key=lambda e: (-_instant(cap_sent(e)).timestamp(), e.alert_id),
    )
    feed = ET.Element(
        "feed", {"xmlns": ATOM_NS, "{http://www.w3.org/XML/1998/namespace}lang": "nl"}
    )
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    _sub(feed, "updated", updated)
    author = ET.SubElement(feed, "author")
    _sub(author, "name", "opvangwacht")
    ET.SubElement(feed, "link", {"rel": "self", "type": "application/atom+xml", "href": self_url})
    for event in active:
        entry = ET.SubElement(feed, "entry")
        _sub(entry, "id", f"urn:opvangwacht:{quote(event.alert_id, safe=':-._~')}")
        _sub(entry, "title", event.summary)
        _sub(entry, "updated", cap_sent(event))
        _sub(entry, "published", _cap_time(_instant(event.starts_at)))
        ET.SubElement(
            entry,
            "link",
            {"rel": "alternate", "type": CAP_CONTENT_TYPE, "href": cap_url(event)},
        )
        known = rule_info(event.rule)
        event_name = known.title if known is not None else event.rule
        ET.SubElement(entry, "category", {"term": event.rule, "label": event_name})
        area = ET.Element("info")
        _area(area, event, names)
        area_desc = area.findtext("area/areaDesc") or ""
        summary = (
            f"{event_name} ({_SEVERITY[event.severity]}), {area_desc}, "
            f"peildatum {_nl_date(event.event_date)}"
        )
        for other in under.get(event.alert_id, ()):
            other_rule = rule_info(other.rule)
            other_name = other_rule.title if other_rule is not None else other.rule
            since = _instant(other.starts_at).astimezone(_AMSTERDAM).date()
            ET.SubElement(
                entry,
                "link",
                {
                    "rel": "related",
                    "type": CAP_CONTENT_TYPE,
                    "href": cap_url(other),
                    "title": f"{other_name} ({_SEVERITY[other.severity]})",
                },
            )
            summary += (
                f"; omvat ook {other_name} ({_SEVERITY[other.severity]}, sinds {_nl_date(since)})"
            )
        _sub(entry, "summary", summary)
    return _tree_text(feed)
