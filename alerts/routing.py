"""Who hears about an alert, and when: routes, audiences, silences, inhibition, quiet hours and
SMS budgets. Pure decisions; the delivery agent acts on them.

The shape follows Alertmanager where it fits: a tree of routes with matchers and ``continue``;
silences with matchers and a time window; inhibition rules with source and target matchers and
labels that must be equal. On top of that, audiences by geography (a mayor's receiver names its
municipality and hears about the locations in it, and optionally about its province), quiet hours
per receiver in Europe/Amsterdam, and a budget of text messages per recipient.

Every function takes ``now`` as an argument; none reads a clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

import re2

from alerts.delivery import Grouping
from alerts.errors import ConfigError
from alerts.model import AlertEvent, AlertStatus, Severity

__all__ = [
    "ALWAYS_THROUGH",
    "MAX_MATCHERS",
    "MAX_MATCHER_VALUE",
    "Action",
    "Audience",
    "Budget",
    "Decision",
    "InhibitRule",
    "Matcher",
    "QuietHours",
    "Route",
    "RouteTiming",
    "RoutingConfig",
    "Silence",
    "alert_labels",
    "counts_against_budget",
    "decide",
    "pace",
    "parse_duration",
    "parse_matchers",
    "parse_routing",
    "parse_silence",
    "targets",
    "urgent",
]

_AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")

#: Rules whose messages go through quiet hours and SMS budgets: people may be sleeping outside.
ALWAYS_THROUGH: Final = frozenset({"slept_outside", "outside_risk", "cap_exceeded"})


def urgent(event: AlertEvent) -> bool:
    """Critical, or a rule that always goes through: never held by quiet hours, budgets or
    grouping."""
    return event.rule in ALWAYS_THROUGH or event.severity is Severity.CRITICAL


def counts_against_budget(event: AlertEvent, receiver: str, config: RoutingConfig) -> bool:
    """Whether a message sent to ``receiver`` uses up its text budget: only where there is a
    budget, and never for what always goes through (critical alerts and the rules about people
    sleeping outside), so that a night of those cannot hold back the next warning."""
    return receiver in config.budgets and not urgent(event)


_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, where: str) -> float:
    """Seconds from ``"30s"``, ``"5m"``, ``"4h"``, ``"1d"``, ``"1h30m"`` or ``0``."""
    if value == 0 and not isinstance(value, bool):
        return 0.0
    text = str(value).strip() if isinstance(value, str) else ""
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ConfigError(f"{where}: not a duration like '30s', '5m', '4h' or '1h30m': {value!r}")
    return float(sum(int(n) * _UNIT[u] for n, u in parts))


@dataclass(frozen=True, slots=True)
class RouteTiming:
    """Alertmanager's ``group_by``, ``group_wait``, ``group_interval`` and ``repeat_interval``
    (seconds), as they apply to a route after inheriting from its parents.

    ``group_by``: the labels whose values make a group; ``()`` puts every alert of the route in
    one group, ``("...",)`` gives each alert a group of its own."""

    group_by: tuple[str, ...] = ()
    group_wait: float = 0.0
    group_interval: float = 0.0
    repeat_interval: float | None = None

    @property
    def plain(self) -> bool:
        """Nothing to hold and nothing to repeat: every change goes out at once, once."""
        return self.group_wait <= 0 and self.group_interval <= 0 and self.repeat_interval is None

    def grouping(self, route_id: str, labels: Mapping[str, str]) -> Grouping | None:
        if self.plain:
            return None
        if self.group_by == ("...",):
            values = labels.get("alert_id", "")
        else:
            values = ",".join(f"{name}={labels.get(name, '')}" for name in self.group_by)
        return Grouping(
            f"{route_id}{{{values}}}", self.group_wait, self.group_interval, self.repeat_interval
        )


def alert_labels(event: AlertEvent) -> dict[str, str]:
    """The labels routes, silences and inhibition rules match on."""
    labels = {
        "rule": event.rule,
        "alertname": event.rule,
        "severity": event.severity.value,
        "status": event.status.value,
        "subject_kind": event.subject.kind.value,
        "subject_id": event.subject.id,
        "alert_id": event.alert_id,
        "province": event.province or "",
        "municipality_code": event.municipality_code or "",
    }
    if event.subject.kind.value == "location":
        labels["location_id"] = event.subject.id
    return {**labels, **dict(event.labels)}


#: Limits of a matcher, so that no configuration or API request can make parsing or matching slow:
#: Alertmanager takes a value of any length; 1,000 characters are far more than any label here has.
MAX_MATCHER_VALUE: Final = 1000
MAX_LABEL_NAME: Final = 100
#: Matchers in one list (a silence, a route, one side of an inhibition rule).
MAX_MATCHERS: Final = 64
#: The longest ``label op "value"`` string read: the name, the operator, quotes and some spaces.
_MAX_MATCHER_TEXT: Final = MAX_LABEL_NAME + MAX_MATCHER_VALUE + 16

_RE2_OPTIONS: Final = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is our ConfigError, not a line on stderr


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    """``pattern`` compiled with RE2: matching takes time linear in the text, whatever the
    pattern (as Alertmanager's Go regexp), never Python's backtracking. Raises ``re2.error``."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _regex_problem(pattern: str) -> str | None:
    """Why RE2 refuses ``pattern`` (one line), or None."""
    try:
        _regex(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "not a regular expression"
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        return " ".join(text.split())[:200]
    return None


@dataclass(frozen=True, slots=True)
class Matcher:
    """``label = value``, ``label != value``, ``label =~ regex`` or ``label !~ regex``. A regex
    must match the whole value and has RE2 syntax (no backreferences or lookaround)."""

    label: str
    value: str
    regex: bool = False
    negate: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.regex:
            try:
                hit = _regex(self.value).fullmatch(actual) is not None
            except UnicodeEncodeError:  # a lone surrogate in a label value: RE2 reads UTF-8
                text = actual.encode("utf-8", "replace").decode("utf-8")
                hit = _regex(self.value).fullmatch(text) is not None
        else:
            hit = actual == self.value
        return hit != self.negate

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "regex": self.regex,
            "negate": self.negate,
        }


_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS: Final = ("=~", "!~", "!=", "=")


def _read_matcher(text: str) -> tuple[str, str, str] | None:
    """``label``, operator and value of ``label op value`` or ``label op "value"``; None when it
    is not one. One pass over the text: the value is what follows the operator, without the
    spaces around it and without one leading and one trailing double quote."""
    text = text.strip()
    found = _LABEL.match(text)
    if found is None:
        return None
    label = found.group(0)
    rest = text[found.end() :].lstrip()
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        return None
    value = rest[len(op) :].lstrip()
    value = value.removeprefix('"')
    return label, op, value.removesuffix('"')


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):  # YAML reads `code: 1950` as a number
        return str(value)
    return None


def _matcher(label: str, op: str, value: str, where: str) -> Matcher:
    if len(label) > MAX_LABEL_NAME:
        raise ConfigError(f"{where}: a label name is at most {MAX_LABEL_NAME} characters")
    if len(value) > MAX_MATCHER_VALUE:
        raise ConfigError(f"{where}: a matcher value is at most {MAX_MATCHER_VALUE} characters")
    regex = "~" in op
    if regex:
        problem = _regex_problem(value)
        if problem is not None:
            raise ConfigError(f"{where}: bad regular expression {value[:100]!r} (RE2: {problem})")
    return Matcher(label, value, regex=regex, negate=op.startswith("!"))


def parse_matchers(raw: Any, where: str) -> tuple[Matcher, ...]:
    """A mapping ``{label: value}`` (equality) or a list of strings like ``severity=~"warn.*"``.

    At most MAX_MATCHERS of them, values of at most MAX_MATCHER_VALUE characters, regular
    expressions in RE2 syntax: a ConfigError says which limit or what RE2 refused. Reading takes
    time linear in the input, and an input over the limits is refused before it is read."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping | list):
        raise ConfigError(f"{where}: matchers must be a mapping or a list of 'label=value' strings")
    if len(raw) > MAX_MATCHERS:
        raise ConfigError(f"{where}: at most {MAX_MATCHERS} matchers")
    matchers = []
    if isinstance(raw, Mapping):
        for key, item in raw.items():
            label, value = _scalar(key), _scalar(item)
            if label is None or value is None:
                raise ConfigError(f"{where}: matchers map a label name to a text value")
            matchers.append(_matcher(label, "=", value, where))
        return tuple(matchers)
    for item in raw:
        if not isinstance(item, str):
            raise ConfigError(f"{where}: a matcher is a string like 'label=\"value\"'")
        if len(item) > _MAX_MATCHER_TEXT:
            raise ConfigError(f"{where}: a matcher value is at most {MAX_MATCHER_VALUE} characters")
        found = _read_matcher(item)
        if found is None:
            raise ConfigError(f"{where}: cannot read matcher {item[:80]!r} (label=value)")
        matchers.append(_matcher(*found, where))
    return tuple(matchers)


def _all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True, slots=True)
class Route:
    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    #: Grouping and repeating, already inherited from the parents (see :func:`parse_routing`).
    timing: RouteTiming = RouteTiming()
    #: Where the route sits in the tree ("route", "route.1", "route.1.0"): part of a group key.
    route_id: str = "route"

    def receivers_for(self, labels: Mapping[str, str], inherited: str | None = None) -> list[str]:
        """Alertmanager's walk: the deepest matching routes; ``continue`` lets siblings match too.
        A route without its own receiver uses its parent's."""
        return [name for name, _ in self.matches(labels, inherited)]

    def matches(
        self, labels: Mapping[str, str], inherited: str | None = None
    ) -> list[tuple[str, Route]]:
        """Like :meth:`receivers_for`, with the route that chose each receiver."""
        receiver = self.receiver or inherited
        found: list[tuple[str, Route]] = []
        for child in self.routes:
            if not _all(child.matchers, labels):
                continue
            found.extend(child.matches(labels, receiver))
            if not child.continue_:
                break
        if not found and receiver is not None:
            found.append((receiver, self))
        return found


@dataclass(frozen=True, slots=True)
class Silence:
    silence_id: str
    matchers: tuple[Matcher, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime
    author: str
    comment: str

    def active(self, now: dt.datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "silence_id": self.silence_id,
            "matchers": [m.to_dict() for m in self.matchers],
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "author": self.author,
            "comment": self.comment,
        }


def _moment(value: Any, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif not isinstance(value, str) or len(value) > 64:
        raise ConfigError(f"{where}: not an RFC 3339 time: {str(value)[:64]!r}")
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: not an RFC 3339 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{where}: the time needs a zone offset, e.g. 2026-11-27T22:00:00+01:00")
    return moment


#: The longest ``author`` and ``comment`` of a silence.
MAX_SILENCE_TEXT: Final = 1000


def parse_silence(raw: Mapping[str, Any], silence_id: str, where: str = "silence") -> Silence:
    """A silence from the config file, an API request or the silences topic: ``matchers`` (see
    :func:`parse_matchers`), ``starts_at`` and ``ends_at`` (RFC 3339 with an offset), ``author``
    and ``comment`` (text, at most MAX_SILENCE_TEXT characters each)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a silence is a mapping (matchers, starts_at, ends_at, ...)")
    for key in ("matchers", "starts_at", "ends_at", "author", "comment"):
        if key not in raw:
            raise ConfigError(f"{where}: missing {key!r}")
    matchers = parse_matchers(raw["matchers"], f"{where}.matchers")
    if not matchers:
        raise ConfigError(f"{where}: a silence needs at least one matcher")
    starts = _moment(raw["starts_at"], f"{where}.starts_at")
    ends = _moment(raw["ends_at"], f"{where}.ends_at")
    if ends <= starts:
        raise ConfigError(f"{where}: ends_at must be after starts_at")
    author, comment = _scalar(raw["author"]), _scalar(raw["comment"])
    if author is None or comment is None:
        raise ConfigError(f"{where}: author and comment are text")
    author, comment = author.strip(), comment.strip()
    if len(author) > MAX_SILENCE_TEXT or len(comment) > MAX_SILENCE_TEXT:
        raise ConfigError(f"{where}: author and comment are at most {MAX_SILENCE_TEXT} characters")
    if not author or not comment:
        raise ConfigError(f"{where}: say who silences this and why (author, comment)")
    return Silence(silence_id, matchers, starts, ends, author, comment)


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same values
    for the ``equal`` labels are not sent."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def inhibits(self, labels: Mapping[str, str], firing: Iterable[Mapping[str, str]]) -> bool:
        if not _all(self.target, labels):
            return False
        return any(
            _all(self.source, other)
            and all(other.get(name, "") == labels.get(name, "") for name in self.equal)
            and other.get("alert_id") != labels.get("alert_id")  # never itself
            for other in firing
        )


@dataclass(frozen=True, slots=True)
class Audience:
    """A receiver that hears about a place: its municipality's locations, and optionally the
    province they are in."""

    receiver: str
    municipality_code: str | None = None
    province: str | None = None

    def includes(self, labels: Mapping[str, str]) -> bool:
        if self.municipality_code and labels.get("municipality_code") == self.municipality_code:
            return True
        return bool(
            self.province
            and labels.get("subject_kind") == "province"
            and labels.get("province") == self.province
        )


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local (Europe/Amsterdam) hours in which non-critical messages wait for the morning digest
    (critical ones, and the rules in ALWAYS_THROUGH, always go through)."""

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


class Action(StrEnum):
    SEND = "send"
    HOLD = "hold"  # quiet hours: goes out in the morning digest
    OVER_BUDGET = "over_budget"  # SMS budget spent: goes out in the next digest
    SILENCED = "silenced"
    INHIBITED = "inhibited"


@dataclass(frozen=True, slots=True)
class Decision:
    receiver: str
    action: Action
    reason: str = ""
    #: For HOLD: when the digest with this message goes out.
    release_at: dt.datetime | None = None
    #: For SEND: how the route groups and repeats (None: at once, once).
    grouping: Grouping | None = None


def targets(
    event: AlertEvent,
    config: RoutingConfig,
    now: dt.datetime,
    *,
    firing: Iterable[Mapping[str, str]] = (),
    extra_silences: Iterable[Silence] = (),
) -> list[Decision]:
    """Which receivers ``event`` concerns, and whether a silence or inhibition stops it: decided
    once, where the alert change is made. SEND here still goes through :func:`pace`."""
    labels = alert_labels(event)
    chosen: dict[str, Route] = {}
    for name, route in config.route.matches(labels):
        chosen.setdefault(name, route)
    for audience in config.audiences:
        if audience.receiver not in chosen and audience.includes(labels):
            chosen[audience.receiver] = config.route  # an audience groups as the root does
    names = list(chosen)
    if not names:
        return []
    for silence in (*config.silences, *extra_silences):
        if silence.active(now) and _all(silence.matchers, labels):
            reason = f"silence {silence.silence_id} by {silence.author}: {silence.comment}"
            return [Decision(n, Action.SILENCED, reason) for n in names]
    if event.status is AlertStatus.FIRING:
        others = list(firing)
        for rule in config.inhibit_rules:
            if rule.inhibits(labels, others):
                return [Decision(n, Action.INHIBITED, "inhibited by a firing alert") for n in names]
    return [
        Decision(n, Action.SEND, grouping=chosen[n].timing.grouping(chosen[n].route_id, labels))
        for n in names
    ]


def pace(
    event: AlertEvent,
    receiver: str,
    config: RoutingConfig,
    now: dt.datetime,
    sent: Sequence[dt.datetime] = (),
) -> Decision:
    """Quiet hours and the text-message budget of one receiver, decided when it is delivered."""
    pressing = urgent(event)
    quiet = config.quiet_hours.get(receiver)
    budget = config.budgets.get(receiver)
    if quiet is not None and not pressing and quiet.covers(now):
        return Decision(receiver, Action.HOLD, "quiet hours", release_at=quiet.next_end(now))
    if budget is not None and not pressing and budget.exceeded(sent, now):
        return Decision(receiver, Action.OVER_BUDGET, "text message budget spent")
    return Decision(receiver, Action.SEND)


def decide(
    event: AlertEvent,
    config: RoutingConfig,
    now: dt.datetime,
    *,
    firing: Iterable[Mapping[str, str]] = (),
    sent: Mapping[str, Sequence[dt.datetime]] | None = None,
    extra_silences: Iterable[Silence] = (),
) -> list[Decision]:
    """What to do about ``event`` for every receiver it concerns, in a stable order: routing,
    silences and inhibition (:func:`targets`), then quiet hours and budgets (:func:`pace`).

    ``firing``: labels of the other alerts firing now (for inhibition). ``sent``: when each
    budgeted receiver last sent text messages. ``extra_silences``: silences made through the API.
    """
    sent = sent or {}
    return [
        pace(event, d.receiver, config, now, sent.get(d.receiver, ()))
        if d.action is Action.SEND
        else d
        for d in targets(event, config, now, firing=firing, extra_silences=extra_silences)
    ]


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
