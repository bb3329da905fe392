"""The monitoring files under deploy/ are valid, tested and consistent with each other.

Runs the real checkers from Debian's packages: `promtool` (package prometheus) and `amtool`
(prometheus-alertmanager). Without them the checks skip on a developer's machine and fail in CI
(where CI is set), so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} not found: apt-get install {package}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so this is not skipped)")
        pytest.skip(message)
    return path


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


def test_every_alert_is_routable_and_has_a_runbook() -> None:
    runbook = OPERATIONS.read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in runbook.splitlines()
        if line.startswith("#")
    }
    for rule in alert_rules():
        labels = rule.get("labels", {})
        assert labels.get("service") == "opvangwacht", rule["alert"]
        assert labels.get("severity") in {"critical", "warning"}, rule["alert"]
        link = rule["annotations"]["runbook"]
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


def test_every_panel_uses_the_provisioned_datasource() -> None:
    provisioned = load_yaml(DATASOURCES)["datasources"]
    assert [d["uid"] for d in provisioned] == ["opvang-prometheus"]
    (source,) = provisioned
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    uid = source["uid"]
    for path in DASHBOARDS:
        dashboard = _dashboard(path)
        for panel in _panels(dashboard["panels"]):
            if panel["type"] == "row":
                continue
            where = f"{path.name}: panel {panel['id']} {panel['title']!r}"
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}, where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid, where
                assert target["expr"].strip(), where
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"]["uid"] == uid, f"{path.name}: ${variable['name']}"


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
