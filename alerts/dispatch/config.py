"""The routing configuration: the route tree, audiences, silences and inhibition rules from the
config file, and per receiver its quiet hours (Europe/Amsterdam) and SMS budget, parsed and
checked (:func:`parse_routing`).

Pure: takes ``now`` as an argument where it needs one, reads no clock. Must not import httpx, faust,
aiokafka or ``streams``; within ``alerts.dispatch`` the stage modules (``matchers``, ``route``,
``silence``, ``inhibit``), never ``decision``, ``dispatcher`` or ``admit``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

from alerts.dispatch.inhibit import InhibitRule
from alerts.dispatch.matchers import parse_duration, parse_matchers
from alerts.dispatch.route import Audience, Route, RouteTiming
from alerts.dispatch.silence import Silence, parse_silence
from alerts.errors import ConfigError

__all__ = ["MIN_REPEAT_S", "Budget", "QuietHours", "RoutingConfig", "parse_routing"]

_AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local (Europe/Amsterdam) hours in which non-critical messages wait for the morning digest
    (critical ones, and the rules in ``alerts.catalogue.ALWAYS_THROUGH``, always go through)."""

    start: dt.time
    end: dt.time

    def covers(self, now: dt.datetime) -> bool:
        local = now.astimezone(_AMSTERDAM).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_end(self, now: dt.datetime) -> dt.datetime:
        """When the digest goes out: the end of these quiet hours."""
        local = now.astimezone(_AMSTERDAM)
        end = dt.datetime.combine(local.date(), self.end, tzinfo=_AMSTERDAM)
        if end <= local:
            end += dt.timedelta(days=1)
        return end


@dataclass(frozen=True, slots=True)
class Budget:
    per_hour: int = 3
    per_day: int = 10

    def exceeded(self, sent: Sequence[dt.datetime], now: dt.datetime) -> bool:
        hour = sum(1 for t in sent if now - dt.timedelta(hours=1) < t <= now)
        day = sum(1 for t in sent if now - dt.timedelta(days=1) < t <= now)
        return hour >= self.per_hour or day >= self.per_day


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    route: Route = Route()
    audiences: tuple[Audience, ...] = ()
    silences: tuple[Silence, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = ()
    quiet_hours: Mapping[str, QuietHours] = field(default_factory=dict)
    #: Budgets of the receivers that send text messages.
    budgets: Mapping[str, Budget] = field(default_factory=dict)


# ---------------------------------------------------------------- configuration


def _time(value: Any, where: str) -> dt.time:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 22:00 as the base-60 number 1320: minutes past midnight.
        return dt.time(value // 60, value % 60)
    try:
        return value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: not a time of day (HH:MM): {value!r}") from None


_TIMING_KEYS: Final = ("group_by", "group_wait", "group_interval", "repeat_interval")
#: Reminders more often than this would be noise, not news.
MIN_REPEAT_S: Final = 60.0


def _timing(raw: Mapping[str, Any], where: str, parent: RouteTiming) -> RouteTiming:
    """A route's own settings over its parent's (Alertmanager's inheritance)."""
    group_by = parent.group_by
    if "group_by" in raw:
        value = raw["group_by"]
        if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
            raise ConfigError(f"{where}.group_by must be a list of label names, or ['...']")
        if "..." in value and len(value) > 1:
            raise ConfigError(f"{where}.group_by: '...' (every label) stands alone")
        group_by = tuple(value)
    wait, interval, repeat = parent.group_wait, parent.group_interval, parent.repeat_interval
    if "group_wait" in raw:
        wait = parse_duration(raw["group_wait"], f"{where}.group_wait")
    if "group_interval" in raw:
        interval = parse_duration(raw["group_interval"], f"{where}.group_interval")
    if "repeat_interval" in raw:
        if raw["repeat_interval"] is None:
            repeat = None
        else:
            repeat = parse_duration(raw["repeat_interval"], f"{where}.repeat_interval")
            if repeat < MIN_REPEAT_S:
                raise ConfigError(f"{where}.repeat_interval must be at least 1m")
    if repeat is not None and repeat < interval:
        raise ConfigError(f"{where}: repeat_interval must not be shorter than group_interval")
    return RouteTiming(group_by, wait, interval, repeat)


def _route(
    raw: Any,
    where: str,
    receivers: set[str],
    parent: RouteTiming = RouteTiming(),
) -> Route:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping")
    unknown = set(raw) - {"receiver", "match", "matchers", "continue", "routes", *_TIMING_KEYS}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    timing = _timing(raw, where, parent)
    receiver = raw.get("receiver")
    if receiver is not None and receiver not in receivers:
        raise ConfigError(f"{where}.receiver: no receiver named {receiver!r}")
    matchers = parse_matchers(raw.get("match"), f"{where}.match") + parse_matchers(
        raw.get("matchers"), f"{where}.matchers"
    )
    children = raw.get("routes") or []
    if not isinstance(children, list):
        raise ConfigError(f"{where}.routes must be a list")
    return Route(
        receiver=receiver,
        matchers=matchers,
        continue_=bool(raw.get("continue", False)),
        routes=tuple(
            _route(child, f"{where}.routes[{i}]", receivers, timing)
            for i, child in enumerate(children)
        ),
        timing=timing,
        route_id=where,
    )


def parse_routing(
    raw: Mapping[str, Any], receivers: Mapping[str, Mapping[str, Any]]
) -> RoutingConfig:
    """``route``, ``silences``, ``inhibit_rules`` from the top level of the config; audiences,
    quiet hours and budgets from each receiver (``municipality_code``, ``province``,
    ``quiet_hours: {start, end}``, ``sms_budget: {per_hour, per_day}``)."""
    names = set(receivers)
    if raw.get("route") is not None:
        route = _route(raw["route"], "route", names)
    else:
        # No route: every receiver without an area of its own hears everything; receivers with a
        # municipality or province hear about their area (the audiences below).
        everyone = [
            name
            for name, body in receivers.items()
            if not body.get("municipality_code") and not body.get("province")
        ]
        route = Route(routes=tuple(Route(receiver=name, continue_=True) for name in everyone))
    silences = tuple(
        parse_silence(item, f"config-{i}", f"silences[{i}]")
        for i, item in enumerate(raw.get("silences") or [])
    )
    inhibit = []
    for i, item in enumerate(raw.get("inhibit_rules") or []):
        where = f"inhibit_rules[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} must be a mapping")
        source = parse_matchers(item.get("source_matchers"), f"{where}.source_matchers")
        target = parse_matchers(item.get("target_matchers"), f"{where}.target_matchers")
        if not source or not target:
            raise ConfigError(f"{where}: needs source_matchers and target_matchers")
        raw_equal = item.get("equal") or ()
        equal = (raw_equal,) if isinstance(raw_equal, str) else tuple(str(x) for x in raw_equal)
        inhibit.append(InhibitRule(source, target, equal))
    audiences, quiet, budgets = [], {}, {}
    for name, body in receivers.items():
        municipality, province = body.get("municipality_code"), body.get("province")
        if municipality or province:
            audiences.append(Audience(name, municipality, province))
        if body.get("quiet_hours") is not None:
            hours = body["quiet_hours"]
            if not isinstance(hours, Mapping):
                raise ConfigError(f"receiver {name}: quiet_hours needs start and end")
            quiet[name] = QuietHours(
                _time(hours.get("start"), f"receiver {name}: quiet_hours.start"),
                _time(hours.get("end"), f"receiver {name}: quiet_hours.end"),
            )
        if body.get("sms") is not None:
            limits = body.get("sms_budget") or {}
            if not isinstance(limits, Mapping):
                raise ConfigError(f"receiver {name}: sms_budget needs per_hour and per_day")
            budget = []
            for key, default in (("per_hour", 3), ("per_day", 10)):
                value = limits.get(key, default)
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(
                        f"receiver {name}: sms_budget.{key} must be a whole number >= 1"
                    )
                budget.append(value)
            budgets[name] = Budget(budget[0], budget[1])
    return RoutingConfig(route, tuple(audiences), silences, tuple(inhibit), quiet, budgets)
