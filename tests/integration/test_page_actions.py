"""Acknowledge and silence from the status page, in headless Chromium at phone width, against a
real worker fed through Kafka: log in once per browser session with the API token (kept in
sessionStorage, never in the page), tap "Bevestigen" and "Stilzetten", open an alert's history and
CAP message, and see the worker record what was done.

Chromium is driven over the DevTools protocol (tests/integration/cdp.py); taps land at the
element's place on the screen, so a button that is off screen or covered fails the test.
Without `chromium` the module skips on a developer's machine and fails where CI is set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator
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


@contextlib.asynccontextmanager
async def two_alerts(
    kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[tuple[WorkerProcess, str, str]]:
    """A worker with the API token set and two active alerts: (worker, Ter Apel's alert id,
    Budel's)."""
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
        yield worker, alerts["ter-apel"], alerts["budel"]
    finally:
        worker.stop()
        ops.close()
    assert TOKEN not in worker.log_path.read_text(errors="replace")


async def test_acknowledge_and_silence_from_the_page_at_phone_width(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    binary = chromium()
    async with two_alerts(kafka_bootstrap, tmp_path) as (worker, ter_apel, budel):
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
            # The acknowledgement re-renders the page, which then reads the silences: the alert
            # as the worker has it now (not only the message under the buttons), and no read in
            # flight, before the next tap (a re-render between press and release takes the tap).
            await tab.wait_for(
                f"document.querySelector('{row} .ok-text')?.textContent"
                ".includes('Bevestigd door Dienst')",
                show=row,
            )
            await tab.wait_for("document.body.dataset.silencesPending === '0'")

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
            expected = {
                "/api/session)": "401 (Unauthorized) (http",
                "/favicon.ico)": "404 (Not Found) (http",
            }
            assert tab.unexpected(expected) == [], tab.complaints

        for path in ("/", "/actions.js"):
            status, body = call_api(worker.port, path)
            assert status == 200 and TOKEN.encode() not in body


READ = "Number(document.body.dataset.silencesRead || 0)"
BEARER = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def silence_elsewhere(worker: WorkerProcess, alert_id: str) -> str:
    """A silence on ``alert_id`` for 2 hours made through the API (as amtool does): its id."""
    now = dt.datetime.now(dt.UTC)
    matcher = {"name": "alert_id", "value": alert_id, "isRegex": False, "isEqual": True}
    body = {
        "matchers": [matcher],
        "startsAt": now.isoformat(),
        "endsAt": (now + dt.timedelta(hours=2)).isoformat(),
        "createdBy": "amtool",
        "comment": "elders stilgezet",
    }
    status, answer = call_api(
        worker.port,
        "/api/v2/silences",
        method="POST",
        body=json.dumps(body).encode(),
        headers=BEARER,
    )
    assert status == 200, answer
    return str(json.loads(answer)["silenceID"])


async def re_render(tab: Browser, row: str) -> None:
    """The page's own re-render (what its 30-second timer does), done now: wait until ``row``
    is a new element."""
    await tab.evaluate(f"document.querySelector('{row}').dataset.old = '1'")
    await tab.evaluate("window.load()")
    await tab.wait_for(f"!document.querySelector('{row}').dataset.old")


async def form_as_left(tab: Browser, row: str, reason: str, cursor: int) -> None:
    """One silence form on the page, in ``row``, with 24 hours chosen and ``reason`` typed, its
    reason field having the focus with the cursor at ``cursor``."""
    found = await tab.evaluate(
        f"""(() => {{
            const field = document.querySelector('{row} .oncall-reason');
            return {{
                forms: document.querySelectorAll('.oncall-silence-form').length,
                reason: field && field.value,
                hours: document.querySelector('{row} .oncall-duration')?.value,
                focused: !!field && document.activeElement === field,
                cursor: field && [field.selectionStart, field.selectionEnd],
            }};
        }})()"""
    )
    expected = {
        "forms": 1,
        "reason": reason,
        "hours": "24",
        "focused": True,
        "cursor": [cursor, cursor],
    }
    assert found == expected


async def test_a_silence_form_being_filled_in_survives_re_renders_and_late_answers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Re-renders of the page while a silence form is filled in, with the silences read that
    follows each one held back by the browser and answered out of order: what was chosen and
    typed stays, in one form, with the focus and the cursor where they were; the newest answer
    counts; a send that fails leaves the form as it was. (The re-render once came between the
    tap on the reason field and the typing: the text went nowhere.)"""
    binary = chromium()
    async with two_alerts(kafka_bootstrap, tmp_path) as (worker, ter_apel, budel):
        page = f"http://127.0.0.1:{worker.port}/"
        async with Browser(binary, tmp_path, **PHONE, scale=2) as tab:
            # Logged in earlier in this tab: the token is in the session's storage.
            await tab.open(page)
            await tab.evaluate(
                f"sessionStorage.setItem('opvangwacht.token', {json.dumps(TOKEN)});"
                " sessionStorage.setItem('opvangwacht.name', 'Dienstdoende BZK')"
            )
            await tab.send("Page.reload")
            await tab.wait_for("document.body && document.body.dataset.loaded === 'true'")
            await tab.wait_for(f"document.querySelectorAll('.oncall-ack').length === 2 && {READ}")

            row, other = f'[data-alert-id="{budel}"]', f'[data-alert-id="{ter_apel}"]'
            await tab.tap(f"{row} .oncall-silence")
            await tab.wait_for(f"!!document.querySelector('{row} .oncall-silence-form')")
            await tab.evaluate(
                f"(() => {{ const s = document.querySelector('{row} .oncall-duration');"
                " s.value = '24'; s.dispatchEvent(new Event('change')); })()"
            )
            await tab.type(f"{row} .oncall-reason", "uitbreiding cijfers")
            # The cursor put back after "uitbreiding ", to add words there.
            await tab.evaluate("document.activeElement.setSelectionRange(12, 12)")

            # A re-render; the silences read after it answered by the worker, held in the browser.
            await tab.hold("*/api/v2/silences")
            await re_render(tab, row)
            (first,) = await tab.wait_held(1)
            await form_as_left(tab, row, "uitbreiding cijfers", 12)
            # Typing goes on where it was, without tapping the field again.
            await tab.send("Input.insertText", text="loopt, ")
            await form_as_left(tab, row, "uitbreiding loopt, cijfers", 19)

            # Somebody else silences Ter Apel (amtool): the held answer does not know that yet.
            silence_elsewhere(worker, ter_apel)
            # A second re-render while the first read is still held; its answer arrives first.
            await re_render(tab, row)
            second = (await tab.wait_held(2))[1]
            reads = await tab.evaluate(READ)
            await tab.release(second)
            await tab.wait_for(f"{READ} > {reads}")
            await tab.wait_for(f"!!document.querySelector('{other} .oncall-unsilence')", show=other)
            await tab.release(first)
            await tab.wait_for("document.body.dataset.silencesPending === '0'")
            # The late, older answer changed nothing: Ter Apel is still silenced, the form is
            # as it was left.
            assert await tab.evaluate(f"!!document.querySelector('{other} .oncall-unsilence')")
            await form_as_left(tab, row, "uitbreiding loopt, cijfers", 19)

            # Budel silenced elsewhere too: its form is kept aside (no button to silence it);
            # that silence lifted, the form comes back as it was left.
            await tab.stop_holding()
            elsewhere = silence_elsewhere(worker, budel)
            await re_render(tab, row)
            await tab.wait_for(f"!!document.querySelector('{row} .oncall-unsilence')", show=row)
            assert (
                await tab.evaluate("document.querySelectorAll('.oncall-silence-form').length") == 0
            )
            status, body = call_api(
                worker.port, f"/api/v2/silence/{elsewhere}", method="DELETE", headers=BEARER
            )
            assert status == 200, body
            await re_render(tab, row)
            await tab.wait_for(f"!!document.querySelector('{row} .oncall-silence-form')", show=row)
            await form_as_left(tab, row, "uitbreiding loopt, cijfers", 19)

            # Sending fails (the connection): the form stays as it is, to send again.
            await tab.hold("*/api/v2/silences", answered=False)
            await tab.tap(f"{row} .oncall-silence-submit")
            (post,) = await tab.wait_held(1)
            assert post["method"] == "POST"
            await tab.release(post, fail=True)
            await tab.wait_for(
                f"document.querySelector('{row} .oncall-message').textContent.includes('Mislukt')",
                show=row,
            )
            assert await tab.evaluate(
                f"document.querySelector('{row} .oncall-reason').value"
                " === 'uitbreiding loopt, cijfers'"
            )
            await tab.stop_holding()
            before = dt.datetime.now(dt.UTC)
            await tab.tap(f"{row} .oncall-silence-submit")
            await tab.wait_for(f"!!document.querySelector('{row} .oncall-unsilence')", show=row)
            assert (
                await tab.evaluate("document.querySelectorAll('.oncall-silence-form').length") == 0
            )
            (made,) = [
                s
                for s in get(worker, "/api/v2/silences")
                if s["createdBy"] != "amtool" and s["status"]["state"] == "active"
            ]
            assert made["matchers"][0]["value"] == budel
            assert made["comment"] == "uitbreiding loopt, cijfers"
            ends = dt.datetime.fromisoformat(made["endsAt"].replace("Z", "+00:00"))
            assert (
                dt.timedelta(hours=23, minutes=58)
                < ends - before
                < dt.timedelta(hours=24, minutes=2)
            )
            # What the browser logged: the send that failed on purpose, its look for a favicon.
            expected = {
                "/api/v2/silences)": "net::ERR_FAILED (http",
                "/favicon.ico)": "404 (Not Found) (http",
            }
            assert tab.unexpected(expected) == [], tab.complaints
