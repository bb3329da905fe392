"""streams.messages: every internal message the worker reads, written and read by one definition.

Round trips per type, the exact bytes the agents wrote before these encoders existed (so old
and new workers understand each other), and bad input of every kind as InvalidReport."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from builders import an_alert

from alerts.capacity.totals import Contribution, MemberStatus
from alerts.delivery.ledger import Grouping
from alerts.dispatch.matchers import Matcher
from alerts.dispatch.silence import Silence, parse_silence
from alerts.errors import InvalidReport
from alerts.model import NATIONAL, AlertStatus, Severity
from streams import messages as m
from streams.records import encode

NOW = dt.datetime(2026, 3, 2, 8, 15, 30, 123456, tzinfo=dt.UTC)

ALERT = an_alert(
    alert_id="cap_exceeded-ter-apel-bcac4a9220",
    value=2100,
    threshold=2000.0,
    summary="Ter Apel: 2100 bewoners, 100 boven de afspraak van 2000",
    starts_at="2026-03-02T09:00:00+01:00",
    event_date=dt.date(2026, 3, 2),
    revision=3,
    headroom=-100.0,
    cap_source="afspraak",
    labels={"team": "noord"},
)
RESOLVED = dataclasses.replace(
    ALERT,
    status=AlertStatus.RESOLVED,
    severity=Severity.INFO,
    subject=NATIONAL,
    province=None,
    municipality_code=None,
    ends_at="2026-03-03T09:00:00+01:00",
    headroom=None,
    cap_source=None,
    labels={},
)
LOCATION_SHARE = Contribution(
    location_id="ter-apel",
    province="GR",
    date=dt.date(2026, 3, 2),
    occupancy=2100,
    capacity=2000,
    name="Ter Apel",
    municipality_code="GM1950",
    without_bed=12,
    slept_outside=3,
    active=False,
    asylum=True,
    locations=1,
    arrivals_7d=700,
    transfers_out_7d=650,
    departures_7d=20,
    flow_days=7,
    final=False,
)
PROVINCE_SHARE = Contribution(
    location_id="GR:ukrainian",
    province="GR",
    date=dt.date(2026, 3, 1),
    occupancy=5000,
    capacity=6000,
    asylum=False,
    locations=14,
    members=(
        MemberStatus("ter-apel", "Ter Apel", "GM1950", dt.date(2026, 3, 1)),
        MemberStatus("zoutkamp", "Zoutkamp", None, dt.date(2026, 2, 27)),
    ),
)
GROUPING = Grouping("route.1|GR", wait=30.0, interval=300.0, repeat=14400.0)


def test_the_decoder_knows_every_contribution_field() -> None:
    assert {f.name for f in dataclasses.fields(Contribution)} == m.CONTRIBUTION_FIELDS


# --------------------------------------------------------------------------- round trips

ROUND_TRIPS: list[Any] = [
    pytest.param(
        m.encode_province_message,
        m.decode_province_message,
        m.ContributionBundle((LOCATION_SHARE, PROVINCE_SHARE)),
        id="province-bundle",
    ),
    pytest.param(
        m.encode_province_message,
        m.decode_province_message,
        m.ContributionBundle(()),
        id="province-empty-bundle",
    ),
    pytest.param(
        m.encode_province_message,
        m.decode_province_message,
        m.Mark(3, dt.date(2026, 3, 2)),
        id="province-mark",
    ),
    pytest.param(
        m.encode_province_message,
        m.decode_province_message,
        m.ContributionBundle((LOCATION_SHARE,), m.Mark(1, dt.date(2026, 3, 2))),
        id="province-bundle-and-mark",
    ),
    pytest.param(
        m.encode_national_message, m.decode_national_message, PROVINCE_SHARE, id="national-share"
    ),
    pytest.param(
        m.encode_national_message,
        m.decode_national_message,
        m.Mark(0, dt.date(2026, 3, 1)),
        id="national-mark",
    ),
    pytest.param(
        m.encode_notification_message,
        m.decode_notification_message,
        m.Notification("cap_exceeded-ter-apel-bcac4a9220:3.coa", "coa", NOW, ALERT, GROUPING),
        id="notification-grouped",
    ),
    pytest.param(
        m.encode_notification_message,
        m.decode_notification_message,
        m.Notification("x.esc1", "oncall", NOW, RESOLVED, Grouping("k")),
        id="notification-grouping-defaults",
    ),
    pytest.param(
        m.encode_notification_message,
        m.decode_notification_message,
        m.Notification("x", "coa", NOW, RESOLVED),
        id="notification",
    ),
    pytest.param(
        m.encode_notification_message,
        m.decode_notification_message,
        m.ReceiverTick("coa"),
        id="receiver-tick",
    ),
    pytest.param(
        m.encode_notification_message,
        m.decode_notification_message,
        m.ReceiverAck("pagerduty", ALERT.alert_id, "Fatima"),
        id="receiver-ack",
    ),
    pytest.param(
        m.encode_notification_message,
        m.decode_notification_message,
        m.EnableReceiver("coa", "Jan"),
        id="enable",
    ),
    pytest.param(
        m.encode_escalation_message,
        m.decode_escalation_message,
        m.Acknowledgement(ALERT.alert_id, "Fatima"),
        id="acknowledgement",
    ),
    pytest.param(
        m.encode_escalation_message,
        m.decode_escalation_message,
        m.EscalationTick(ALERT.alert_id),
        id="escalation-tick",
    ),
    pytest.param(
        m.encode_escalation_message, m.decode_escalation_message, ALERT, id="escalation-alert"
    ),
    pytest.param(m.encode_alert_event, m.decode_alert_event, ALERT, id="alert"),
    pytest.param(m.encode_alert_event, m.decode_alert_event, RESOLVED, id="alert-resolved"),
]


@pytest.mark.parametrize(("write", "read", "value"), ROUND_TRIPS)
def test_round_trip(
    write: Callable[[Any], bytes], read: Callable[[bytes], Any], value: Any
) -> None:
    raw = write(value)
    assert read(raw) == value
    assert write(read(raw)) == raw


SILENCES = [
    pytest.param(
        {
            "matchers": ['severity=~"warn.*"', "province!=GR", 'rule!~"cap_.*"', "team=noord"],
            "starts_at": "2026-03-02T08:00:00+01:00",
            "ends_at": "2026-03-02T20:00:00Z",
            "author": "Jan",
            "comment": "onderhoud",
        },
        id="list-form",
    ),
    pytest.param(
        {
            "matchers": {"location id": "ter apel", "note": "a\nb", "x": 'ends "quoted" '},
            "starts_at": "2026-03-02T08:00:00+01:00",
            "ends_at": "2026-03-03T08:00:00+01:00",
            "author": "Jan",
            "comment": "mapping form, any label",
        },
        id="mapping-form",
    ),
    pytest.param(
        {
            "matchers": ['summary="he said "ja" "', 'a=" leading and trailing "', 'b=""'],
            "starts_at": "2026-03-02T08:00:00+01:00",
            "ends_at": "2026-03-03T08:00:00+01:00",
            "author": "Jan",
            "comment": "quotes",
        },
        id="quotes",
    ),
]


@pytest.mark.parametrize("body", SILENCES)
def test_silence_round_trip(body: dict[str, Any]) -> None:
    silence = parse_silence(body, "api-1234")
    # What the API writes today (the body it checked) reads as the same silence...
    assert m.decode_silence("api-1234", encode(body)) == silence
    # ...and so does what encode_silence writes.
    raw = m.encode_silence(silence)
    assert m.decode_silence("api-1234", raw) == silence
    assert m.encode_silence(m.decode_silence("api-1234", raw)) == raw


def test_silence_with_equal_labels_twice_keeps_both() -> None:
    silence = Silence(
        "s",
        (Matcher("a", "1"), Matcher("a", "2")),
        NOW,
        NOW + dt.timedelta(hours=1),
        "Jan",
        "twee",
    )
    assert m.decode_silence("s", m.encode_silence(silence)) == silence


@pytest.mark.parametrize("depth", [100, 505])
def test_a_deeply_nested_regex_is_a_silence_or_schema(depth: int) -> None:
    # re.compile recurses per group: near the stack's limit it raises RecursionError.
    nested = 'a=~"' + "(" * depth + ")" * depth + '"'
    try:
        assert m.decode_silence("s", encode(_silence(matchers=[nested]))).matchers
    except InvalidReport as exc:
        assert exc.reason == "schema"


def test_audit_entry_comes_back_as_written() -> None:
    entry = {
        "time": NOW.isoformat(),
        "type": "change",
        "event": ALERT.to_dict(),
        "provider_ids": ["SM1", 17],
        "extra": {"anything": [1, 2, {"x": None}]},
    }
    assert m.decode_audit_entry(encode(entry)) == entry


# --------------------------------------------------------------------------- old writers


def test_the_encoders_write_what_the_agents_always_wrote() -> None:
    # The dicts streams.worker.app built by hand before these encoders existed.
    bundle = m.ContributionBundle((LOCATION_SHARE,))
    assert m.encode_province_message(bundle) == encode(
        {"type": "contributions", "items": [LOCATION_SHARE.to_dict()]}
    )
    mark = {"type": "mark", "source": 2, "date": "2026-03-02"}
    assert m.encode_province_message(m.Mark(2, dt.date(2026, 3, 2))) == encode(mark)
    assert m.encode_national_message(PROVINCE_SHARE) == encode(PROVINCE_SHARE.to_dict())
    notification = {
        "type": "notification",
        "notification_id": "n1",
        "receiver": "coa",
        "queued_at": NOW.isoformat(),
        "event": ALERT.to_dict(),
        "group": GROUPING.to_dict(),
    }
    written = m.Notification("n1", "coa", NOW, ALERT, GROUPING)
    assert m.encode_notification_message(written) == encode(notification)
    assert m.encode_notification_message(m.ReceiverTick("coa")) == encode(
        {"type": "tick", "receiver": "coa"}
    )
    ack = {"type": "ack", "receiver": "pd", "alert_id": "a", "by": "Jan"}
    assert m.encode_notification_message(m.ReceiverAck("pd", "a", "Jan")) == encode(ack)
    enable = {"type": "enable", "receiver": "coa", "by": "Jan"}
    assert m.encode_notification_message(m.EnableReceiver("coa", "Jan")) == encode(enable)
    acked = {"type": "ack", "alert_id": "a", "by": "Jan"}
    assert m.encode_escalation_message(m.Acknowledgement("a", "Jan")) == encode(acked)
    tick = {"type": "tick", "alert_id": "a"}
    assert m.encode_escalation_message(m.EscalationTick("a")) == encode(tick)
    assert m.encode_alert_event(ALERT) == encode(ALERT.to_dict())


def test_a_bundle_with_only_a_mark_is_written_as_the_bare_mark() -> None:
    """Workers before 2026-12-05 read a bundle's items and ignore its mark; a mark with nothing
    before it goes in the form they read."""
    mark = m.Mark(2, dt.date(2026, 3, 2))
    assert m.encode_province_message(m.ContributionBundle((), mark)) == encode(
        {"type": "mark", "source": 2, "date": "2026-03-02"}
    )
    assert (
        m.decode_province_message(m.encode_province_message(m.ContributionBundle((), mark))) == mark
    )
    both = m.ContributionBundle((LOCATION_SHARE,), mark)
    assert m.encode_province_message(both) == encode(
        {
            "type": "contributions",
            "items": [LOCATION_SHARE.to_dict()],
            "mark": {"source": 2, "date": "2026-03-02"},
        }
    )


def test_a_bare_contribution_from_an_older_worker_is_a_bundle_of_one() -> None:
    raw = encode(LOCATION_SHARE.to_dict())
    assert m.decode_province_message(raw) == m.ContributionBundle((LOCATION_SHARE,))


def test_a_notification_without_a_type_is_a_notification() -> None:
    body = {"notification_id": "n", "receiver": "coa", "queued_at": NOW.isoformat()}
    found = m.decode_notification_message(encode({**body, "event": ALERT.to_dict()}))
    assert found == m.Notification("n", "coa", NOW, ALERT)


def test_enable_and_ack_without_by() -> None:
    enable = m.decode_notification_message(b'{"type": "enable", "receiver": "coa"}')
    assert enable == m.EnableReceiver("coa", "")
    ack = m.decode_escalation_message(b'{"type": "ack", "alert_id": "a"}')
    assert ack == m.Acknowledgement("a", "")


def test_unknown_fields_are_ignored() -> None:
    extra = {**LOCATION_SHARE.to_dict(), "future_field": [1, 2], "type": None}
    assert m.decode_national_message(encode(extra)) == LOCATION_SHARE


# --------------------------------------------------------------------------- bad input


def _share(**changes: Any) -> dict[str, Any]:
    return {**PROVINCE_SHARE.to_dict(), **changes}


def _without(base: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k not in names}


def _notification(**changes: Any) -> dict[str, Any]:
    body = {
        "type": "notification",
        "notification_id": "n1",
        "receiver": "coa",
        "queued_at": NOW.isoformat(),
        "event": ALERT.to_dict(),
        "group": GROUPING.to_dict(),
    }
    return {**body, **changes}


def _alert(**changes: Any) -> dict[str, Any]:
    return {**ALERT.to_dict(), **changes}


def _silence(**changes: Any) -> dict[str, Any]:
    body = {
        "matchers": ["team=noord"],
        "starts_at": "2026-03-02T08:00:00+01:00",
        "ends_at": "2026-03-03T08:00:00+01:00",
        "author": "Jan",
        "comment": "x",
    }
    return {**body, **changes}


Decoder = Callable[[bytes | None], Any]


def _silence_decoder(raw: bytes | None) -> Silence:
    return m.decode_silence("api-1", raw)


# Each: decoder, value (JSON-able or bytes). What the old inline reading raised is in comments.
BAD: list[Any] = [
    # the province topic
    (m.decode_province_message, {"type": "contributions"}),  # KeyError
    (m.decode_province_message, {"type": "contributions", "items": None}),  # TypeError
    (m.decode_province_message, {"type": "contributions", "items": [], "mark": "2026-03-02"}),
    (m.decode_province_message, {"type": "contributions", "items": [], "mark": {"source": 0}}),
    (m.decode_province_message, {"type": "contributions", "items": [1]}),  # TypeError
    (m.decode_province_message, {"type": "contributions", "items": [_share(members=5)]}),
    (m.decode_province_message, {"type": "contributions", "items": [_share(members=[7])]}),
    (m.decode_province_message, {"type": "mark", "source": "0", "date": "2026-03-02"}),
    (m.decode_province_message, {"type": "mark", "source": 0}),  # KeyError
    (m.decode_province_message, {"type": "mark", "source": -1, "date": "2026-03-02"}),
    (m.decode_province_message, {"type": "mark", "source": 0, "date": "2026-02-30"}),
    (m.decode_province_message, {"type": "contribution"}),
    (m.decode_province_message, _without(_share(), "date")),  # KeyError
    (m.decode_province_message, _without(_share(), "occupancy")),  # TypeError
    (m.decode_province_message, _share(occupancy="2100")),  # accepted, crashed the sums
    (m.decode_province_message, _share(occupancy=-1)),
    (m.decode_province_message, _share(occupancy=True)),
    (m.decode_province_message, _share(province="XX")),
    (m.decode_province_message, _share(active="yes")),
    (m.decode_province_message, _share(date=20260302)),  # TypeError
    (m.decode_province_message, _share(name=["x"])),
    (m.decode_province_message, _share(members=[{"location_id": "a"}])),  # KeyError
    (m.decode_province_message, [1, 2]),  # AttributeError
    (m.decode_province_message, "mark"),  # AttributeError
    # the national topic
    (m.decode_national_message, {"type": "mark", "date": "2026-03-02"}),
    (m.decode_national_message, _share(capacity=None)),
    (m.decode_national_message, _share(flow_days=1.5)),
    (m.decode_national_message, {}),
    (m.decode_national_message, None),
    # the notifications topic
    (m.decode_notification_message, _notification(event=None)),  # TypeError
    (m.decode_notification_message, _notification(event="x")),  # TypeError
    (m.decode_notification_message, _without(_notification(), "queued_at")),  # KeyError
    (m.decode_notification_message, _notification(queued_at="2026-03-02T08:00:00")),  # naive
    (m.decode_notification_message, _notification(queued_at="morgen")),  # ValueError
    (m.decode_notification_message, _notification(queued_at=17)),  # TypeError
    (m.decode_notification_message, _notification(group="x")),
    (m.decode_notification_message, _notification(group={})),  # KeyError
    (m.decode_notification_message, _notification(group={"key": "k", "wait": "nan"})),
    (m.decode_notification_message, _notification(group={"key": "k", "wait": -1})),
    (m.decode_notification_message, _notification(group={"key": "k", "repeat": 1e300})),
    (m.decode_notification_message, _notification(group={"key": "k", "wait": [1]})),
    (m.decode_notification_message, _notification(receiver=None)),
    (m.decode_notification_message, _notification(receiver=7)),
    (m.decode_notification_message, _notification(notification_id=None)),
    (m.decode_notification_message, {"type": "tick"}),
    (m.decode_notification_message, {"type": "ack", "receiver": "pd"}),  # KeyError
    (m.decode_notification_message, {"type": "enable", "receiver": "c", "by": ["x"]}),
    (m.decode_notification_message, {"type": "bogus", "receiver": "c"}),
    (m.decode_notification_message, _notification(event=_alert(status="burning"))),
    # the acks topic and the alerts topic, as the escalation agent reads them
    (m.decode_escalation_message, {"type": "ack"}),
    (m.decode_escalation_message, {"type": "ack", "alert_id": 7}),
    (m.decode_escalation_message, {"type": "tick", "alert_id": ""}),
    (m.decode_escalation_message, {"type": "resolve", "alert_id": "a"}),
    (m.decode_escalation_message, {}),  # KeyError
    (m.decode_escalation_message, _without(_alert(), "subject")),  # KeyError
    (m.decode_escalation_message, _alert(subject="ter-apel")),  # TypeError
    (m.decode_escalation_message, _alert(subject={"kind": "town", "id": "x"})),  # ValueError
    (m.decode_escalation_message, _alert(subject={"kind": "location"})),  # KeyError
    (m.decode_escalation_message, _alert(status="burning")),  # ValueError
    (m.decode_escalation_message, _alert(severity=None)),  # ValueError
    (m.decode_escalation_message, _alert(revision="drie")),  # ValueError
    (m.decode_escalation_message, _alert(revision=None)),  # TypeError
    (m.decode_escalation_message, _alert(revision=-1)),
    (m.decode_escalation_message, _alert(event_date="gisteren")),  # ValueError
    (m.decode_escalation_message, _alert(event_date=None)),  # TypeError
    (m.decode_escalation_message, _alert(value="veel")),  # accepted, crashed rendering
    (m.decode_escalation_message, _alert(value=True)),
    (m.decode_escalation_message, _alert(threshold=None)),
    (m.decode_escalation_message, _alert(labels=["a"])),  # ValueError
    (m.decode_escalation_message, _alert(labels={"a": 1})),
    (m.decode_escalation_message, _alert(starts_at="9999-12-31T23:00:00-05:00")),
    (m.decode_escalation_message, _alert(ends_at=5)),
    (m.decode_escalation_message, _alert(summary=None)),
    (m.decode_escalation_message, _alert(alert_id="")),
    (m.decode_alert_event, _alert(rule=None)),
    # the silences topic
    (_silence_decoder, _without(_silence(), "matchers")),
    (_silence_decoder, _silence(matchers=[])),
    (_silence_decoder, _silence(matchers="team=noord")),
    (_silence_decoder, _silence(matchers=["kapot"])),
    (_silence_decoder, _silence(matchers=[7])),
    (_silence_decoder, _silence(matchers=['a=~"("'])),
    (_silence_decoder, _silence(matchers=["a=" + "b" * 20_000])),  # 4 s to parse
    (_silence_decoder, _silence(matchers=[f"a{n}=b" for n in range(101)])),
    (_silence_decoder, _silence(matchers={"a": "b" * 2000})),
    (_silence_decoder, _silence(starts_at="gisteren")),
    (_silence_decoder, _silence(ends_at="2026-03-01T08:00:00+01:00")),
    (_silence_decoder, _silence(ends_at="9999-12-31T23:00:00-05:00")),
    (_silence_decoder, _silence(author=" ")),
    (_silence_decoder, [1]),
    # the audit topic
    (m.decode_audit_entry, {"type": "change", "event": "x"}),
    (m.decode_audit_entry, {"type": "change", "event": {"alert_id": "a"}}),
    (m.decode_audit_entry, {"type": 7}),
    (m.decode_audit_entry, {"provider_ids": 7}),
    (m.decode_audit_entry, {"provider_ids": [{"a": 1}]}),
    (m.decode_audit_entry, {"provider_id": ["a"]}),
    (m.decode_audit_entry, {"provider_id": True}),
    (m.decode_audit_entry, []),
]

GARBAGE = [
    None,
    b"",
    b"\xff\xfe",
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b"1" * 5000,
    b'{"type": "tick", "receiver": "\\ud800", "alert_id": "\\ud800"}',
    b"NaN",
    b'{"type": "mark", "source": 1e400, "date": "2026-03-02"}',
    b"null",
]
DECODERS: list[Decoder] = [
    m.decode_province_message,
    m.decode_national_message,
    m.decode_notification_message,
    m.decode_escalation_message,
    m.decode_alert_event,
    m.decode_audit_entry,
    _silence_decoder,
]


def _name(value: Any) -> str:
    return getattr(value, "__name__", "")


@pytest.mark.parametrize(
    ("decode", "value"), BAD, ids=[f"{_name(d)}-{n}" for n, (d, _) in enumerate(BAD)]
)
def test_bad_shape_is_schema(decode: Decoder, value: Any) -> None:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    with pytest.raises(InvalidReport) as caught:
        decode(raw)
    assert caught.value.reason == "schema", caught.value.detail
    assert 0 < len(caught.value.detail) <= 500


@pytest.mark.parametrize("decode", DECODERS, ids=_name)
@pytest.mark.parametrize("raw", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_a_typed_error(decode: Decoder, raw: bytes | None) -> None:
    with pytest.raises(InvalidReport) as caught:
        decode(raw)
    assert caught.value.reason in {"invalid_json", "schema"}
    assert len(caught.value.detail) <= 500
