"""SMS per mayor per morning count, counted from ``opvangwacht route --dry-run`` on the bundled
scenarios with the mayors of docs/mayors-sms.yml: at most one message per receiver per report
date, unless a later one brings a critical alert the mayor was not texted that morning (or
resolves one that was); and on 9 September 2022 Westerwolde's mayor reads one message instead of
one per change."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from fakes.channels import ENV

from alerts.receivers.sms_text import gsm7_units
from streams.cli.main import main

CONFIG = Path(__file__).resolve().parents[2] / "docs" / "mayors-sms.yml"


def dry_run(scenario: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code = main(["route", "--dry-run", scenario, "--config", str(CONFIG), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def messages(changes: list[dict[str, Any]]) -> dict[tuple[str, str], list[list[dict[str, Any]]]]:
    """(receiver, report date) -> the SMS sent, each as the alert changes it stands for: the
    change whose target says ``send`` and those whose target says ``bundled`` with it."""
    out: dict[tuple[str, str], list[list[dict[str, Any]]]] = defaultdict(list)
    by_head: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for change in changes:
        alert = change["alert"]
        for target in change["targets"]:
            if target["channel"] != "sms":
                continue
            key = (target["receiver"], alert["event_date"])
            if target["action"] == "send":
                members = [alert]
                out[key].append(members)
                by_head[(target["receiver"], alert["alert_id"])] = members
            elif target["action"] == "bundled":
                head = target["reason"].split(" with ")[1].split(" ")[0]
                by_head[(target["receiver"], head)].append(alert)
    return out


def sms_count(changes: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for (receiver, _), sent in messages(changes).items():
        counts[receiver] += len(sent)
    return counts


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPVANG_CONFIG", raising=False)


@pytest.mark.parametrize("scenario", ["ter-apel-2022-08", "shortage-2026"])
def test_at_most_one_sms_per_morning_unless_a_later_one_is_critical_and_new(
    scenario: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = dry_run(scenario, capsys)
    changes = records[:-1]
    sent = messages(changes)
    assert sent, "the mayors got nothing at all"
    for (receiver, day), texts in sent.items():
        told: set[str] = set()
        for number, members in enumerate(texts):
            critical = {
                m["alert_id"]
                for m in members
                if m["severity"] == "critical" and m["status"] == "firing"
            }
            ended = {m["alert_id"] for m in members if m["status"] == "resolved"} & told
            if number:
                assert critical - told or ended, (
                    f"{receiver} got SMS {number + 1} on {day} with nothing critical and new: "
                    f"{[m['summary'] for m in members]}"
                )
            told = (told - ended) | critical
    # fewer messages than changes that concern the mayors, and every one within one segment
    routed = defaultdict(int)
    for change in changes:
        for target in change["targets"]:
            if target["channel"] == "sms":
                routed[target["receiver"]] += 1
                if target["message"] is not None:
                    assert target["message"]["septets"] <= 160
    counts = sms_count(changes)
    assert sum(counts.values()) < sum(routed.values())


def test_westerwolde_on_9_september_2022(capsys: pytest.CaptureFixture[str]) -> None:
    changes = dry_run("ter-apel-2022-08", capsys)[:-1]
    day = [c for c in changes if c["alert"]["event_date"] == "2022-09-09"]
    concerning = [
        c for c in day for t in c["targets"] if t["receiver"] == "burgemeester-westerwolde"
    ]
    texts = messages(changes)[("burgemeester-westerwolde", "2022-09-09")]
    assert len(concerning) >= 6, "the morning concerns the mayor at location and province level"
    # one SMS for Ter Apel's report; Groningen's day restates it and is folded
    assert len(texts) == 1 and texts[0][0]["subject"]["kind"] == "location"
    folded = [
        c["alert"]["subject"]["kind"]
        for c in day
        for t in c["targets"]
        if t["receiver"] == "burgemeester-westerwolde" and t["action"] == "folded"
    ]
    assert folded and set(folded) == {"province"}
    heads = [
        t["message"]["text"]
        for c in day
        for t in c["targets"]
        if t["receiver"] == "burgemeester-westerwolde" and t["action"] == "send"
    ]
    assert heads[0].startswith("KRITIEK: Ter Apel: 2.053 personen")
    assert all(gsm7_units(text) <= 160 for text in heads)
