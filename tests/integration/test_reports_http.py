"""Reports in without a Kafka client: POST /api/reports and the page /melden against a real
worker fed through Kafka, with real HTTP, and the page in headless Chromium.

A source's accepted rows reach /api/locations through the topics like a producer's reports; the
same file sent again changes nothing (the same figures, not one more alert change); bad rows and
rows for locations outside the token's scope are refused one by one with their reasons; a wrong
token is a 401, and no body, however broken, stops the worker. The page is used as a phone shows
it (390 px wide); a screenshot goes to tests/artifacts/melden-phone.png (git-ignored).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cdp import Browser, chromium
from e2e_support import TER_APEL, WorkerProcess, call_api, metric_value
from test_http_hardening import BAD_BODIES
from test_status_page import ARTIFACTS, location

from streams.dev.topic_reader import drain_topic
from streams.web.sources import hash_token
from streams.worker.melden import CONCURRENT_UPLOADS

pytestmark = pytest.mark.integration

NOORD = "opvm_test-noord-" + uuid.uuid4().hex
ZWOLLE = "opvm_test-zwolle-" + uuid.uuid4().hex
LOCATIONS = [
    TER_APEL,
    location("emmen", "Emmen", "regular", "GM0114", "DR", 800),
    location("budel", "Budel", "registration_centre", "GM1706", "NB", 1500),
    location("zwolle", "Zwolle", "regular", "GM0193", "OV", 600),
]
SOURCES = f"""sources:
  - name: coa-noord
    token_sha256: {hash_token(NOORD)}
    locations: [ter-apel]
    municipalities: [GM0114]
  - name: coa-zwolle
    token_sha256: {hash_token(ZWOLLE)}
    locations: [zwolle]
"""

#: Excel's Dutch CSV: a byte order mark, semicolons, CRLF, a Dutch date, an empty trailing row.
UPLOAD = (
    "\ufefflocation_id;date;occupancy;without_bed;slept_outside;arrivals;departures\r\n"
    "ter-apel;2024-03-01;1950;0;0;180;20\r\n"
    "ter-apel;2-3-2024;2150;110;35;;\r\n"
    "emmen;2024-03-02;700;;;;\r\n"
    "budel;2024-03-02;1390;;;;\r\n"
    "ter-apel;2024-03-02;-4;;;;\r\n"
    "nergens;2024-03-02;10;;;;\r\n"
    ";;;;;;\r\n"
).encode()


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    workdir = Path(tmp_path_factory.mktemp("worker"))
    sources = workdir / "sources.yml"
    sources.write_text(SOURCES, encoding="utf-8")
    process = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"melden-{uuid.uuid4().hex[:8]}.",
        workdir=workdir,
        config="receivers: []\n",
        extra_env={"OPVANG_SOURCES": str(sources)},
    )
    process.start()
    try:
        asyncio.run(process.publish_locations(*LOCATIONS))
        yield process
    finally:
        process.stop()


def post(
    worker: Any, body: bytes, token: str | None, content_type: str = "text/csv"
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, raw = call_api(worker.port, "/api/reports", method="POST", body=body, headers=headers)
    return status, json.loads(raw)


def locations(worker: Any) -> dict[str, dict[str, Any]]:
    status, raw = call_api(worker.port, "/api/locations")
    assert status == 200
    return {row["location_id"]: row for row in json.loads(raw)["locations"]}


def wait_until(what: str, condition: Any, worker: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen:\n{worker.log_tail()}")
        time.sleep(0.3)


def settled_alert_changes(worker: Any, bootstrap: str) -> list[tuple[Any, Any]]:
    """Every change on the worker's alerts topic, in a fixed order, once no new one came for
    three seconds (the provinces close a day a moment after the locations' reports)."""
    seen: list[tuple[Any, Any]] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 3:
        now = sorted(asyncio.run(drain_topic(bootstrap, f"{worker.prefix}alerts")))
        if now != seen:
            seen, quiet_since = now, time.monotonic()
        time.sleep(0.5)
    return seen


def outcomes(worker: Any, outcome: str) -> float:
    return metric_value(worker.metrics(), "opvang_events_total", {"outcome": outcome})


def test_a_spreadsheet_upload_reaches_the_picture_and_a_second_one_changes_nothing(
    worker: Any, kafka_bootstrap: str
) -> None:
    status, body = post(worker, UPLOAD, NOORD)
    assert status == 200, body
    assert body["source"] == "coa-noord"
    results = {(r["row"], r["kind"]): r for r in body["results"]}
    accepted = [key for key, r in results.items() if r["accepted"]]
    assert sorted(accepted) == [
        (2, "intake"), (2, "occupancy"), (3, "occupancy"), (4, "occupancy"),
    ]  # fmt: skip
    assert results[(5, "occupancy")]["status"] == 403
    assert results[(5, "occupancy")]["reason"] == "forbidden"  # Budel: not this token's
    assert "mag niet melden" in results[(5, "occupancy")]["melding"]
    assert (results[(6, "occupancy")]["reason"], results[(6, "occupancy")]["field"]) == (
        "out_of_range",
        "occupancy",
    )
    assert results[(7, "occupancy")]["reason"] == "unknown_location"
    assert (body["accepted"], body["refused"]) == (4, 3)

    def applied() -> bool:
        # Every accepted row, the intake of row 2 too (it travels on its own topic and may be
        # applied after the morning counts).
        rows = locations(worker)
        ter_apel, emmen = rows.get("ter-apel", {}), rows.get("emmen", {})
        return (
            ter_apel.get("date") == "2024-03-02"
            and ter_apel.get("arrivals_7d") == 180
            and emmen.get("occupancy") == 700
        )

    wait_until("the accepted rows reaching /api/locations", applied, worker)
    before = locations(worker)
    assert (before["ter-apel"]["occupancy"], before["ter-apel"]["slept_outside"]) == (2150, 35)
    assert before.get("budel", {}).get("occupancy") is None  # refused: never written
    assert "cap_exceeded" in before["ter-apel"]["firing"]
    changes = settled_alert_changes(worker, kafka_bootstrap)
    assert changes, "Ter Apel over its cap must have made an alert change"
    duplicates = outcomes(worker, "duplicate")

    status, again = post(worker, UPLOAD, NOORD)
    assert status == 200
    assert again["results"] == body["results"]  # the same event_ids, derived from the content
    wait_until(
        "the repeated reports being recognised",
        lambda: outcomes(worker, "duplicate") >= duplicates + 4,
        worker,
    )
    time.sleep(2)  # an alert change caused by the repeat would have been sent by now
    assert locations(worker) == before
    assert settled_alert_changes(worker, kafka_bootstrap) == changes


def test_json_one_report_or_many_within_the_tokens_scope(worker: Any) -> None:
    report = {"location_id": "zwolle", "date": "2024-03-02", "occupancy": 505, "event_id": "z-1"}
    status, body = post(worker, json.dumps(report).encode(), ZWOLLE, "application/json")
    assert status == 200 and body["accepted"] == 1
    assert body["results"][0]["event_id"] == "z-1"
    many = [
        {**report, "date": "2024-03-03", "occupancy": 510, "event_id": "z-2"},
        {**report, "location_id": "ter-apel", "event_id": "z-3"},
        {"location_id": "zwolle", "date": "2024-03-03", "occupancy": "veel"},
    ]
    status, body = post(worker, json.dumps(many).encode(), ZWOLLE, "application/json")
    assert status == 200
    assert [(r["row"], r["accepted"], r.get("reason")) for r in body["results"]] == [
        (1, True, None), (2, False, "forbidden"), (3, False, "schema"),
    ]  # fmt: skip
    wait_until(
        "Zwolle's newest report in /api/locations",
        lambda: locations(worker).get("zwolle", {}).get("occupancy") == 510,
        worker,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer opvm_not-a-token"},
        {"Authorization": f"Basic {NOORD}"},
        {"Authorization": f"Bearer {hash_token(NOORD)}"},  # the stored hash is not the token
        {"Authorization": "Bearer \xff\xfe"},  # bytes that are not UTF-8
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong", "basic", "the-hash", "not-utf8", "empty"],
)
def test_without_a_valid_token_nothing_is_read(worker: Any, headers: dict[str, str]) -> None:
    status, raw = call_api(
        worker.port,
        "/api/reports",
        method="POST",
        body=UPLOAD,
        headers={"Content-Type": "text/csv", **headers},
    )
    assert status == 401
    assert json.loads(raw)["reason"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"x" * (2 * 1024 * 1024), "text/csv", 413, "body"),
        (os.urandom(4096), "text/csv", None, None),
        (b"\x00" * 1000, "text/csv", None, None),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "invalid_json"),
        (b'{"location_id": "ter-apel", "date": 1e999}', "application/json", 400, "schema"),
        (b"location_id;date;occupancy\n" + b'"' * 70_001, "text/csv", 400, "csv"),
        (b"location_id;date\n" + b"x" * 200_000, "text/csv", 400, "csv"),
        (b"location_id;date;occupancy\nter-apel;2024-03-04;1\n", "image/png", 400, "content_type"),
        (b"[" + b"1," * 100_000 + b"1]", "application/json", 400, "too_many_rows"),
    ],
    ids=["2MiB", "random", "nul", "deep", "infinite", "open-quote", "huge-cell", "png", "many"],
)
def test_garbage_bodies_get_an_answer_and_the_worker_stays(
    worker: Any, body: bytes, content_type: str, status: int | None, reason: str | None
) -> None:
    got, answer = post(worker, body, NOORD, content_type)
    assert got in (200, 400, 413) if status is None else got == status, answer
    if reason is not None:
        assert answer["reason"] == reason and answer["melding"]
    health, _ = call_api(worker.port, "/health")
    assert health == 200 and worker.alive


def test_the_bodies_that_once_crashed_other_endpoints_accept_nothing(worker: Any) -> None:
    for name, (body, _) in sorted(BAD_BODIES.items()):
        for content_type in ("application/json", "text/csv"):
            status, answer = post(worker, body, NOORD, content_type)
            assert status in (200, 400, 413), (name, content_type, status, answer)
            if status == 200:
                assert answer["accepted"] == 0, (name, content_type, answer)
            else:
                assert "\n" not in answer["error"] and answer["melding"], answer
    health, _ = call_api(worker.port, "/health")
    assert health == 200 and worker.alive


def test_slow_senders_hold_only_their_places_and_a_closed_one_frees_it(worker: Any) -> None:
    """Uploads that trickle their bytes hold every place: the next upload is told to come back
    (503) instead of piling up bodies; once they hang up, uploads are taken again."""
    held = []
    head = (
        "POST /api/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {NOORD}\r\nContent-Type: text/csv\r\n"
        "Content-Length: 100000\r\n\r\nlocation_id;date;occupancy\n"
    ).encode()
    try:
        for _ in range(CONCURRENT_UPLOADS):
            sock = socket.create_connection(("127.0.0.1", worker.port), timeout=10)
            sock.sendall(head)
            held.append(sock)
        time.sleep(1)
        small = b"location_id;date;occupancy\nter-apel;2024-03-01;1950\n"
        started = time.monotonic()
        status, answer = post(worker, small, NOORD)
        assert (status, answer["reason"]) == (503, "busy"), answer
        assert time.monotonic() - started >= 4
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while (status := post(worker, small, NOORD)[0]) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status == 200
    assert worker.alive


def test_the_page_and_the_endpoint_carry_a_strict_policy(worker: Any) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{worker.port}/melden")
    with urllib.request.urlopen(request, timeout=5) as response:
        page = {k.lower(): v for k, v in response.headers.items()}
        assert response.read().startswith(b"<!doctype html>")
    policy = page["content-security-policy"]
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert "connect-src 'self'" in policy and "form-action 'none'" in policy
    assert page["x-content-type-options"] == "nosniff"
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.port}/api/reports", data=b"", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert refused.value.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert refused.value.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_uploads_a_spreadsheet_at_phone_width(worker: Any, tmp_path: Path) -> None:
    binary = chromium()
    sheet = tmp_path / "zwolle.csv"
    sheet.write_bytes(
        "\ufefflocation_id;date;occupancy;arrivals\r\n"
        "zwolle;2024-03-04;520;12\r\n"
        "zwolle;2024-03-04;vijf;\r\n"
        "budel;2024-03-04;1400;\r\n".encode()
    )

    async def use_the_page() -> tuple[dict[str, Any], list[str]]:
        async with Browser(binary, tmp_path) as page:
            await page.open(f"http://127.0.0.1:{worker.port}/melden")
            assert await page.evaluate("document.documentElement.lang") == "nl"
            assert await page.evaluate("window.innerWidth") == 390
            fit = await page.overflow()
            assert fit["scroll"] <= fit["width"] and fit["wide"] == [], fit
            await page.evaluate(f"document.getElementById('token').value = {ZWOLLE!r}")
            await page.choose_file("#file", sheet)
            await page.evaluate("document.getElementById('send').click()")
            await page.wait_for("document.body.dataset.done === '1'")
            shown = await page.evaluate(
                """JSON.stringify({
                  status: document.getElementById('status').textContent,
                  items: [...document.querySelectorAll('#results li')].map(li => ({
                    row: li.dataset.row, accepted: li.dataset.accepted,
                    reason: li.dataset.reason || null, text: li.textContent})),
                  fits: document.documentElement.scrollWidth <= window.innerWidth,
                  cookies: document.cookie})"""
            )
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(ARTIFACTS / "melden-phone.png")
            # A wrong token: the page says so in Dutch.
            await page.evaluate("document.getElementById('token').value = 'opvm_fout'")
            await page.evaluate("document.getElementById('send').click()")
            await page.wait_for("document.body.dataset.done === '2'")
            refused = await page.evaluate("document.getElementById('status').textContent")
            complaints = list(page.complaints)
            # The driver does see a refusal: an inline script, which the policy forbids.
            await page.evaluate(
                "document.body.append(Object.assign(document.createElement('script'),"
                " {textContent: 'window.ran = 1'}))"
            )
            for _ in range(50):
                if any("Content Security Policy" in c for c in page.complaints):
                    break
                await asyncio.sleep(0.1)
                await page.evaluate("0")  # lets the browser's events in
            assert any("Content Security Policy" in c for c in page.complaints), page.complaints
            assert await page.evaluate("window.ran") is None
            return {**json.loads(shown), "refused": refused}, complaints

    shown, log = asyncio.run(use_the_page())
    assert shown["status"] == "2 van 4 meldingen opgeslagen, 2 geweigerd: zie hieronder."
    items = shown["items"]
    assert [(i["row"], i["accepted"], i["reason"]) for i in items] == [
        ("2", "true", None), ("2", "true", None),
        ("3", "false", "schema"), ("4", "false", "forbidden"),
    ]  # fmt: skip
    assert items[0]["text"] == "Regel 2 (zwolle, 2024-03-04)Opgeslagen: bezetting."
    assert "Kolom occupancy: moet een heel getal zijn" in items[2]["text"]
    assert "dit token mag niet melden voor 'budel'" in items[3]["text"]
    assert shown["fits"] and shown["cookies"] == ""
    assert "Het token klopt niet" in shown["refused"]
    # Only the refused token (a 401) and the browser's own look for a favicon may be
    # complained about: no refused content, no script error.
    assert not [line for line in log if "Content Security Policy" in line], log
    expected = ("401 (Unauthorized)", "/favicon.ico")
    assert not [line for line in log if not any(e in line for e in expected)], log
    wait_until(
        "the page's report in /api/locations",
        lambda: locations(worker).get("zwolle", {}).get("occupancy") == 520,
        worker,
    )
