"""AlertingConfig.from_mapping: defaults, and a ConfigError naming the key for every mistake."""

from __future__ import annotations

import re
from typing import Any

import pytest

from alerts.catalogue import RULE_IDS
from alerts.config import AlertingConfig, RuleSettings
from alerts.errors import ConfigError, OpvangError


def hook(url: Any = "https://ops.example.nl/hook", **extra: Any) -> dict[str, Any]:
    return {"url": url, **extra}


CONTRACT_RULE_IDS = (
    "cap_exceeded",
    "cap_near",
    "slept_outside",
    "without_bed",
    "outside_risk",
    "breach_forecast",
    "region_capacity_low",
    "national_shortage",
    "spreiding_shortfall",
    "report_missing",
    "implausible_report",
)


@pytest.mark.parametrize("raw", [None, {}, {"rules": None, "receivers": None}])
def test_defaults(raw: dict[str, Any] | None) -> None:
    config = AlertingConfig.from_mapping(raw)
    assert config.receivers == ()
    assert config.rule("cap_exceeded") == RuleSettings(
        enabled=True, for_days=1, clear_days=1, params={}
    )
    # every rule of the contract is on by default, counting from the first report day
    for rule_id in CONTRACT_RULE_IDS:
        settings = config.rule(rule_id)
        assert settings.enabled is True, rule_id
        assert settings.for_days == 1, rule_id
        assert settings.clear_days >= 1, rule_id
    # a rule id with no settings at all gets the plain defaults
    assert config.rule("no_such_rule") == RuleSettings()
    assert RuleSettings() == RuleSettings(enabled=True, for_days=1, clear_days=1, params={})


def test_default_constructor_equals_parsed_defaults() -> None:
    assert AlertingConfig() == AlertingConfig.from_mapping(None)


def test_rule_settings_parsed() -> None:
    defaults = AlertingConfig()
    config = AlertingConfig.from_mapping(
        {
            "rules": {
                "cap_exceeded": {"for": 2, "clear_for": 3},
                "cap_near": {"enabled": False, "ratio": 0.9, "min_places": 50},
                "slept_outside": None,
                "without_bed": {},
            }
        }
    )
    assert config.rule("cap_exceeded") == RuleSettings(True, 2, 3, {})
    near = config.rule("cap_near")
    assert (near.enabled, near.for_days) == (False, 1)
    assert near.params["ratio"] == 0.9
    assert near.params["min_places"] == 50.0
    assert isinstance(near.params["min_places"], float)
    # parameters not given keep their defaults
    for name, value in defaults.rule("cap_near").params.items():
        if name not in ("ratio", "min_places"):
            assert near.params[name] == value
    # an empty body changes nothing
    assert config.rule("slept_outside") == defaults.rule("slept_outside")
    assert config.rule("without_bed") == defaults.rule("without_bed")
    # and one rule's settings leave the others alone
    assert config.rule("report_missing") == defaults.rule("report_missing")


def test_receivers_and_their_routing_are_parsed() -> None:
    config = AlertingConfig.from_mapping(
        {
            "receivers": [
                {"name": "coa-ops", "webhook": hook(timeout=2)},
                {
                    "name": "burgemeester-westerwolde",
                    "municipality_code": "GM1950",
                    "quiet_hours": {"start": "22:00", "end": "07:00"},
                    "webhook": hook("http://127.0.0.1:8080/in"),
                },
            ],
            "route": {"receiver": "coa-ops"},
        }
    )
    assert [(r.name, r.kind) for r in config.receivers] == [
        ("coa-ops", "webhook"),
        ("burgemeester-westerwolde", "webhook"),
    ]
    assert config.receivers[0].spec.url == "https://ops.example.nl/hook"  # type: ignore[union-attr]
    assert config.routing.route.receiver == "coa-ops"
    assert [(a.receiver, a.municipality_code) for a in config.routing.audiences] == [
        ("burgemeester-westerwolde", "GM1950")
    ]
    assert set(config.routing.quiet_hours) == {"burgemeester-westerwolde"}


def test_every_contract_rule_id_is_accepted() -> None:
    assert set(CONTRACT_RULE_IDS) <= set(RULE_IDS)
    config = AlertingConfig.from_mapping({"rules": {rule: {"for": 3} for rule in RULE_IDS}})
    assert all(config.rule(rule).for_days == 3 for rule in RULE_IDS)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        pytest.param({"rules": {"cap_exceded": {}}}, ["rules.cap_exceded"], id="unknown-rule"),
        pytest.param({"rule": {}}, ["rule"], id="unknown-top-level-key"),
        pytest.param({"rules": {}, "silence": []}, ["silence"], id="unknown-top-level-key-2"),
        pytest.param({"rules": ["cap_exceeded"]}, ["rules"], id="rules-not-mapping"),
        pytest.param({"rules": {"cap_exceeded": 5}}, ["rules.cap_exceeded"], id="rule-not-mapping"),
        pytest.param({"receivers": [{"name": "ops"}]}, ["receivers[0]", "ops"], id="no-channel"),
        pytest.param(
            {"receivers": [{"name": "ops", "webhook": {"timeout": 3}}]},
            ["receivers[0]", "ops", "webhook.url"],
            id="no-url",
        ),
        pytest.param(
            {"receivers": [{"name": "ops", "url": "https://x.nl"}]},
            ["receivers[0]"],
            id="url-not-under-webhook",
        ),
        pytest.param(
            {"receivers": [{"name": "ops", "webhook": hook(None)}]},
            ["webhook.url"],
            id="null-url",
        ),
        pytest.param(
            {"receivers": [{"name": "ops", "webhook": hook("ftp://ops.example.nl/hook")}]},
            ["receivers[0]", "ops", "webhook.url"],
            id="ftp-url",
        ),
        pytest.param(
            {"receivers": [{"name": "ops", "webhook": hook("ops.example.nl/hook")}]},
            ["webhook.url"],
            id="url-without-scheme",
        ),
        pytest.param(
            {"receivers": [{"name": "a", "webhook": hook()}, {"name": "a", "webhook": hook()}]},
            ["receivers[1]", "'a'"],
            id="duplicate-receiver-name",
        ),
        pytest.param({"receivers": [{"webhook": hook()}]}, ["receivers[0]", "name"], id="no-name"),
        pytest.param({"receivers": {"name": "a"}}, ["receivers"], id="receivers-not-list"),
        pytest.param(
            {"receivers": [{"name": "a", "webhook": hook(timeout=0)}]},
            ["webhook.timeout"],
            id="zero-timeout",
        ),
        pytest.param(
            {"receivers": [{"name": "a", "webhook": hook(headers=["x"])}]},
            ["webhook.headers"],
            id="headers-not-mapping",
        ),
        pytest.param(
            {"rules": {"cap_exceeded": {"enabled": "no"}}},
            ["rules.cap_exceeded.enabled"],
            id="enabled-not-bool",
        ),
        pytest.param(
            {"rules": {"cap_near": {"ratio": "high"}}},
            ["rules.cap_near.ratio"],
            id="param-not-number",
        ),
        pytest.param(
            {"rules": {"cap_near": {"ratio": True}}},
            ["rules.cap_near.ratio"],
            id="param-bool",
        ),
        pytest.param(
            {"rules": {"cap_exceeded": {"clear_for": 0}}},
            ["rules.cap_exceeded.clear_for"],
            id="clear-for-zero",
        ),
    ],
)
def test_config_error_names_the_key(raw: dict[str, Any], names: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        AlertingConfig.from_mapping(raw)
    for name in names:
        assert name in str(caught.value)


@pytest.mark.parametrize("bad", [0, -1, "2", 1.5, 2.0, True, None, [2]])
def test_bad_for_values(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"rules\.cap_exceeded\.for\b"):
        AlertingConfig.from_mapping({"rules": {"cap_exceeded": {"for": bad}}})


def test_top_level_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        AlertingConfig.from_mapping(["rules"])  # type: ignore[arg-type]


def test_config_error_is_an_opvang_error() -> None:
    assert issubclass(ConfigError, OpvangError)


@pytest.mark.parametrize(
    ("rules", "key"),
    [
        ({"cap_exceeded": {"fro": 2}}, "rules.cap_exceeded.fro"),
        ({"cap_near": {"ratoi": 0.9}}, "rules.cap_near.ratoi"),
    ],
)
def test_a_misspelled_rule_setting_is_an_error(rules: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        AlertingConfig.from_mapping({"rules": rules})
