"""Delivery-report parsers, one per SMS provider, on the payloads their documentation shows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from alerts.notify.dlr import (
    DeliveryReport,
    InvalidDeliveryReport,
    parse_cm,
    parse_cm_reports,
    parse_messagebird,
    parse_report,
    parse_twilio,
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
