"""deploy/kubernetes/ is valid Kubernetes, and consistent with the worker and with itself.

Built-in kinds are validated offline against the JSON schemas that the `kubernetes-validate`
PyPI package ships (strict: an unknown field is an error too). Custom resources (the Prometheus
Operator's ServiceMonitor, Strimzi's Kafka and KafkaNodePool) have no schema there: their
apiVersion, kind and the fields they need are checked by hand below. The Kustomization is
kustomize's own file, not a cluster resource: its list of resources is checked instead.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings, credential_names, load_alerting_config, load_dry_run_config

try:
    import kubernetes_validate
except ImportError:  # pragma: no cover - the dev extra installs it
    if os.environ.get("CI"):
        raise  # CI must not pass by skipping
    pytest.skip(
        "kubernetes-validate is not installed (pip install '.[dev]')", allow_module_level=True
    )

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30"
#: Kinds that are not Kubernetes' own and so have no schema in kubernetes-validate.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
}
#: Files `kubectl apply -k` leaves out on purpose (they need an operator's CRDs).
OPTIONAL_FILES = {"servicemonitor.yaml", "kafka-strimzi-example.yaml"}
SETTINGS_SOURCE = REPO / "streams" / "settings.py"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@functools.cache
def _parsed() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Every resource of every manifest, parsed once per run (tests must not change them)."""
    return tuple(
        (path.name, document)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for document in _documents(path)
    )


def _manifests() -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _parsed()


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d
        for _, d in _manifests()
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} found"
    return found[0]


def _container() -> dict[str, Any]:
    (container,) = _one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _settings_variables() -> set[str]:
    """The OPVANG_* names Settings.from_env reads: the worker's whole environment contract."""
    names = set(re.findall(r'env\.get\("(OPVANG_[A-Z_]+)"', SETTINGS_SOURCE.read_text("utf-8")))
    assert {"OPVANG_KAFKA_BOOTSTRAP", "OPVANG_WORKER_ID", "OPVANG_WEB_PORT"} <= names
    return names


def _validate(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


# ------------------------------------------------------------------ schemas


def test_there_are_manifests_of_every_expected_kind() -> None:
    kinds = {d["kind"] for _, d in _manifests()}
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Service",
        "StatefulSet",
        "PodDisruptionBudget",
        "ServiceMonitor",
        "Kafka",
        "KafkaNodePool",
    } <= kinds


@pytest.mark.parametrize(
    ("filename", "document"),
    [
        pytest.param(f, d, id=f"{f}:{d['kind']}/{d['metadata']['name']}")
        for f, d in _manifests()
        if (d["apiVersion"], d["kind"]) not in CUSTOM_KINDS
    ],
)
def test_builtin_kinds_validate_against_the_kubernetes_schemas(
    filename: str, document: dict[str, Any]
) -> None:
    _validate(document)


def test_every_kind_is_either_validated_or_checked_by_hand() -> None:
    schemas = kubernetes_validate.utils.SchemaNotFoundError
    for _, document in _manifests():
        if (document["apiVersion"], document["kind"]) in CUSTOM_KINDS:
            with pytest.raises(schemas):
                _validate(document)


def test_a_broken_statefulset_is_rejected() -> None:
    statefulset = yaml.safe_load((K8S / "statefulset.yaml").read_text(encoding="utf-8"))
    _validate(statefulset)
    statefulset["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError, match="three"):
        _validate(statefulset)


def test_a_statefulset_without_a_selector_or_a_misspelled_field_is_rejected(
    tmp_path: Path,
) -> None:
    text = (K8S / "statefulset.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "statefulset.yaml"
    broken.write_text(text.replace("  selector:\n", "  selektor:\n", 1), encoding="utf-8")
    assert broken.read_text(encoding="utf-8") != text
    (document,) = _documents(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(document)
    del document["spec"]["selektor"]
    with pytest.raises(kubernetes_validate.ValidationError, match="selector"):
        _validate(document)


def test_a_wrong_probe_port_type_is_rejected() -> None:
    statefulset = yaml.safe_load((K8S / "statefulset.yaml").read_text(encoding="utf-8"))
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    container["readinessProbe"]["httpGet"]["port"] = ["http"]
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(statefulset)


def test_kustomization_lists_every_required_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - OPTIONAL_FILES
    assert kustomization["namespace"] == _one("Namespace")["metadata"]["name"]
    (image,) = kustomization["images"]
    assert image["name"] == _container()["image"].split(":")[0]


def _kustomized(kustomization: dict[str, Any]) -> list[dict[str, Any]]:
    """What `kubectl kustomize` builds: with kubectl, its own output; without (kubectl is not a
    dev dependency and has no package in the registries CI uses), the listed resources with the
    kustomization's namespace set, which is all this kustomization asks of it."""
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        result = subprocess.run(
            [kubectl, "kustomize", str(K8S)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return [d for d in yaml.safe_load_all(result.stdout) if d]
    built = []
    for name in kustomization["resources"]:
        for document in _documents(K8S / name):
            document = copy.deepcopy(document)
            if document["kind"] != "Namespace":
                document.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
            built.append(document)
    return built


def test_kustomize_builds_valid_resources_in_the_namespace() -> None:
    """What `kubectl apply -k` would send."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    built = _kustomized(kustomization)
    assert len(built) == sum(len(_documents(K8S / name)) for name in kustomization["resources"])
    for document in built:
        _validate(document)
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == kustomization["namespace"]


# ------------------------------------------------------------------ custom resources by hand


def test_servicemonitor_scrapes_every_worker_as_job_opvangwacht() -> None:
    monitor = _one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    headless = _one("Service", "opvangwacht")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    labels = headless["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    web = _one("Service", "opvangwacht-web")
    assert not spec["selector"]["matchLabels"].items() <= web["metadata"]["labels"].items()
    # The job label comes from the Service's label: the rules expect job="opvangwacht".
    assert labels[spec["jobLabel"]] == "opvangwacht"
    rules = (REPO / "deploy" / "prometheus" / "rules").glob("*.yml")
    assert any('job="opvangwacht"' in p.read_text(encoding="utf-8") for p in rules)
    (endpoint,) = spec["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in headless["spec"]["ports"]}


def test_strimzi_example_has_three_replicated_brokers() -> None:
    kafka = _one("Kafka")
    pool = _one("KafkaNodePool")
    for resource in (kafka, pool):
        assert resource["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert resource["metadata"]["name"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert pool["spec"]["replicas"] == 3
    assert {"broker", "controller"} <= set(pool["spec"]["roles"])
    assert pool["spec"]["storage"]["type"]
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["offsets.topic.replication.factor"] == 3
    assert kafka["spec"]["kafka"]["listeners"], "Strimzi requires at least one listener"


def test_the_workers_bootstrap_is_the_strimzi_example_listener() -> None:
    kafka = _one("Kafka")
    bootstrap = _one("ConfigMap", "opvangwacht-env")["data"]["OPVANG_KAFKA_BOOTSTRAP"]
    host, _, port = bootstrap.rpartition(":")
    assert host.startswith(f"{kafka['metadata']['name']}-kafka-bootstrap.")
    plain = [
        listener
        for listener in kafka["spec"]["kafka"]["listeners"]
        if listener["type"] == "internal" and not listener["tls"]
    ]
    assert int(port) in {listener["port"] for listener in plain}


# ------------------------------------------------------------------ cross-references


def test_every_environment_variable_is_one_the_worker_reads() -> None:
    known = _settings_variables()
    container = _container()
    env_names = {item["name"] for item in container["env"]}
    from_config = set(_one("ConfigMap", "opvangwacht-env")["data"])
    secret = set(_one("Secret")["stringData"])
    assert env_names <= known, env_names - known
    assert from_config <= known, from_config - known
    # The Secret: the worker's own tokens, and the credentials a receiver may name.
    receiver_names = set(credential_names(_example_receivers()))
    assert secret <= known | receiver_names, secret - known - receiver_names
    assert {"OPVANG_API_TOKEN", "OPVANG_DLR_TOKEN"} <= secret
    sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert sources == {"opvangwacht-env", _one("Secret")["metadata"]["name"]}


def test_the_environment_makes_valid_settings() -> None:
    container = _container()
    env = dict(_one("ConfigMap", "opvangwacht-env")["data"])
    env.update(_one("Secret")["stringData"])
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            assert item["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
            env[item["name"]] = f"{_one('StatefulSet')['metadata']['name']}-2"
    settings = Settings.from_env(env)
    assert settings.worker_id == "opvangwacht-2"
    assert settings.web_host == "0.0.0.0"
    assert settings.api_token is None, "placeholders are empty: the API stays read-only"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert settings.config_path is not None
    assert mounts[str(settings.config_path.parent)]["readOnly"] is True
    assert mounts[str(settings.data_dir)]["name"] in _empty_dirs()


def _empty_dirs() -> set[str]:
    volumes = _one("StatefulSet")["spec"]["template"]["spec"]["volumes"]
    return {v["name"] for v in volumes if "emptyDir" in v}


def test_probes_and_services_use_the_worker_web_port() -> None:
    container = _container()
    env = {item["name"]: item.get("value") for item in container["env"]}
    web_port = int(env["OPVANG_WEB_PORT"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert web_port in ports.values()
    # Readiness is /health (503 while starting, recovering or without locations); startup and
    # liveness only ask whether the process answers, so a worker without locations is not
    # killed in a loop.
    for probe, path in (
        ("startupProbe", "/health/live"),
        ("readinessProbe", "/health"),
        ("livenessProbe", "/health/live"),
    ):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        port = get["port"]
        assert (ports[port] if isinstance(port, str) else port) == web_port, probe
    # Liveness is more patient than readiness: a worker reading changelogs back after a
    # rebalance answers 503 for a while and must not be killed for it.
    live, ready = container["livenessProbe"], container["readinessProbe"]
    assert (
        live["periodSeconds"] * live["failureThreshold"]
        > 4 * ready["periodSeconds"] * ready["failureThreshold"]
    )
    for service in (_one("Service", "opvangwacht"), _one("Service", "opvangwacht-web")):
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports
            assert ports[port["targetPort"]] == web_port
    annotations = _one("StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == web_port
    assert annotations["prometheus.io/path"] == "/metrics"


def test_selectors_match_the_pods() -> None:
    statefulset = _one("StatefulSet")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert statefulset["spec"]["serviceName"] == _one("Service", "opvangwacht")["metadata"]["name"]
    for service in (_one("Service", "opvangwacht"), _one("Service", "opvangwacht-web")):
        assert service["spec"]["selector"].items() <= pod_labels.items()
    budget = _one("PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert statefulset["spec"]["replicas"] == 3


def test_the_pods_run_locked_down() -> None:
    pod = _one("StatefulSet")["spec"]["template"]["spec"]
    container = _container()
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    uid = int(re.search(r"--uid (\d+)", dockerfile).group(1))  # type: ignore[union-attr]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/tmp"] in _empty_dirs()
    limits = container["resources"]["limits"]
    assert limits["memory"] == "300Mi"


def _alerting_text() -> str:
    text = _one("ConfigMap", "opvangwacht-alerting")["data"]["alerting.yml"]
    assert isinstance(text, str)
    return text


def _example_receivers() -> dict[str, Any]:
    """The receiver example that is commented out under ``receivers: []``, as a config."""
    lines = _alerting_text().split("receivers: []\n", 1)[1].splitlines()
    example = "\n".join(line[1:] for line in lines if line.startswith("#  "))
    raw = yaml.safe_load("receivers:\n" + example)
    assert isinstance(raw, dict) and raw["receivers"], "no commented receiver example"
    return raw


def test_alerting_configmap_parses_and_matches_the_compose_config(tmp_path: Path) -> None:
    path = tmp_path / "alerting.yml"
    path.write_text(_alerting_text(), encoding="utf-8")
    config = load_alerting_config(path)
    assert config.receivers == ()
    compose_copy = REPO / "deploy" / "config" / "alerting.yml"
    assert yaml.safe_load(_alerting_text()) == yaml.safe_load(compose_copy.read_text("utf-8")), (
        "the ConfigMap's alerting.yml and deploy/config/alerting.yml differ: edit both"
    )


def test_the_commented_receiver_example_works_with_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "alerting.yml"
    path.write_text(yaml.safe_dump(_example_receivers()), encoding="utf-8")
    config, missing = load_dry_run_config(path, env={})
    assert [r.name for r in config.receivers] == ["operations-centre"]
    assert set(missing) <= set(_one("Secret")["stringData"])


def test_the_sources_file_comes_from_an_optional_secret() -> None:
    """Reports over HTTP are off until the operator makes the Secret ``opvangwacht-sources`` and
    points OPVANG_SOURCES at it: the path secret.yaml names is where the StatefulSet mounts it."""
    secret = _one("Secret")["stringData"]
    assert secret["OPVANG_SOURCES"] == ""
    assert Settings.from_env({"OPVANG_SOURCES": ""}).sources_path is None
    mounts = {m["name"]: m for m in _container()["volumeMounts"]}
    volumes = {v["name"]: v for v in _one("StatefulSet")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["sources"]["secret"] == {"secretName": "opvangwacht-sources", "optional": True}
    assert mounts["sources"]["readOnly"] is True
    text = (REPO / "deploy" / "kubernetes" / "secret.yaml").read_text(encoding="utf-8")
    assert f"{mounts['sources']['mountPath']}/sources.yml" in text
    assert "create secret generic opvangwacht-sources --from-file=sources.yml" in text
