"""Labels and label matchers: the labels routes, silences and inhibition rules match an alert
change on (:func:`alert_labels`), Alertmanager's matchers (``label=value``, ``!=``, ``=~``, ``!~``;
regular expressions with RE2, linear in the text) with their size limits, and durations
(``30s``, ``5m``, ``1h30m``).

Pure: takes ``now`` as an argument where it needs one, reads no clock. Must not import httpx,
faust, aiokafka or ``streams``, nor anything else under ``alerts.dispatch``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import re2

from alerts.errors import ConfigError
from alerts.model import AlertEvent

__all__ = [
    "MAX_LABEL_NAME",
    "MAX_MATCHERS",
    "MAX_MATCHER_VALUE",
    "Matcher",
    "alert_labels",
    "all_match",
    "parse_duration",
    "parse_matchers",
    "scalar",
]

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


def scalar(value: Any) -> str | None:
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
            label, value = scalar(key), scalar(item)
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


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
