"""Delivery-report parsers, one per SMS provider, on the payloads their documentation shows."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from alerts.notify.dlr import (
    DeliveryReport,
    InvalidDeliveryReport,
    parse_cm,
    parse_cm_reports,
    parse_messagebird,
    parse_report,
    parse_twilio,
    twilio_signature,
    verify_messagebird_signature,
    verify_twilio_signature,
)


def cm_body(code: str, error: str = "0", description: str = "", reference: str = "ab12") -> bytes:
    return json.dumps(
        {
            "messages": {
                "msg": {
                    "received": "2024-07-02T09:00:05",
                    "to": "0031612345678",
                    "reference": reference,
                    "status": {"code": code, "errorCode": error, "errorDescription": description},
                    "operator": "20416",
                }
            }
        }
    ).encode()


@pytest.mark.parametrize(
    ("code", "status"),
    [("0", "pending"), ("1", "failed"), ("2", "delivered"), ("3", "failed"), ("4", "delivered")],
)
def test_cm(code: str, status: str) -> None:
    report = parse_cm(cm_body(code))
    assert report == DeliveryReport("ab12", status, report.detail)  # type: ignore[arg-type]
    assert report.detail.startswith(f"cm status {code}")
    assert "+3161234****" in report.detail and "612345678" not in report.detail


def test_cm_failure_detail_masks_numbers_in_the_provider_text() -> None:
    report = parse_cm(cm_body("3", "9", "Unknown subscriber 0031612345678"))
    assert report.status == "failed"
    assert "error 9" in report.detail and "0031612345678" not in report.detail


def test_cm_list_and_errors() -> None:
    one = json.loads(cm_body("2"))["messages"]["msg"]
    body = {"messages": {"msg": [one, {**one, "reference": "cd34"}]}}
    assert [r.provider_id for r in parse_cm_reports(body)] == ["ab12", "cd34"]
    with pytest.raises(InvalidDeliveryReport):
        parse_cm(body)
    for bad in (b"not json", b"{}", cm_body("9"), cm_body("2", reference="")):
        with pytest.raises(InvalidDeliveryReport):
            parse_cm(bad)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("sent", "pending"),
        ("buffered", "pending"),
        ("delivered", "delivered"),
        ("expired", "failed"),
        ("delivery_failed", "failed"),
    ],
)
def test_messagebird(status: str, expected: str) -> None:
    query = {
        "id": "e8077d803532c0b5937c639b60216938",
        "reference": "YouReference123",
        "recipient": "31612345678",
        "status": status,
        "statusDatetime": "2016-05-03T08:58:10+00:00",
    }
    report = parse_messagebird(query)
    assert (report.provider_id, report.status) == ("e8077d803532c0b5937c639b60216938", expected)
    assert "31612345678" not in report.detail
    with pytest.raises(InvalidDeliveryReport):
        parse_messagebird({**query, "status": "lost"})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("queued", "pending"),
        ("sent", "pending"),
        ("delivered", "delivered"),
        ("undelivered", "failed"),
        ("failed", "failed"),
    ],
)
def test_twilio(status: str, expected: str) -> None:
    form = {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "MessageStatus": status,
        "To": "+31612345678",
        "AccountSid": "AC0123",
    }
    if status == "undelivered":
        form["ErrorCode"] = "30003"
    report = parse_twilio(form)
    assert report.provider_id == "SM0123456789abcdef0123456789abcdef"
    assert report.status == expected
    assert "+31612345678" not in report.detail
    if status == "undelivered":
        assert "error 30003" in report.detail
    with pytest.raises(InvalidDeliveryReport):
        parse_twilio({"MessageStatus": status})


def test_dispatch() -> None:
    assert parse_report("cm", body=cm_body("2"))[0].status == "delivered"
    assert parse_report("twilio", form={"MessageSid": "SM1", "MessageStatus": "read"})[0] == (
        "SM1",
        "delivered",
        "twilio read",
    )
    assert parse_report("messagebird", query={"id": "x", "status": "sent"})[0].status == "pending"
    with pytest.raises(InvalidDeliveryReport):
        parse_report("sms77")


def test_twilio_signature() -> None:
    url = "https://opvangwacht.example.nl/api/dlr/twilio?r=burgemeester"
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": "AC1"}
    data = url + "AccountSidAC1MessageSidSM1MessageStatusdelivered"
    good = base64.b64encode(hmac.new(b"token", data.encode(), hashlib.sha1).digest()).decode()
    assert verify_twilio_signature(url, form, good, "token")
    assert not verify_twilio_signature(url, form, good, "other")
    assert not verify_twilio_signature(url, {**form, "MessageStatus": "failed"}, good, "token")


# --------------------------------------------------------------------------- Twilio, known vectors

# The request of Twilio's own tests of its request validation (twilio-python,
# tests/unit/test_request_validator.py): auth token "12345", this URL and these POST fields.
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_FORM = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}


def test_twilio_signature_of_twilios_own_example() -> None:
    assert twilio_signature(TWILIO_URL, TWILIO_FORM, TWILIO_TOKEN) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert verify_twilio_signature(TWILIO_URL, TWILIO_FORM, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345")
    assert not verify_twilio_signature(TWILIO_URL, TWILIO_FORM, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "1")
    assert not verify_twilio_signature(TWILIO_URL, TWILIO_FORM, "", TWILIO_TOKEN)


def test_twilio_signature_with_a_repeated_field() -> None:
    form = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert twilio_signature(TWILIO_URL, form, TWILIO_TOKEN) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        # signed without the port; the request came in with one
        pytest.param(
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            id="port-removed",
        ),
        # signed with the default port; the request came in without it
        pytest.param(TWILIO_URL, "kvajT1Ptam85bY51eRf/AJRuM3w=", id="https-port-added"),
        pytest.param(
            TWILIO_URL.replace("https", "http"),
            "0ZXoZLH/DfblKGATFgpif+LLRf4=",
            id="http-port-added",
        ),
    ],
)
def test_twilio_signature_with_or_without_the_port(url: str, signature: str) -> None:
    assert verify_twilio_signature(url, TWILIO_FORM, signature, TWILIO_TOKEN)


# --------------------------------------------------------------------------- MessageBird, vectors

MB_VECTORS = json.loads(
    (Path(__file__).parent / "data" / "messagebird_webhook_signatures.json").read_text()
)


@pytest.mark.parametrize("case", MB_VECTORS["cases"], ids=lambda case: case["name"])
def test_messagebird_signature_against_messagebirds_own_vectors(case: dict[str, Any]) -> None:
    now = dt.datetime.fromisoformat(MB_VECTORS["timestamp"]).timestamp()
    body = case.get("payload", "").encode()
    found = verify_messagebird_signature(
        case["url"], body, case["token"], MB_VECTORS["secret"], now
    )
    assert found is case["valid"]


def test_a_valid_messagebird_signature_checked_with_another_key_or_later_fails() -> None:
    case = MB_VECTORS["cases"][2]
    now = dt.datetime.fromisoformat(MB_VECTORS["timestamp"]).timestamp()
    body = case["payload"].encode()
    assert verify_messagebird_signature(case["url"], body, case["token"], MB_VECTORS["secret"], now)
    assert not verify_messagebird_signature(case["url"], body, case["token"], "other", now)
    assert not verify_messagebird_signature(case["url"], body, case["token"], "", now)
    later = now + 3600
    assert not verify_messagebird_signature(
        case["url"], body, case["token"], MB_VECTORS["secret"], later
    )


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "!!!.???.###",
        base64.urlsafe_b64encode(b"[" * 5000).decode() + ".e30.sig",
        "x" * 10_000,
    ],
    ids=["empty", "two-parts", "four-parts", "not-base64", "deep-json", "huge"],
)
def test_garbage_in_the_messagebird_header_is_refused_not_raised(token: str) -> None:
    assert not verify_messagebird_signature("https://example.com/", b"", token, "key", 1.0)
