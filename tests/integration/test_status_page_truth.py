"""The status page never contradicts itself, checked in headless Chromium through the DevTools
protocol (the page's own DOM read with ``Runtime.evaluate``), against a worker fed through Kafka.

A week in September 2022: Ter Apel near its cap on the 7th (``cap_near``), over it on the 9th
(``cap_exceeded``, 2,053) and down to 2,021 on the 12th; the country over-full; Utrecht's count
of the 12th missing and one loaded location that never reported. The page must show the alert
with the newest figure and the stale warning folded under it, "vol" in red, who reported, ages
in event time, Dutch rule names, the week as sparklines, fit a phone, and an empty worker must
say to run ``opvangwacht load-locations``.

Without `chromium` the module skips on a developer's machine and fails where CI is set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cdp import Browser, chromium
from e2e_support import WorkerProcess, fed_worker
from test_status_page import location

pytestmark = pytest.mark.integration

LOCATIONS = [
    {
        **location("ter-apel", "Ter Apel", "registration_centre", "GM1950", "GR", 2000),
        "cap": 2000,
        "cap_source": "afspraak met Westerwolde",
    },
    location("budel", "Budel", "registration_centre", "GM1706", "NB", 1500),
    location("zwolle", "Zwolle", "regular", "GM0193", "OV", 600),
    location("utrecht", "Utrecht Joegoslaviëlaan", "regular", "GM0344", "UT", 800),
    location("nieuw", "Nieuwe locatie", "regular", "GM0599", "ZH", 300),
]
FIRST = dt.date(2022, 9, 5)
COUNTS = {
    "ter-apel": [1850, 1880, 1912, 1930, 2053, 2060, 2040, 2021],
    "budel": [1420, 1440, 1450, 1470, 1480, 1490, 1495, 1500],
    "zwolle": [590, 592, 595, 596, 598, 599, 600, 600],
    "utrecht": [780, 790, 795, 800, 800, 800, 800],  # nothing on the 12th
}


def reports() -> list[tuple[str, str, bytes]]:
    out = []
    for location_id, counts in COUNTS.items():
        for n, occupancy in enumerate(counts):
            date = (FIRST + dt.timedelta(days=n)).isoformat()
            body = {
                "event_id": f"occ-{location_id}-{date}",
                "location_id": location_id,
                "date": date,
                "occupancy": occupancy,
            }
            out.append(("occupancy", location_id, json.dumps(body).encode()))
    return out


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A worker with the week applied and Ter Apel's last count in its alert; yields the page's
    URL."""
    with fed_worker(
        kafka_bootstrap,
        f"truth-{uuid.uuid4().hex[:8]}.",
        Path(tmp_path_factory.mktemp("worker")),
        LOCATIONS,
        reports(),
        ready=lambda base: "2.021" in json.dumps(get(base + "api/alerts")[1]),
    ) as base:
        yield base


def on_page(
    url: str, tmp_path: Path, read: Callable[[Browser], Awaitable[Any]], width: int = 1400
) -> Any:
    """What ``read`` finds on the page at ``url`` once it has loaded, in headless Chromium
    (tests/integration/cdp.py) with a screen ``width`` pixels wide."""

    async def run() -> Any:
        async with Browser(chromium(), tmp_path, width=width, height=900) as page:
            await page.open(url)
            await page.wait_for(
                "document.body && document.body.dataset.loaded === 'true'", show="body"
            )
            return await read(page)

    return asyncio.run(run())


FACTS = """(() => {
  const text = (id) => { const n = document.getElementById(id); return n ? n.textContent : null; };
  const all = (sel, root) => [...(root || document).querySelectorAll(sel)];
  return {
    alerts: all("ol.alerts > li").map((li) => ({
      id: li.dataset.alertId, severity: li.className, text: li.innerText,
      rules: all("abbr.rule", li).map((a) => [a.textContent, a.title]),
      folded: all("[data-superseded-id]", li).map((d) => d.dataset.supersededId),
    })),
    days: text("national-days"),
    daysTile: document.getElementById("national-days")?.parentElement.className,
    coverage: text("national-coverage"),
    missing: all("#national-missing li").map((li) => li.textContent),
    provinceCoverage: Object.fromEntries(all("tr[data-province]").map((tr) =>
      [tr.dataset.province, text(`province-${tr.dataset.province}-coverage`)])),
    provinceRules: all("td.firing abbr.rule").map((a) => [a.textContent, a.title]),
    sparkNational: document.getElementById("spark-national")?.dataset.values,
    sparkTerApel: document.getElementById("centre-ter-apel-spark")?.dataset.values,
    asOf: text("as-of"),
    terApelDate: text("centre-ter-apel-date"),
    empty: document.getElementById("empty").hidden ? null : text("empty"),
    anchors: Object.fromEntries(all("[id^='locatie-'], [id^='provincie-']").map((n) =>
      [n.id, n.tagName.toLowerCase() + (n.closest("#national-missing") ? ".missing" : "")])),
  };
})()"""


@pytest.fixture(scope="module")
def facts(worker: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    found = on_page(worker, tmp_path_factory.mktemp("chromium"), lambda p: p.evaluate(FACTS))
    assert isinstance(found, dict)
    return found


def test_the_critical_alert_shows_the_newest_figure_and_folds_the_stale_warning(
    facts: dict[str, Any], worker: str
) -> None:
    ter_apel = [a for a in facts["alerts"] if "ter-apel" in a["id"]]
    assert [a["id"].split("-ter-apel")[0] for a in ter_apel] == ["cap_exceeded"]
    over = ter_apel[0]
    assert over["severity"] == "critical"
    assert "Ter Apel: 2.021 personen, 21 boven de afgesproken grens van 2.000" in over["text"]
    assert "2.053" not in over["text"] and "1.912" not in over["text"]
    assert "bijgewerkt ma 12 sep 2022" in over["text"].replace("\xa0", " ")
    assert [f.split("-ter-apel")[0] for f in over["folded"]] == ["cap_near"]
    assert "Omvat ook Bijna vol (waarschuwing sinds wo 7 sep 2022)" in over["text"].replace(
        "\xa0", " "
    )
    # The API says the same: one Ter Apel alert, the warning under it.
    _, body = get(worker + "api/alerts")
    listed = [a for a in body["alerts"] if a["subject"]["id"] == "ter-apel"]
    assert [a["rule"] for a in listed] == ["cap_exceeded"]
    assert [s["rule"] for s in listed[0]["superseded"]] == ["cap_near"]
    # So does the CAP feed: one Ter Apel entry, the warning's CAP message linked from it.
    with urllib.request.urlopen(worker + "api/cap", timeout=5) as response:
        feed = ET.fromstring(response.read())
    atom = {"a": "http://www.w3.org/2005/Atom"}
    entries = [
        e for e in feed.findall("a:entry", atom) if "ter-apel" in (e.findtext("a:id", "", atom))
    ]
    assert [e.find("a:category", atom).get("term") for e in entries] == ["cap_exceeded"]
    related = [link.get("href") for link in entries[0].findall("a:link[@rel='related']", atom)]
    assert related == [worker + "api/cap/" + listed[0]["superseded"][0]["alert_id"]]


def test_an_over_full_country_is_red_and_says_vol(facts: dict[str, Any]) -> None:
    assert facts["days"] == "vol"
    assert "critical" in facts["daysTile"]


def test_coverage_who_reported_and_who_did_not(facts: dict[str, Any], worker: str) -> None:
    assert facts["coverage"] == "3 van 5 locaties gemeld"
    assert facts["terApelDate"].replace("\xa0", " ") == "ma 12 sep 2022"
    assert "3 van 5 locaties gemeld" in facts["asOf"]
    missing = [line.replace("\xa0", " ") for line in facts["missing"]]
    assert missing == [
        "Nieuwe locatie: nog nooit gemeld",
        "Utrecht Joegoslaviëlaan: laatste telling zo 11 sep 2022",
    ]
    assert facts["provinceCoverage"] == {"GR": "1 van 1", "NB": "1 van 1", "OV": "1 van 1"} | {
        "UT": "0 van 1"
    }
    _, body = get(worker + "api/locations")
    never = [r for r in body["locations"] if not r["reported"]]
    assert [r["location_id"] for r in never] == ["nieuw"]


def test_ages_count_from_the_newest_report_not_the_clock(facts: dict[str, Any]) -> None:
    over = next(a for a in facts["alerts"] if a["id"].startswith("cap_exceeded-ter-apel"))
    assert "sinds 3 dagen" in over["text"]  # 9 to 12 September 2022, years ago by the clock
    assert "jaar" not in json.dumps(facts["alerts"])


def test_rules_have_dutch_names_with_the_id_in_a_tooltip(facts: dict[str, Any]) -> None:
    rules = {title: name for a in facts["alerts"] for name, title in a["rules"]}
    assert rules["cap_exceeded"] == "Boven de grens"
    assert rules["cap_near"] == "Bijna vol"  # the folded warning
    assert all(name != title for title, name in rules.items())
    assert all(name != title for name, title in facts["provinceRules"])


def test_a_week_of_sparklines(facts: dict[str, Any]) -> None:
    assert facts["sparkTerApel"] == ",".join(map(str, COUNTS["ter-apel"][-7:]))
    national = [int(v) for v in facts["sparkNational"].split(",")]
    assert len(national) == 7
    # 12 September: Utrecht counted with its count of the 11th.
    assert national[-1] == 2021 + 1500 + 600 + 800


def test_locations_and_provinces_have_anchors_that_links_land_on(
    facts: dict[str, Any], worker: str, tmp_path: Path
) -> None:
    anchors = facts["anchors"]
    assert {k: anchors.get(k) for k in ("locatie-ter-apel", "locatie-budel")} == {
        "locatie-ter-apel": "article",  # a registration centre's card
        "locatie-budel": "article",
    }
    # Not a centre: its most severe active alert, else its line among those that did not report.
    assert anchors["locatie-utrecht"] == "li"  # its alert (it also misses the 12th)
    assert anchors["locatie-nieuw"] == "li.missing"  # no alert, never reported
    assert {"provincie-GR", "provincie-NB", "provincie-OV", "provincie-UT"} <= set(anchors)
    assert all(anchors[k] == "tr" for k in anchors if k.startswith("provincie-"))
    # A link from Grafana lands on the place once the page has built it, at phone width too.
    where = """(() => {
      const t = document.querySelector(".landed");
      return t && { id: t.id, top: t.getBoundingClientRect().top, y: scrollY, h: innerHeight };
    })()"""
    found = on_page(worker + "#provincie-UT", tmp_path, lambda p: p.evaluate(where), width=390)
    # Scrolled down to it: in view (at the top, or as far as the page's end allows).
    assert found["id"] == "provincie-UT" and found["y"] > 0, found
    assert -1 <= found["top"] < found["h"] - 20, found


def test_usable_at_phone_width(worker: str, tmp_path: Path) -> None:
    found = on_page(worker, tmp_path, lambda page: page.overflow(), width=390)
    assert found["width"] == 390
    assert found["scroll"] <= found["width"], found
    assert found["wide"] == [], found["wide"][:10]


def test_an_empty_worker_says_to_load_the_locations(kafka_bootstrap: str, tmp_path: Path) -> None:
    (tmp_path / "worker").mkdir()
    process = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"empty-{uuid.uuid4().hex[:8]}.",
        workdir=tmp_path / "worker",
        config="receivers: []\n",
    )
    process.start()
    try:
        base = f"http://127.0.0.1:{process.port}/"
        code, body = get(base + "health")
        assert (code, body["status"]) == (503, "no_locations")
        assert "opvangwacht load-locations" in body["hint"]
        assert get(base + "health/live") == (200, {"status": "alive"})
        found = on_page(base, tmp_path, lambda page: page.evaluate(FACTS))
    except Exception:
        print(process.log_tail())
        raise
    finally:
        process.stop()
    assert found["asOf"] == "Geen locaties geladen"
    assert "opvangwacht load-locations" in found["empty"]
