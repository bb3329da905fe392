"""``opvangwacht route --dry-run``: on the bundled Ter Apel August 2022 scenario and on an alert
file, with a config of every channel kind; what a person would read, and nothing sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes.channels import ENV, EVENT, PHONES, SECRETS
from fakes.servers import closed_port

from alerts.receivers.sms_text import gsm7_units
from streams.cli.main import main


def closed_port_url() -> str:
    """Nothing listens there: a dry run that tried to send would fail loudly."""
    return f"http://127.0.0.1:{closed_port()}"


CONFIG = f"""
route:
  receiver: coa-operations
  routes:
    - match: {{severity: critical}}
      receiver: ministerie-piket
      continue: true
receivers:
  - name: coa-operations
    webhook:
      url: {closed_port_url()}/hook/T0PATHs3cr3t?token=qs-s3cr3t-7f1e
      secret_env: HOOK_SECRET
  - name: ministerie-piket
    pagerduty:
      routing_key_env: PAGERDUTY_ROUTING_KEY
      url: {closed_port_url()}/v2/enqueue
  - name: burgemeester-westerwolde
    municipality_code: GM1950
    quiet_hours: {{start: "22:00", end: "07:00"}}
    sms:
      provider: cm
      to: ["{PHONES[0]}", "{PHONES[1]}"]
      sender: Opvangwacht
      token_env: CM_PRODUCT_TOKEN
      base_url: {closed_port_url()}
  - name: burgemeester-cranendonck
    municipality_code: GM1706
    sms:
      provider: twilio
      to: "{PHONES[1]}"
      sender: Opvangwacht
      token_env: TWILIO_AUTH_TOKEN
      account_sid_env: TWILIO_ACCOUNT_SID
"""
#: What the mayor of Westerwolde reads on 13 August 2022 (the night 12->13: 2,009 at Ter Apel):
#: one SMS for the three changes of Ter Apel's report, the critical ones first.
CAP_EXCEEDED_SMS = "KRITIEK: Ter Apel: 2.009 personen, 9 boven de afgesproken grens van 2.000"
BUNDLE_SMS = (
    f"{CAP_EXCEEDED_SMS}. Ter Apel: 40 personen sliepen buiten, nacht voor 13 aug"
    " +1 meer, zie statuspagina"
)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPVANG_CONFIG", raising=False)
    path = tmp_path / "alerting.yml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["route", *args])
    out, err = capsys.readouterr()
    return code, out, err


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_scenario_the_mayor_of_westerwolde_gets_the_cap_exceeded_sms(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--dry-run", "ter-apel-2022-08", "--config", str(config), "--json")
    assert code == 0, err
    records = lines(out)
    changes, summary = records[:-1], records[-1]["summary"]
    cap = [c for c in changes if c["alert"]["rule"] == "cap_exceeded"]
    assert [c["alert"]["status"] for c in cap] == ["firing", "resolved", "firing"]
    first = cap[0]
    assert first["alert"]["event_date"] == "2022-08-13"
    assert first["at"] == "2022-08-13T09:00:00+02:00"  # the event time, not the clock
    mayor = {t["receiver"]: t for t in first["targets"]}["burgemeester-westerwolde"]
    assert mayor["action"] == "send"
    sms = mayor["message"]
    assert sms["text"] == BUNDLE_SMS
    assert sms["septets"] == gsm7_units(BUNDLE_SMS) <= 160
    assert sms["to"] == ["+3161234****", "+3168765****"]
    # critical: the on-call pager as well, with the same summary
    pager = {t["receiver"]: t for t in first["targets"]}["ministerie-piket"]
    assert pager["message"]["event_action"] == "trigger"
    assert pager["message"]["text"] == CAP_EXCEEDED_SMS.removeprefix("KRITIEK: ")
    # Cranendonck has no location in the scenario: its mayor hears nothing
    assert "burgemeester-cranendonck" not in summary["receivers"]
    assert summary["alerts"] == len(changes) > 10
    assert summary["receivers"]["burgemeester-westerwolde"]["send"] >= 10
    # no secret, no whole phone number anywhere
    for secret in SECRETS:
        assert secret not in out + err


def test_scenario_in_text_with_a_summary(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--dry-run", "ter-apel-2022-08", "--config", str(config))
    assert code == 0
    assert "2022-08-13  cap_exceeded  firing  critical  location ter-apel" in out
    assert f'"{BUNDLE_SMS}" ({gsm7_units(BUNDLE_SMS)}/160)' in out
    assert "burgemeester-westerwolde" in out.split("Summary:")[1]
    assert "Nothing is sent." in out
    for secret in SECRETS:
        assert secret not in out


def test_at_night_the_warnings_for_the_mayor_wait_for_the_morning(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--dry-run", "ter-apel-2022-08", "--config", str(config), "--json"]
    code, out, _ = run(capsys, *args, "--at", "2022-08-13T23:30:00+02:00")
    assert code == 0
    changes = lines(out)[:-1]
    mayor = [
        (c["alert"]["severity"], c["alert"]["rule"], t["action"], t["release_at"])
        for c in changes
        for t in c["targets"]
        if t["receiver"] == "burgemeester-westerwolde"
    ]
    assert ("critical", "cap_exceeded", "send", None) in mayor
    held = [m for m in mayor if m[2] == "hold"]
    assert held and {m[3] for m in held} == {"2022-08-14T07:00:00+02:00"}
    assert all(m[0] != "critical" for m in held)


def test_an_alert_file(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    resolved = {**EVENT.to_dict(), "status": "resolved", "revision": 4, "ends_at": "2024-07-05"}
    path = tmp_path / "alerts.jsonl"
    path.write_text(
        "# two changes of one alert\n"
        + json.dumps(EVENT.to_dict())
        + "\n\n"
        + json.dumps(resolved)
        + "\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "--dry-run", str(path), "--config", str(config), "--json")
    assert code == 0, err
    first, second, summary = lines(out)
    texts = {t["receiver"]: t["message"]["text"] for t in first["targets"]}
    assert texts["burgemeester-westerwolde"] == (
        "KRITIEK: Ter Apel: 2.380 personen, 380 boven de afgesproken grens van 2.000"
    )
    actions = {t["receiver"]: t["message"].get("event_action") for t in second["targets"]}
    assert actions["ministerie-piket"] == "resolve"
    second_texts = {t["receiver"]: t["message"]["text"] for t in second["targets"]}
    assert second_texts["burgemeester-westerwolde"].startswith("Opgelost: Ter Apel")
    assert summary["summary"]["alerts"] == 2
    # the same as a JSON array
    array = tmp_path / "alerts.json"
    array.write_text(json.dumps([EVENT.to_dict(), resolved]), encoding="utf-8")
    code, again, _ = run(capsys, "--dry-run", str(array), "--config", str(config), "--json")
    assert code == 0
    assert lines(again)[:2] == [first, second]


def test_without_dry_run_it_says_only_dry_run_exists(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "ter-apel-2022-08")
    assert code == 2
    assert "only --dry-run exists" in err and out == ""


def test_a_missing_file(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--dry-run", "/nonexistent/alerts.jsonl", "--config", str(config))
    assert code == 2
    assert "/nonexistent/alerts.jsonl: no such file" in err
    assert "alert file" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"alert_id": "a", "rule": "cap_near"}\n', "alerts.jsonl:1: not an alert event"),
        (json.dumps(EVENT.to_dict()) + "\n{oops\n", "alerts.jsonl:2: not JSON"),
        (
            '{"type": "occupancy", "location_id": "ter-apel"}\n{"type": "weather"}\n',
            "alerts.jsonl:2: 'type' must be one of",
        ),
    ],
    ids=["not-an-alert", "not-json", "bad-scenario-record"],
)
def test_an_unreadable_line_names_file_and_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "--dry-run", str(path), "--config", str(config))
    assert code == 2, out
    assert expected in err
    assert "Traceback" not in err


def test_a_scenario_record_the_worker_would_dead_letter_is_skipped_and_named(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.jsonl"
    good = {"type": "occupancy", "location_id": "ter-apel", "event_id": "a", "date": "2024-07-02"}
    path.write_text(
        json.dumps({**good, "occupancy": 2100})
        + "\n"
        + json.dumps({**good, "event_id": "b", "location_id": "atlantis"})
        + "\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "--dry-run", str(path), "--config", str(config), "--json")
    assert code == 0, err
    assert "skipped b: occupancy: schema" in err
    assert lines(out)[0]["alert"]["rule"] == "cap_exceeded"


def test_without_credentials_in_the_environment_it_still_runs_and_says_so(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENV:
        monkeypatch.delenv(name)
    code, out, err = run(capsys, "--dry-run", "ter-apel-2022-08", "--config", str(config))
    assert code == 0
    assert CAP_EXCEEDED_SMS in out
    assert "credentials not set here: HOOK_SECRET" in err


def test_the_installed_command_never_contacts_kafka(config: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **ENV,
        "OPVANG_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "OPVANG_CONFIG": str(config),
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "route", "--dry-run", "ter-apel-2022-08", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert CAP_EXCEEDED_SMS in done.stdout


def test_without_a_config_nobody_hears_and_it_says_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPVANG_CONFIG", raising=False)
    code, out, err = run(capsys, "--dry-run", "ter-apel-demo")
    assert code == 0
    assert "no alerting config" in err
    assert "-> no receiver" in out
    assert "reach no receiver" in out.split("Summary:")[1]
