"""The alerting configuration: rule settings and receivers, parsed from a plain mapping.

The edge reads the YAML file named by ``OPVANG_CONFIG`` and hands the mapping to
:meth:`AlertingConfig.from_mapping`; everything here is validation and defaults, no file access.
An unknown rule id or a receiver without a URL is a :class:`~alerts.errors.ConfigError` that names
the offending key, so a typo never silently switches an alert off.

Pure: the caller reads the file and hands in the environment. Must not import httpx, faust, aiokafka
or ``streams``, nor what reads the config (``alerts.rules``, ``alerts.engine``, ``alerts.notify``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from alerts.capacity.penalties import DEFAULT_SCHEMES, PenaltyScheme
from alerts.catalogue import CATALOGUE, RULE_IDS
from alerts.delivery.escalation import EscalationPolicy, parse_escalation
from alerts.dispatch.config import RoutingConfig, parse_routing
from alerts.errors import ConfigError
from alerts.receivers.specs import ReceiverSpec, parse_receivers

__all__ = [
    "AlertingConfig",
    "RuleSettings",
    "SpreidingTargets",
    "TargetCycle",
]


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """``for_days``: report days a condition must hold before firing; ``clear_days``: before
    resolving. ``params`` holds the rule's own thresholds."""

    enabled: bool = True
    for_days: int = 1
    clear_days: int = 1
    params: Mapping[str, float] = field(default_factory=dict)


#: Every rule's default settings, from the rule catalogue.
_DEFAULT_RULES: Final[Mapping[str, RuleSettings]] = {
    rule: RuleSettings(clear_days=info.clear_days, params=dict(info.params))
    for rule, info in CATALOGUE.items()
}


@dataclass(frozen=True, slots=True)
class TargetCycle:
    """One round of Spreidingswet targets: places each province must provide, from a date."""

    name: str
    in_force: dt.date
    targets: Mapping[str, int]
    assumed: bool = False


@dataclass(frozen=True, slots=True)
class SpreidingTargets:
    cycles: tuple[TargetCycle, ...] = ()

    def for_date(self, date: dt.date, pinned: str | None = None) -> TargetCycle | None:
        """The pinned cycle, else the newest one in force on ``date``."""
        if pinned is not None:
            return next((c for c in self.cycles if c.name == pinned), None)
        in_force = [c for c in self.cycles if c.in_force <= date]
        return max(in_force, key=lambda c: c.in_force) if in_force else None


@dataclass(frozen=True, slots=True)
class AlertingConfig:
    rules: Mapping[str, RuleSettings] = field(default_factory=lambda: dict(_DEFAULT_RULES))
    receivers: tuple[ReceiverSpec, ...] = ()
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)
    penalties: tuple[PenaltyScheme, ...] = DEFAULT_SCHEMES
    #: Report days a province or the nation waits for a late location before it closes a day.
    lateness_days: int = 2
    #: Whether intake reports are part of the feed: then a day's figures are final (for the
    #: province and national rules) only once the intake of the day before is in. Off by default:
    #: with it on, a feed without intake reports would never close a province day.
    expect_intake: bool = False
    spreiding_cycle: str | None = None
    targets: SpreidingTargets = SpreidingTargets()
    #: A firing alert's shown text and value follow the newest report once the value has moved
    #: by this share of its threshold (for ``cap_exceeded``: 1% of the cap); 0 switches it off.
    #: Nobody is notified of such an update (``alerts.rules.lifecycle.follow``).
    figure_step: float = 0.01

    def rule(self, rule_id: str) -> RuleSettings:
        # Asked for every finding of every report: build the default only when it is needed.
        settings = self.rules.get(rule_id)
        return RuleSettings() if settings is None else settings

    def param(self, rule_id: str, name: str) -> float:
        return float(self.rule(rule_id).params[name])

    def with_targets(self, targets: SpreidingTargets) -> AlertingConfig:
        if self.spreiding_cycle is not None and not any(
            c.name == self.spreiding_cycle for c in targets.cycles
        ):
            known = ", ".join(c.name for c in targets.cycles)
            raise ConfigError(f"spreiding.cycle: unknown cycle {self.spreiding_cycle!r} ({known})")
        return replace(self, targets=targets)

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
    ) -> AlertingConfig:
        """``env``: where receivers find the credentials they name by variable (the edge passes
        the process environment; nothing here reads it)."""
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise ConfigError("the alerting configuration must be a mapping at the top level")
        unknown = set(raw) - {
            "rules",
            "receivers",
            "penalties",
            "aggregation",
            "spreiding",
            "route",
            "silences",
            "inhibit_rules",
            "escalation",
            "updates",
        }
        if unknown:
            raise ConfigError(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
        aggregation = raw.get("aggregation") or {}
        spreiding = raw.get("spreiding") or {}
        updates = raw.get("updates") or {}
        if not all(isinstance(m, Mapping) for m in (aggregation, spreiding, updates)):
            raise ConfigError("aggregation, spreiding and updates must be mappings")
        if odd := sorted(set(updates) - {"figure_step"}):
            raise ConfigError(f"updates: unknown key(s) {', '.join(map(str, odd))}")
        cycle = spreiding.get("cycle")
        if cycle is not None and not isinstance(cycle, str):
            raise ConfigError("spreiding.cycle must be the name of a target cycle")
        receivers, routing = _parse_delivery(raw, env or {})
        escalation = parse_escalation(raw.get("escalation"), [r.name for r in receivers])
        return cls(
            rules=_parse_rules(raw.get("rules") or {}),
            receivers=receivers,
            routing=routing,
            escalation=escalation,
            penalties=_parse_penalties(raw.get("penalties")),
            lateness_days=_int(
                "aggregation.lateness_days", aggregation.get("lateness_days", 2), minimum=0
            ),
            expect_intake=_bool(
                "aggregation.expect_intake", aggregation.get("expect_intake", False)
            ),
            spreiding_cycle=cycle,
            figure_step=_share("updates.figure_step", updates.get("figure_step", 0.01)),
        )


def _share(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{where} must be a share from 0 up to 1 (0.01 is 1%), got {value!r}")
    return float(value)


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    return value


def _parse_penalties(raw: Any) -> tuple[PenaltyScheme, ...]:
    if raw is None:
        return DEFAULT_SCHEMES
    if not isinstance(raw, list):
        raise ConfigError("penalties must be a list of schemes")
    schemes = []
    for index, item in enumerate(raw):
        where = f"penalties[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} must be a mapping")
        try:
            first = item["first_night"]
            first_night = first if isinstance(first, dt.date) else dt.date.fromisoformat(first)
            schemes.append(
                PenaltyScheme(
                    name=str(item["name"]),
                    location_id=str(item["location_id"]),
                    amount_per_night=_int(
                        f"{where}.amount_per_night", item["amount_per_night"], minimum=0
                    ),
                    first_night=first_night,
                    maximum=_int(f"{where}.maximum", item["maximum"], minimum=0),
                    source=str(item.get("source", "")),
                )
            )
        except KeyError as exc:
            raise ConfigError(f"{where}: missing {exc.args[0]!r}") from None
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.first_night must be a date (YYYY-MM-DD)") from None
    return tuple(schemes)


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
            if key not in params:
                known = ", ".join(["enabled", "for", "clear_for", *sorted(params)])
                raise ConfigError(f"rules.{rule_id}.{key}: unknown setting (known: {known})")
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


#: Receiver keys that steer routing and pacing rather than the channel itself.
_ROUTING_KEYS: Final = ("quiet_hours", "sms_budget")


def _parse_delivery(
    raw: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[tuple[ReceiverSpec, ...], RoutingConfig]:
    items = raw.get("receivers") or []
    if not isinstance(items, list):
        raise ConfigError("receivers must be a list")
    channel_items = [
        {k: v for k, v in item.items() if k not in _ROUTING_KEYS}
        if isinstance(item, Mapping)
        else item
        for item in items
    ]
    specs = parse_receivers(channel_items, env)
    bodies: dict[str, Mapping[str, Any]] = {}
    for spec, item in zip(specs, items, strict=True):
        bodies[spec.name] = {
            **{k: item[k] for k in _ROUTING_KEYS if k in item},
            "municipality_code": spec.municipality_code,
            "province": spec.province,
            **({"sms": True} if spec.kind == "sms" else {}),
        }
    return specs, parse_routing(raw, bodies)
