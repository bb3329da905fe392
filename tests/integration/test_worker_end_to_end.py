"""End to end on the real broker: plain producer -> real worker subprocess -> topics and webhook.

One worker for the module; the tests run in order and build on each other's input, as a day of
reports would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    HookServer,
    Received,
    WorkerProcess,
    metric_value,
    produce,
    read_topic,
)

pytestmark = pytest.mark.integration

LOCATIONS = [
    {
        "location_id": "ter-apel",
        "name": "Ter Apel",
        "kind": "registration_centre",
        "municipality_code": "GM1950",
        "province": "GR",
        "capacity": 2000,
        "cap": 2000,
        "cap_source": "afspraak met Westerwolde",
    },
    {
        "location_id": "budel",
        "name": "Budel",
        "kind": "registration_centre",
        "municipality_code": "GM1706",
        "province": "NB",
        "capacity": 1500,
        "cap": None,
    },
]


def occupancy(event_id: str, location: str, date: str, count: int) -> bytes:
    return json.dumps(
        {"event_id": event_id, "location_id": location, "date": date, "occupancy": count}
    ).encode()


# Ter Apel goes over the cap on the 19th, a malformed message arrives, and the next valid report
# (still over) is processed; back under on the 21st.
REPORTS: list[tuple[str, str, bytes]] = [
    ("occupancy", "ter-apel", occupancy("r1", "ter-apel", "2022-08-18", 1960)),
    ("occupancy", "budel", occupancy("r2", "budel", "2022-08-18", 1400)),
    ("occupancy", "ter-apel", occupancy("r3", "ter-apel", "2022-08-19", 2380)),
    ("occupancy", "ter-apel", b'{"event_id": "broken", "location_id": "ter-apel", "date": '),
    ("occupancy", "ter-apel", occupancy("r4", "ter-apel", "2022-08-20", 2150)),
    ("occupancy", "ter-apel", occupancy("r5", "ter-apel", "2022-08-21", 1990)),
]


@pytest.fixture(scope="module")
def hook() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, hook: HookServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    import uuid

    prefix = f"e2e-{uuid.uuid4().hex[:8]}."
    config = f"receivers:\n  - name: ops\n    webhook:\n      url: {hook.url}\n"
    process = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        workdir=Path(tmp_path_factory.mktemp("worker")),
        config=config,
    )
    process.start()
    yield process
    process.stop()


def t(worker: WorkerProcess, name: str) -> str:
    return f"{worker.prefix}{name}"


async def test_locations_are_loaded(kafka_bootstrap: str, worker: WorkerProcess) -> None:
    body = await worker.publish_locations(*LOCATIONS)
    assert body["status"] == "ok"


async def test_cap_exceeded_fires_and_resolves_on_the_alerts_topic(
    kafka_bootstrap: str, worker: WorkerProcess
) -> None:
    await produce(
        kafka_bootstrap, [(t(worker, topic), key, value) for topic, key, value in REPORTS]
    )
    everything = await read_topic(
        kafka_bootstrap, t(worker, "alerts"), expect=2, timeout=60, settle=3
    )
    alerts = [a for a in everything if a["rule"] == "cap_exceeded"]
    assert [(a["rule"], a["status"], a["event_date"]) for a in alerts] == [
        ("cap_exceeded", "firing", "2022-08-19"),
        ("cap_exceeded", "resolved", "2022-08-21"),
    ]
    firing, resolved = alerts
    assert firing["alert_id"] == resolved["alert_id"]
    assert (firing["revision"], resolved["revision"]) == (1, 2)
    assert firing["severity"] == "critical"
    assert firing["subject"] == {"kind": "location", "id": "ter-apel"}
    assert (firing["province"], firing["municipality_code"]) == ("GR", "GM1950")
    assert (firing["value"], firing["threshold"]) == (2380, 2000)
    assert firing["summary"] == "Ter Apel: 2.380 personen, 380 boven de afgesproken grens van 2.000"
    assert firing["starts_at"] == "2022-08-19T09:00:00+02:00"
    assert firing["ends_at"] is None
    assert resolved["value"] == 1990
    assert resolved["ends_at"] == "2022-08-21T09:00:00+02:00"


async def test_malformed_event_is_dead_lettered_and_the_next_one_processed(
    kafka_bootstrap: str, worker: WorkerProcess
) -> None:
    letters = await read_topic(kafka_bootstrap, t(worker, "deadletter"), expect=1, timeout=30)
    assert len(letters) == 1
    letter = letters[0]
    assert letter["reason"] == "invalid_json"
    assert letter["source_topic"] == t(worker, "occupancy")
    assert letter["key"] == "ter-apel"
    assert letter["payload"].startswith('{"event_id": "broken"')
    assert isinstance(letter["offset"], int)
    # r4 came after the broken message and was applied: the province saw 2,150 at some point,
    # and Ter Apel's current count is the last report's.
    text = worker.metrics()
    assert metric_value(text, "opvang_location_occupancy", {"location_id": "ter-apel"}) == 1990
    assert metric_value(text, "opvang_events_total", {"outcome": "applied"}) == 5
    assert metric_value(text, "opvang_events_total", {"outcome": "dead_letter:invalid_json"}) == 1


async def test_webhook_received_both_changes(worker: WorkerProcess, hook: HookServer) -> None:
    import time

    def cap_alerts() -> list[Received]:
        return [r for r in hook.received if r.body["data"]["rule"] == "cap_exceeded"]

    deadline = time.monotonic() + 30
    while len(cap_alerts()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    received = cap_alerts()
    assert [(r.body["data"]["status"], r.body["data"]["revision"]) for r in received] == [
        ("firing", 1),
        ("resolved", 2),
    ]
    assert received[0].headers["content-type"] == "application/json"
    # A CloudEvent, signed per Standard Webhooks (see test_delivery for the signature itself).
    first = received[0].body
    alert_id = first["data"]["alert_id"]
    assert (first["specversion"], first["type"]) == ("1.0", "nl.opvangwacht.alert.firing")
    assert received[0].headers["webhook-id"] == f"{alert_id}.1.ops"
    assert first["data"]["summary"].startswith("Ter Apel: 2.380 personen")


async def test_replaying_the_same_input_yields_no_new_alerts(
    kafka_bootstrap: str, worker: WorkerProcess, hook: HookServer
) -> None:
    # Let everything from the first pass (province and national days close a little later) land.
    before = await read_topic(kafka_bootstrap, t(worker, "alerts"), expect=10**6, timeout=3)
    while len(
        again := await read_topic(kafka_bootstrap, t(worker, "alerts"), expect=10**6, timeout=3)
    ) != len(before):
        before = again
    delivered_before = len(hook.received)
    await produce(
        kafka_bootstrap, [(t(worker, topic), key, value) for topic, key, value in REPORTS]
    )
    # Wait until the worker has seen all five valid reports again, as duplicates.
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if metric_value(worker.metrics(), "opvang_events_total", {"outcome": "duplicate"}) >= 5:
            break
        time.sleep(0.3)
    text = worker.metrics()
    assert metric_value(text, "opvang_events_total", {"outcome": "duplicate"}) == 5
    after = await read_topic(
        kafka_bootstrap, t(worker, "alerts"), expect=len(before) + 1, timeout=5
    )
    assert before, "the first pass produced alerts"

    def changes(alerts: list[dict[str, Any]]) -> list[tuple[str, int]]:
        return sorted((a["alert_id"], a["revision"]) for a in alerts)

    assert changes(after) == changes(before)
    time.sleep(1)
    assert len(hook.received) == delivered_before


async def test_metrics_show_the_capacity_picture(worker: WorkerProcess) -> None:
    text = worker.metrics()
    assert metric_value(text, "opvang_location_capacity", {"location_id": "ter-apel"}) == 2000
    assert metric_value(text, "opvang_location_cap", {"location_id": "ter-apel"}) == 2000
    assert metric_value(text, "opvang_province_free_places", {"province": "GR"}) == 10
    assert metric_value(text, "opvang_province_free_places", {"province": "NB"}) == 100
    assert metric_value(text, "opvang_national_free_places") == 110
    assert metric_value(text, "opvang_alerts_firing", {"rule": "cap_exceeded"}) == 0
    # 1,990 of 2,000 is still within 95 % of the cap.
    assert metric_value(text, "opvang_alerts_firing", {"rule": "cap_near"}) == 1


async def test_metrics_give_only_the_samples_asked_for(worker: WorkerProcess) -> None:
    # As prometheus_client's own exporters: ``name[]`` names samples (a counter's end in _total).
    text = worker.metrics("?name[]=opvang_events_total&name[]=opvang_national_free_places")
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    assert names == {"opvang_events_total", "opvang_national_free_places"}
    assert metric_value(text, "opvang_national_free_places") == 110
    assert metric_value(text, "opvang_events_total") > 0
    assert worker.metrics("?name[]=no_such_metric").strip() == ""


def get_json(worker: WorkerProcess, path: str) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_read_api(worker: WorkerProcess) -> None:
    status, ter_apel = get_json(worker, "/api/locations/ter-apel")
    assert status == 200
    assert (ter_apel["occupancy"], ter_apel["capacity"], ter_apel["free_places"]) == (
        1990,
        2000,
        10,
    )
    assert [d["date"] for d in ter_apel["days"]] == [
        "2022-08-18",
        "2022-08-19",
        "2022-08-20",
        "2022-08-21",
    ]
    assert [d["occupancy"] for d in ter_apel["days"]] == [1960, 2380, 2150, 1990]
    assert ter_apel["firing"] == ["cap_near"]

    status, groningen = get_json(worker, "/api/provinces/gr")
    assert status == 200
    assert (groningen["occupancy"], groningen["capacity"], groningen["free_places"]) == (
        1990,
        2000,
        10,
    )
    # August 2022: the Spreidingswet (in force 1 Feb 2024) set no target yet.
    assert groningen["spreiding"] == {
        "cycle": None,
        "target": None,
        "realised": 2000,
        "short": None,
        "assumed": None,
    }
    assert [loc["location_id"] for loc in groningen["locations"]] == ["ter-apel"]

    status, provinces = get_json(worker, "/api/provinces")
    assert sorted(p["province"] for p in provinces["provinces"]) == ["GR", "NB"]

    status, national = get_json(worker, "/api/national")
    assert national["asylum"]["free_places"] == 110
    assert national["shortage"] == 0

    status, alerts = get_json(worker, "/api/alerts?rule=cap_near")
    assert [(a["rule"], a["subject"]["id"]) for a in alerts["alerts"]] == [("cap_near", "ter-apel")]
    status, none = get_json(worker, "/api/alerts?rule=cap_near&province=NB")
    assert none["alerts"] == []
    status, refused = get_json(worker, "/api/alerts?severity=bogus")
    assert status == 400
    assert refused["error"].startswith("severity must be one of info, warning, critical")

    status, body = get_json(worker, "/api/locations/nergens")
    assert (status, body) == (404, {"error": "not found"})


def test_cap_messages_for_crisis_systems(worker: WorkerProcess) -> None:
    import urllib.request

    from lxml import etree

    schema = etree.XMLSchema(
        etree.parse(str(Path(__file__).resolve().parents[1] / "schemas" / "CAP-v1.2.xsd"))
    )
    _, alerts = get_json(worker, "/api/alerts/cap_exceeded-ter-apel-bcac4a9220/history")
    assert [e["event"]["status"] for e in alerts["history"] if e["type"] == "change"] == [
        "firing",
        "resolved",
    ]
    with urllib.request.urlopen(
        f"http://127.0.0.1:{worker.port}/api/cap/cap_exceeded-ter-apel-bcac4a9220", timeout=5
    ) as response:
        assert response.headers["Content-Type"].startswith("application/cap+xml")
        document = etree.fromstring(response.read())
    schema.assertValid(document)
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    # Resolved: a Cancel that refers to the Alert that started it.
    assert document.findtext("cap:msgType", namespaces=ns) == "Cancel"
    assert ":cap_exceeded-ter-apel-bcac4a9220:1," in document.findtext(
        "cap:references", namespaces=ns
    )
    assert document.findtext("cap:info/cap:language", namespaces=ns) == "nl-NL"
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/api/cap", timeout=5) as response:
        feed = etree.fromstring(response.read())
    atom = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=atom) for e in feed.findall("a:entry", atom)]
    assert any("Ter Apel" in (t or "") for t in titles)  # cap_near still fires there
