"""Acknowledge and silence from the status page, in headless Chromium at phone width, against a
real worker fed through Kafka: log in once per browser session with the API token (kept in
sessionStorage, never in the page), tap "Bevestigen" and "Stilzetten", open an alert's history and
CAP message, and see the worker record what was done.

Chromium is driven over the DevTools protocol (tests/integration/cdp.py); taps land at the
element's place on the screen, so a button that is off screen or covered fails the test.
Without `chromium` the module skips on a developer's machine and fails where CI is set.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from builders import TWO_CAPPED_CENTRES
from cdp import Browser, chromium
from e2e_support import HookServer, WorkerProcess, call_api, produce

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "tests" / "artifacts" / "status-page-actions.png"
TOKEN = "page-token-" + uuid.uuid4().hex
PHONE = {"width": 360, "height": 780}


def get(worker: WorkerProcess, path: str) -> Any:
    status, body = call_api(worker.port, path)
    assert status == 200, body
    return json.loads(body)


def fits(selector: str) -> str:
    """JavaScript: every element matching ``selector`` is shown, no wider than the screen, and
    inside its alert (or its container) from left to right. (That the whole page fits the screen
    is :func:`whole_page_fits`.)"""
    return f"""(() => {{
        const nodes = [...document.querySelectorAll({json.dumps(selector)})];
        return nodes.length > 0 && nodes.every((n) => {{
            const r = n.getBoundingClientRect();
            const box = (n.closest("[data-alert-id]") || n.parentElement).getBoundingClientRect();
            return r.width > 0 && r.width <= window.innerWidth
                && r.left >= box.left - 0.5 && r.right <= box.right + 0.5;
        }});
    }})()"""


async def whole_page_fits(tab: Browser, when: str) -> None:
    """The whole page at phone width: it does not scroll sideways and no shown element sticks
    out on the right."""
    found = await tab.overflow()
    assert found["width"] == PHONE["width"], found
    assert found["scroll"] <= found["width"] and found["wide"] == [], f"{when}: {found}"


async def test_acknowledge_and_silence_from_the_page_at_phone_width(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    binary = chromium()
    ops = HookServer()
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"pageact-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path,
        config=f"receivers:\n  - name: ops\n    webhook: {{url: '{ops.url}'}}\n",
        extra_env={"OPVANG_API_TOKEN": TOKEN},
    )
    worker.start()
    try:
        await worker.publish_locations(*TWO_CAPPED_CENTRES)
        reports = [
            (
                f"{worker.prefix}occupancy",
                loc,
                json.dumps(
                    {
                        "event_id": f"{loc}-1",
                        "location_id": loc,
                        "date": "2024-06-01",
                        "occupancy": count,
                    }
                ).encode(),
            )
            for loc, count in (("ter-apel", 2300), ("budel", 1950))
        ]
        await produce(kafka_bootstrap, reports)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and len(get(worker, "/api/alerts")["alerts"]) < 2:
            time.sleep(0.3)
        alerts = {a["subject"]["id"]: a["alert_id"] for a in get(worker, "/api/alerts")["alerts"]}
        ter_apel, budel = alerts["ter-apel"], alerts["budel"]
        page = f"http://127.0.0.1:{worker.port}/"

        async with Browser(binary, tmp_path, **PHONE, scale=2) as tab:
            await tab.open(page)
            await tab.wait_for("document.body && document.body.dataset.loaded === 'true'")
            await tab.wait_for("document.querySelectorAll('.oncall-actions').length === 2")
            # Read only until logged in: history and CAP message, no buttons that change things.
            assert await tab.evaluate("document.querySelectorAll('.oncall-ack').length") == 0
            assert await tab.evaluate("!!document.getElementById('oncall-login')")

            # The history, one tap away; the CAP message is a link on the alert.
            row = f'[data-alert-id="{ter_apel}"]'
            await tab.tap(f"{row} .oncall-history-button")
            await tab.wait_for(
                f"document.querySelector('{row} .oncall-history').innerText.includes('wijziging')",
                show=row,
            )
            href = await tab.evaluate(f"document.querySelector('{row} .oncall-cap').href")
            assert href == f"{page}api/cap/{ter_apel}"
            cap = await tab.evaluate(f"fetch({json.dumps(href)}).then((r) => r.text())")
            assert "<alert" in cap and "Ter Apel" in cap

            # A wrong token is refused and not kept.
            await tab.type("#oncall-name", "Dienstdoende BZK")
            await tab.type("#oncall-token", "not-the-token")
            await tab.tap("#oncall-login-button")
            await tab.wait_for(
                "document.getElementById('oncall-login-status').textContent.includes('klopt niet')"
            )
            assert await tab.evaluate("sessionStorage.getItem('opvangwacht.token')") is None

            await tab.type("#oncall-token", TOKEN)
            await tab.tap("#oncall-login-button")
            await tab.wait_for("!!document.getElementById('oncall-session')")
            await tab.wait_for("document.querySelectorAll('.oncall-ack').length === 2")
            assert await tab.evaluate("sessionStorage.getItem('opvangwacht.token')") == TOKEN
            assert await tab.evaluate("localStorage.length") == 0
            assert await tab.evaluate("document.cookie") == ""
            assert TOKEN not in await tab.evaluate("document.documentElement.outerHTML")
            assert await tab.evaluate(fits(".oncall-actions button, .oncall-cap, #oncall > *"))
            await whole_page_fits(tab, "logged in")

            # Acknowledge Ter Apel: the worker records it under the name given at log-in.
            await tab.tap(f"{row} .oncall-ack")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                acks = [
                    e
                    for e in get(worker, f"/api/alerts/{ter_apel}/history")["history"]
                    if e["type"] == "ack"
                ]
                if acks:
                    break
                time.sleep(0.3)
            assert [a["by"] for a in acks] == ["Dienstdoende BZK"]
            await tab.wait_for(
                f"document.querySelector('{row}').textContent.includes('Bevestigd door Dienst')",
                show=row,
            )

            # Silence Budel for 4 hours, with a reason.
            other = f'[data-alert-id="{budel}"]'
            await tab.tap(f"{other} .oncall-silence")
            await tab.wait_for(f"!!document.querySelector('{other} .oncall-silence-form')")
            assert await tab.evaluate(fits(f"{other} .oncall-silence-form > *"))
            await whole_page_fits(tab, "logged in, a silence form open")
            # Chosen as a person chooses: the value set and the select's change event fired (a
            # value set without the event was lost when the 30-second re-render came between).
            await tab.evaluate(
                f"(() => {{ const s = document.querySelector('{other} .oncall-duration');"
                " s.value = '4'; s.dispatchEvent(new Event('change')); })()"
            )
            await tab.type(f"{other} .oncall-reason", "uitbreiding loopt, cijfers kloppen")
            # The page re-renders its alerts every 30 s: a form being filled in survives that.
            await tab.evaluate(f"document.querySelector('{other}').dataset.old = '1'")
            read = "Number(document.body.dataset.silencesRead || 0)"
            reads = await tab.evaluate(read)
            await tab.evaluate("window.load()")
            await tab.wait_for(f"!document.querySelector('{other}').dataset.old")
            # The re-render is followed by reading the silences and rebuilding the buttons: a
            # tap pressed before that rebuild and released after it is no click. Tap after it.
            await tab.wait_for(f"{read} > {reads}")
            await tab.wait_for(
                f"document.querySelector('{other} .oncall-reason')?.value"
                " === 'uitbreiding loopt, cijfers kloppen'",
                show=other,
            )
            assert (
                await tab.evaluate(f"document.querySelector('{other} .oncall-duration').value")
                == "4"
            )
            before = dt.datetime.now(dt.UTC)
            await tab.tap(f"{other} .oncall-silence-submit")
            await tab.wait_for(f"!!document.querySelector('{other} .oncall-unsilence')", show=other)
            (made,) = get(worker, "/api/v2/silences")
            assert made["matchers"] == [
                {"name": "alert_id", "value": budel, "isRegex": False, "isEqual": True}
            ]
            assert made["createdBy"] == "Dienstdoende BZK"
            assert made["comment"] == "uitbreiding loopt, cijfers kloppen"
            ends = dt.datetime.fromisoformat(made["endsAt"].replace("Z", "+00:00"))
            assert (
                dt.timedelta(hours=3, minutes=58) < ends - before < dt.timedelta(hours=4, minutes=2)
            )

            # Still logged in after a reload (the same browser session), the page never holds it.
            await tab.send("Page.reload")
            await tab.wait_for("document.body && document.body.dataset.loaded === 'true'")
            await tab.wait_for("document.querySelectorAll('.oncall-ack').length === 2")
            await tab.wait_for(f"!!document.querySelector('{other} .oncall-unsilence')")
            await tab.screenshot(SCREENSHOT)

            # Lift the silence from the page, then log out: the buttons go, the token too.
            await tab.tap(f"{other} .oncall-unsilence")
            await tab.wait_for(f"!!document.querySelector('{other} .oncall-silence')")
            assert get(worker, "/api/v2/silences")[0]["status"]["state"] == "expired"
            await tab.tap("#oncall-logout")
            await tab.wait_for("document.querySelectorAll('.oncall-ack').length === 0")
            assert await tab.evaluate("sessionStorage.getItem('opvangwacht.token')") is None
            # What the browser logged: the refused log-in, and its own look for a favicon.
            expected = ("401 (Unauthorized) (http", "404 (Not Found) (http")
            unexpected = [
                c
                for c in tab.complaints
                if not (
                    (c.endswith("/api/session)") and expected[0] in c)
                    or (c.endswith("/favicon.ico)") and expected[1] in c)
                )
            ]
            assert unexpected == [], tab.complaints

        for path in ("/", "/actions.js"):
            status, body = call_api(worker.port, path)
            assert status == 200 and TOKEN.encode() not in body
    finally:
        worker.stop()
        ops.close()
    assert TOKEN not in worker.log_path.read_text(errors="replace")
