"""The alerting configuration: rule settings and receivers, parsed from a plain mapping.

The edge reads the YAML file named by ``OPVANG_CONFIG`` and hands the mapping to
:meth:`AlertingConfig.from_mapping`; everything here is validation and defaults, no file access.
An unknown rule id or a receiver without a URL is a :class:`~alerts.errors.ConfigError` that names
the offending key, so a typo never silently switches an alert off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from alerts.errors import ConfigError

__all__ = ["RULE_IDS", "AlertingConfig", "ReceiverConfig", "RuleSettings"]

RULE_IDS: Final = (
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


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """``for_days``: report days a condition must hold before firing; ``clear_days``: before
    resolving. ``params`` holds the rule's own thresholds."""

    enabled: bool = True
    for_days: int = 1
    clear_days: int = 1
    params: Mapping[str, float] = field(default_factory=dict)


_DEFAULT_RULES: Final[Mapping[str, RuleSettings]] = {
    "cap_exceeded": RuleSettings(),
}


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """A place alerts are sent to. Only ``webhook`` receivers exist so far."""

    name: str
    kind: str
    url: str
    timeout: float = 5.0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertingConfig:
    rules: Mapping[str, RuleSettings] = field(default_factory=lambda: dict(_DEFAULT_RULES))
    receivers: tuple[ReceiverConfig, ...] = ()

    def rule(self, rule_id: str) -> RuleSettings:
        return self.rules.get(rule_id, RuleSettings())

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> AlertingConfig:
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise ConfigError("the alerting configuration must be a mapping at the top level")
        unknown = set(raw) - {"rules", "receivers"}
        if unknown:
            raise ConfigError(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
        return cls(rules=_parse_rules(raw.get("rules") or {}), receivers=_parse_receivers(raw))


def _int(where: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where} must be a whole number >= {minimum}, got {value!r}")
    return value


def _parse_rules(raw: Any) -> dict[str, RuleSettings]:
    if not isinstance(raw, Mapping):
        raise ConfigError("rules must be a mapping of rule id to settings")
    rules = dict(_DEFAULT_RULES)
    for rule_id, body in raw.items():
        if rule_id not in RULE_IDS:
            raise ConfigError(f"rules.{rule_id}: unknown rule id (known: {', '.join(RULE_IDS)})")
        body = body or {}
        if not isinstance(body, Mapping):
            raise ConfigError(f"rules.{rule_id} must be a mapping")
        base = rules.get(rule_id, RuleSettings())
        params = dict(base.params)
        for key, value in body.items():
            if key in ("enabled", "for", "clear_for"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"rules.{rule_id}.{key} must be a number, got {value!r}")
            params[key] = float(value)
        enabled = body.get("enabled", base.enabled)
        if not isinstance(enabled, bool):
            raise ConfigError(f"rules.{rule_id}.enabled must be true or false")
        rules[rule_id] = RuleSettings(
            enabled=enabled,
            for_days=_int(f"rules.{rule_id}.for", body.get("for", base.for_days), minimum=1),
            clear_days=_int(
                f"rules.{rule_id}.clear_for", body.get("clear_for", base.clear_days), minimum=1
            ),
            params=params,
        )
    return rules


def _parse_receivers(raw: Mapping[str, Any]) -> tuple[ReceiverConfig, ...]:
    items = raw.get("receivers") or []
    if not isinstance(items, list):
        raise ConfigError("receivers must be a list")
    receivers: list[ReceiverConfig] = []
    for index, item in enumerate(items):
        where = f"receivers[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ConfigError(f"{where} needs a name")
        name = item["name"]
        if any(r.name == name for r in receivers):
            raise ConfigError(f"{where}: receiver name {name!r} is used twice")
        hook = item.get("webhook")
        if not isinstance(hook, Mapping) or not isinstance(hook.get("url"), str):
            raise ConfigError(f"{where} ({name}): needs webhook.url")
        url = hook["url"]
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where} ({name}): webhook.url must start with http:// or https://")
        timeout = hook.get("timeout", 5.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"{where} ({name}): webhook.timeout must be a positive number")
        headers = hook.get("headers") or {}
        if not isinstance(headers, Mapping):
            raise ConfigError(f"{where} ({name}): webhook.headers must be a mapping")
        receivers.append(
            ReceiverConfig(
                name=name,
                kind="webhook",
                url=url,
                timeout=float(timeout),
                headers={str(k): str(v) for k, v in headers.items()},
            )
        )
    return tuple(receivers)
