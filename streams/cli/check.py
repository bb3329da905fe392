"""``opvangwacht config check [FILE]``: read an alerting file as the worker would, say in one line
what is wrong (with the line of the YAML it is on), or print its route tree the way
``amtool config routes`` prints Alertmanager's.

Reads the file only: never contacts Kafka. The checks themselves are the worker's own
(:func:`streams.settings.load_dry_run_config`, which calls ``AlertingConfig.from_mapping``), so a
file that passes here starts a worker, given the credentials it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alerts.config import AlertingConfig
from alerts.dispatch.matchers import Matcher
from alerts.dispatch.route import Route
from alerts.errors import ConfigError

__all__ = ["CheckError", "Checked", "check_file", "key_line", "route_tree"]


class CheckError(ValueError):
    """The file is not a valid alerting configuration; the text is one line: file, line, why."""


@dataclass(frozen=True, slots=True)
class Checked:
    path: Path
    config: AlertingConfig
    #: Credentials the receivers name that this environment lacks (the worker needs them).
    missing: tuple[str, ...]


#: The key path an error message starts with: ``route.routes[1].receiver``,
#: ``receivers[0] (ops).webhook.url``, ``rules.cap_near``, ``silences[2]``.
_PATH = re.compile(r"[A-Za-z_]\w*(?:\[\d+\](?: \([^)]*\))?|\.[A-Za-z_]\w*)*")
_STEP = re.compile(r"\[(\d+)\]|\.?([A-Za-z_]\w*)")


def _entry(node: yaml.Node, step: str | int) -> tuple[yaml.Node, int] | None:
    """The child ``step`` of ``node`` and the line (1-based) it starts on: a mapping key's own
    line, a list item's first line."""
    if isinstance(step, int) and isinstance(node, yaml.SequenceNode):
        if step < len(node.value):
            return node.value[step], int(node.value[step].start_mark.line) + 1
        return None
    if isinstance(step, str) and isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == step:
                return value, int(key.start_mark.line) + 1
    return None


def _child(node: yaml.Node | None, step: str | int) -> yaml.Node | None:
    found = _entry(node, step) if node is not None else None
    return None if found is None else found[0]


def key_line(text: str, message: str) -> int | None:
    """The line (1-based) of the YAML ``text`` that the error ``message`` is about, as far as its
    leading key path leads; None when the message names no key found in the file."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if root is None:
        return None
    unknown = re.search(r"unknown (?:top-level )?key\(s\):? ([A-Za-z_]\w*)", message)
    receiver = re.match(r"receiver ([^:]+):", message)
    if receiver:  # "receiver NAME: quiet_hours ..."
        for item in getattr(_child(root, "receivers"), "value", None) or []:
            name = _child(item, "name")
            if isinstance(name, yaml.ScalarNode) and name.value == receiver.group(1):
                return int(item.start_mark.line) + 1
        return None
    path = _PATH.match(message) if not message.startswith("unknown") else None
    node, line = root, None
    for index, name in _STEP.findall(re.sub(r" \([^)]*\)", "", path.group(0) if path else "")):
        found = _entry(node, int(index) if index else name)
        if found is None:
            break
        node, line = found
    if unknown:  # the first unknown key, inside the mapping the path led to
        found = _entry(node, unknown.group(1))
        line = found[1] if found is not None else line
    return line


def check_file(path: Path) -> Checked:
    """The file read and checked as the worker reads it; :class:`CheckError` when it is not
    valid. Credentials the environment lacks are not an error here (see ``missing``)."""
    from streams.settings import load_dry_run_config

    if path.is_dir():
        raise CheckError(f"{path}: is a directory; give the alerting YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckError(f"{path}: cannot be read: {exc}") from None
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise CheckError(f"{where}: not valid YAML: {problem}") from None
    try:
        config, missing = load_dry_run_config(path)
    except ConfigError as exc:
        message = str(exc).removeprefix(f"{path}: ")
        line = key_line(text, message)
        where = f"{path}:{line}" if line is not None else str(path)
        raise CheckError(f"{where}: {' '.join(message.split())}") from None
    return Checked(path, config, missing)


def _matchers(matchers: tuple[Matcher, ...]) -> str:
    def one(m: Matcher) -> str:
        op = {(False, False): "=", (False, True): "!=", (True, False): "=~", (True, True): "!~"}
        value = m.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{m.label}{op[(m.regex, m.negate)]}"{value}"'

    return "{" + ",".join(one(m) for m in matchers) + "}"


def route_tree(route: Route) -> list[str]:
    """The route tree as ``amtool config routes`` draws Alertmanager's: one line per route,
    its matchers (``default-route`` without), ``continue: true`` where set, and the receiver it
    sends to (inherited from its parent when it names none)."""
    lines = ["Routing tree:", "."]

    def walk(node: Route, inherited: str | None, prefix: str, last: bool) -> None:
        receiver = node.receiver or inherited
        slug = _matchers(node.matchers) if node.matchers else "default-route"
        if node.continue_:
            slug += "  continue: true"
        slug += f"  receiver: {receiver or '(none)'}"
        lines.append(prefix + ("└── " if last else "├── ") + slug)
        inner = prefix + ("    " if last else "│   ")
        for i, child in enumerate(node.routes):
            walk(child, receiver, inner, i == len(node.routes) - 1)

    walk(route, None, "", True)
    return lines


def describe(checked: Checked) -> list[str]:
    """What ``config check`` prints for a valid file: the route tree, then the audiences (a
    receiver that hears about its municipality or province besides the tree), and counts."""
    config = checked.config
    routing = config.routing
    lines = route_tree(routing.route)
    if routing.audiences:
        lines += ["", "Audiences (besides the tree):"]
        for audience in routing.audiences:
            area = ", ".join(
                part
                for part in (
                    audience.municipality_code and f"municipality {audience.municipality_code}",
                    audience.province and f"province {audience.province}",
                )
                if part
            )
            lines.append(f"  {audience.receiver}: {area}")
    counts: dict[str, Any] = {
        "receivers": len(config.receivers),
        "silences": len(routing.silences),
        "inhibit rules": len(routing.inhibit_rules),
    }
    lines += ["", ", ".join(f"{n} {what}" for what, n in counts.items())]
    return lines
