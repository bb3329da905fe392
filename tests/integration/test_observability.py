"""Every Grafana panel's PromQL, run through a real Prometheus that scrapes a real worker.

A plain aiokafka producer feeds a worker subprocess (three days of March 2024: Ter Apel over its
cap of 2,000, a court fine accruing, a malformed message, a report for an unknown location, a
duplicate, a receiver that refuses every notification). Prometheus from Debian's package scrapes
the worker every second with the scrape job of deploy/prometheus/prometheus.yml and loads the
self-health rules. Then each query of each generated dashboard goes through /api/v1/query: an
invalid query or an empty answer fails, with the panel's name in the test id.

Needs the `prometheus` package (prometheus and promtool). Without it the module skips on a
developer's machine and fails where CI is set.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import HookServer, WorkerProcess, free_port, metric_value, produce
from tooling import require

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "deploy" / "grafana" / "dashboards"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"

# Grafana's built-in variables, as Grafana would fill them in for a short time range.
GRAFANA_MACROS = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "15s",
    "${__interval}": "15s",
    "$__range": "1h",
    "${__range}": "1h",
}


# ------------------------------------------------------------------ the dashboards' queries


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def id(self) -> str:
        return f"{self.dashboard}:{self.panel}:{self.ref}"


def _dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARD_DIR.glob("*.json"))]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(dashboard["uid"], panel["title"], target["refId"], target["expr"])
        for dashboard in _dashboards()
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]


def variable_definitions() -> list[tuple[str, str]]:
    return [
        (variable["name"], variable["definition"])
        for dashboard in _dashboards()
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]


def annotation_queries() -> dict[str, str]:
    """The Prometheus annotations (alerts fired and resolved), one per name: every dashboard has
    the same ones."""
    return {
        annotation["name"]: annotation["expr"]
        for dashboard in _dashboards()
        for annotation in dashboard["annotations"]["list"]
        if "expr" in annotation
    }


QUERIES = panel_queries()

# ------------------------------------------------------------------ the input


def location(
    location_id: str, name: str, kind: str, municipality: str, province: str, capacity: int
) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "name": name,
        "kind": kind,
        "municipality_code": municipality,
        "province": province,
        "capacity": capacity,
    }


LOCATIONS = [
    {
        **location("ter-apel", "Ter Apel", "registration_centre", "GM1950", "GR", 2000),
        "cap": 2000,
        "cap_source": "afspraak met Westerwolde",
    },
    location("budel", "Budel", "registration_centre", "GM1706", "NB", 1500),
    location("zwolle", "Zwolle", "regular", "GM0193", "OV", 600),
    location("zwolle-oekraine", "Zwolle Oekraïne", "ukrainian", "GM0193", "OV", 300),
]

DAYS = ["2024-03-01", "2024-03-02", "2024-03-03"]
# (occupancy, without_bed, slept_outside) per location per day; Ter Apel over its cap on the 2nd
# and 3rd, which counts two nights of the first court fine (15,000 a night from 22 Feb 2024).
COUNTS = {
    "ter-apel": [(1950, 0, 0), (2080, 60, 0), (2150, 110, 35)],
    "budel": [(1300, 0, 0), (1350, 0, 0), (1390, 0, 0)],
    "zwolle": [(560, 0, 0), (568, 0, 0), (575, 0, 0)],
    "zwolle-oekraine": [(250, 0, 0), (255, 0, 0), (260, 0, 0)],
}
# (arrivals, transfers_out, departures) per day: every asylum location is filling up.
INTAKE = {
    "ter-apel": (300, 200, 20),
    "budel": (150, 100, 10),
    "zwolle": (10, 0, 2),
}


def reports() -> list[tuple[str, str, bytes]]:
    out: list[tuple[str, str, bytes]] = []
    for index, date in enumerate(DAYS):
        for location_id, days in COUNTS.items():
            occupancy, without_bed, outside = days[index]
            body = {
                "event_id": f"occ-{location_id}-{date}",
                "location_id": location_id,
                "date": date,
                "occupancy": occupancy,
                "without_bed": without_bed,
                "slept_outside": outside,
                "reported_at": f"{date}T08:30:00+01:00",
            }
            out.append(("occupancy", location_id, json.dumps(body).encode()))
        for location_id, (arrivals, transfers_out, departures) in INTAKE.items():
            body = {
                "event_id": f"in-{location_id}-{date}",
                "location_id": location_id,
                "date": date,
                "arrivals": arrivals,
                "transfers_out": transfers_out,
                "departures": departures,
            }
            out.append(("intake", location_id, json.dumps(body).encode()))
    broken = b'{"event_id": "broken", "location_id": "ter-apel", "date": '
    unknown = json.dumps(
        {"event_id": "nowhere", "location_id": "nergens", "date": DAYS[0], "occupancy": 5}
    ).encode()
    out.insert(3, ("occupancy", "ter-apel", broken))
    out.insert(5, ("occupancy", "nergens", unknown))
    out.append(out[0])  # the first report again: a duplicate
    return out


VALID_REPORTS = len(DAYS) * (len(COUNTS) + len(INTAKE))
# 2,000 - 2,150 + 1,500 - 1,390 + 600 - 575 on the last day; Ukrainian places do not count.
NATIONAL_FREE_PLACES = -15

# ------------------------------------------------------------------ processes


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, however it dies."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class PrometheusProcess:
    """Debian's prometheus on a free loopback port, scraping one worker every second."""

    def __init__(self, binary: str, workdir: Path, worker_port: int) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / "prometheus.log"
        deployed = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
        (job,) = [j for j in deployed["scrape_configs"] if j["job_name"] == "opvangwacht"]
        job = {
            **job,
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
        }
        rules_dir = PROMETHEUS_CONFIG.parent
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules_dir / pattern) for pattern in deployed["rule_files"]],
            "scrape_configs": [job],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.args = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.args,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited {self.proc.returncode}:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url("/-/ready"), timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """GET /api/v1/<path>; the parsed body, also for 4xx answers (a bad query)."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(self.url(f"/api/v1/{path}?{query}"), timeout=10) as r:
                return dict(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            return dict(json.loads(exc.read()))

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = self.api("query", **params)
        assert body["status"] == "success", f"{expr}\n{body.get('errorType')}: {body.get('error')}"
        result = body["data"]["result"]
        return result if isinstance(result, list) else [{"value": result}]


@dataclass
class Stack:
    worker: WorkerProcess
    prometheus: PrometheusProcess
    #: The evaluation time of every query: after Prometheus has scraped the settled worker.
    at: float
    variables: dict[str, str]


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary = require("prometheus", "prometheus")
    ok, refusing = HookServer(), HookServer(status=400)  # 400: the notifier gives up at once
    # Every alert change to both receivers: "ops" answers 200, "stuk" 400.
    config = (
        "route:\n"
        "  receiver: ops\n"
        "  routes:\n"
        "    - {matchers: ['rule=~\".+\"'], receiver: ops, continue: true}\n"
        "    - {matchers: ['rule=~\".+\"'], receiver: stuk}\n"
        "receivers:\n"
        f"  - name: ops\n    webhook:\n      url: {ok.url}\n"
        f"  - name: stuk\n    webhook:\n      url: {refusing.url}\n"
    )
    worker = WorkerProcess(
        bootstrap=kafka_bootstrap,
        prefix=f"obs-{uuid.uuid4().hex[:8]}.",
        workdir=Path(tmp_path_factory.mktemp("worker")),
        config=config,
    )
    prometheus = PrometheusProcess(binary, Path(tmp_path_factory.mktemp("prometheus")), worker.port)
    try:
        worker.start()
        # Prometheus scrapes from before the first report, so rates and increases see it all.
        prometheus.start()
        _wait(lambda: _values(prometheus, 'up{job="opvangwacht"}') == [1.0], "worker scraped")
        _feed(kafka_bootstrap, worker)
        text = _settle(worker)
        events = metric_value(text, "opvang_events_total")
        _wait(
            lambda: _values(prometheus, "sum(opvang_events_total)") == [events],
            "Prometheus has the settled worker",
        )
        time.sleep(3)  # a few more scrapes: rates over a window ending now see the increase
        at = time.time()
        variables = {
            name: _variable_regex(prometheus, definition)
            for name, definition in variable_definitions()
        }
        yield Stack(worker, prometheus, at, variables)
    finally:
        prometheus.stop()
        worker.stop()
        ok.close()
        refusing.close()


def _wait(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(AssertionError, OSError, KeyError):
            if condition():
                return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting: {what}")


def _values(prometheus: PrometheusProcess, expr: str) -> list[float]:
    return [float(r["value"][1]) for r in prometheus.query(expr)]


def _feed(bootstrap: str, worker: WorkerProcess) -> None:
    import asyncio

    def topic(name: str) -> str:
        return f"{worker.prefix}{name}"

    asyncio.run(worker.publish_locations(*LOCATIONS))
    asyncio.run(produce(bootstrap, [(topic(t), key, value) for t, key, value in reports()]))


def _settle(worker: WorkerProcess, timeout: float = 90.0) -> str:
    """Wait until every report is handled, the nation has the last day's figures, every
    notification is finished and our metrics stopped changing; return the scrape.

    Whether a late-read intake report counts as applied or as a correction depends on the order
    the worker reads the two topics in, so only their sum is known.
    """
    deadline = time.monotonic() + timeout
    previous = ""
    while time.monotonic() < deadline:
        text = worker.metrics()

        def events(outcome: str, text: str = text) -> float:
            return metric_value(text, "opvang_events_total", {"outcome": outcome})

        done = (
            events("applied") + events("correction") == VALID_REPORTS
            and events("duplicate") == 1
            and events("dead_letter:invalid_json") == 1
            and events("dead_letter:unknown_location") == 1
            and metric_value(text, "opvang_national_free_places") == NATIONAL_FREE_PLACES
        )
        alert_events = metric_value(text, "opvang_alert_events_total")
        delivered = metric_value(
            text, "opvang_notifications_total", {"receiver": "ops", "outcome": "delivered"}
        )
        failed = metric_value(
            text, "opvang_notifications_total", {"receiver": "stuk", "outcome": "failed"}
        )
        # Faust's own sensors (opvang_faust_*) keep moving: commits, the scrapes themselves.
        ours = "\n".join(
            line
            for line in text.splitlines()
            if line.startswith("opvang_") and not line.startswith("opvang_faust_")
        )
        finished = alert_events and delivered == alert_events and failed == alert_events
        if done and finished and ours == previous:
            return text
        previous = ours
        time.sleep(2)
    raise AssertionError(f"the worker did not settle:\n{worker.log_tail()}\n{previous}")


def _variable_regex(prometheus: PrometheusProcess, definition: str) -> str:
    """label_values(metric, label) as Grafana's 'All' of a multi-value variable: (a|b|c)."""
    match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", definition)
    assert match, f"unsupported variable query {definition!r}"
    metric, label = match.groups()
    body = prometheus.api(f"label/{label}/values", **{"match[]": metric})
    values = body["data"]
    assert values, f"{definition} has no values"
    return "(" + "|".join(re.escape(v) for v in values) + ")"


def substitute(expr: str, variables: dict[str, str]) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    for name, value in sorted(variables.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in expr, f"an unsubstituted variable in {expr}"
    return expr


def run(stack: Stack, expr: str) -> list[dict[str, Any]]:
    return stack.prometheus.query(substitute(expr, stack.variables), at=stack.at)


def panel_value(stack: Stack, dashboard: str, title: str) -> float:
    (query,) = [q for q in QUERIES if q.dashboard == dashboard and q.panel == title]
    (sample,) = run(stack, query.expr)
    return float(sample["value"][1])


# ------------------------------------------------------------------ tests


def test_the_dashboards_have_queries() -> None:
    assert {q.dashboard for q in QUERIES} == {
        "opvang-national",
        "opvang-registration-centres",
        "opvang-provinces",
        "opvang-alerts",
        "opvang-pipeline",
    }
    assert len(QUERIES) >= 40


@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_panel_query_is_valid_and_returns_data(stack: Stack, query: PanelQuery) -> None:
    result = run(stack, query.expr)
    assert result, f"no data for {query.id}: {query.expr}"
    values = [float(r["value"][1]) for r in result]
    assert not all(math.isnan(v) for v in values), f"only NaN for {query.id}: {query.expr}"


@pytest.mark.parametrize("name, definition", variable_definitions())
def test_dashboard_variables_have_values(stack: Stack, name: str, definition: str) -> None:
    assert stack.variables[name].count("|") >= 2, stack.variables[name]  # GR, NB and OV


def test_the_panels_show_the_situation(stack: Stack) -> None:
    """A few panels read back as the operations centre would read them."""
    centres = "opvang-registration-centres"
    assert panel_value(stack, centres, "Bezetting Ter Apel") == 2150
    assert panel_value(stack, centres, "Ruimte tot de grens") == -150
    assert panel_value(stack, centres, "Sliepen buiten") == 35
    assert panel_value(stack, centres, "Zonder bed") == 110
    assert panel_value(stack, centres, "Dwangsom opgelopen") == 2 * 15_000
    assert panel_value(stack, "opvang-national", "Vrije plaatsen") == NATIONAL_FREE_PLACES
    assert panel_value(stack, "opvang-national", "Tekort") == 15
    assert panel_value(stack, "opvang-alerts", "Kritiek") >= 2  # cap_exceeded, slept_outside
    assert panel_value(stack, "opvang-alerts", "Notificaties mislukt") >= 1
    assert panel_value(stack, "opvang-alerts", "Notificaties mislukt") == panel_value(
        stack, "opvang-alerts", "Notificaties afgeleverd"
    )
    assert panel_value(stack, "opvang-pipeline", "Afgekeurd (dead letter)") == 2
    assert panel_value(stack, "opvang-pipeline", "Workers bereikbaar") == 1
    assert panel_value(stack, "opvang-pipeline", "Workers onbereikbaar") == 0


def test_the_alert_annotations_mark_the_rules_that_fire(stack: Stack) -> None:
    """The time series' annotations: a region per rule that fires, by severity. Ter Apel over
    its cap and people sleeping outside are critical in the fed days."""
    annotations = annotation_queries()
    assert set(annotations) == {"Kritieke meldingen", "Waarschuwingen"}
    critical = run(stack, annotations["Kritieke meldingen"])
    assert {"cap_exceeded", "slept_outside"} <= {r["metric"]["rule"] for r in critical}
    assert all(r["metric"]["severity"] == "critical" for r in critical)
    assert all(float(r["value"][1]) >= 1 for r in critical)
    for r in run(stack, annotations["Waarschuwingen"]):  # valid; empty when none is a warning
        assert r["metric"]["severity"] == "warning"


def test_the_self_health_rules_load_and_evaluate(stack: Stack) -> None:
    groups = stack.prometheus.api("rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules, stack.prometheus.log()
    for rule in rules:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"
    firing = {
        alert["labels"]["alertname"] for alert in stack.prometheus.api("alerts")["data"]["alerts"]
    }
    # Both fire without a `for`: the first dead letters and the refusing receiver.
    assert {"OpvangwachtDeadLetters", "OpvangwachtNotificationsFailing"} <= firing
    assert "OpvangwachtWorkerDown" not in firing
    assert "OpvangwachtNoWorkerUp" not in firing


def test_promtool_check_metrics_passes_on_a_live_scrape(stack: Stack) -> None:
    promtool = require("promtool", "prometheus")
    scrape = stack.worker.metrics()
    assert "opvang_penalty_accrued_euros" in scrape
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
