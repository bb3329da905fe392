"""``opvangwacht route --dry-run PATH``: read alert changes (an alert file, or a scenario run
through the decision core), route them with :func:`alerts.simulate.dry_run` and print the result.

Reads files only: never contacts Kafka, never sends anything. An alert file is JSON Lines of
AlertEvent objects as they appear on ``opvang.alerts`` (or one JSON array of them); a scenario is
any file ``opvangwacht replay`` takes, or the name of a bundled one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from alerts.config import AlertingConfig
from alerts.model import AlertEvent
from alerts.simulate import DryRun, Routed, Target

__all__ = ["AlertSource", "InputError", "parse_at", "print_json", "print_text", "read_changes"]

_HINT = (
    "each line must be an AlertEvent as published on opvang.alerts (alert_id, rule, status, "
    "severity, subject, summary, starts_at, event_date, revision, ...), or the whole file a "
    "scenario whose records have a 'type' (location, occupancy, intake)"
)


class InputError(ValueError):
    """A file that cannot be read as alert changes; the text names file:line and what to do."""


@dataclass(frozen=True, slots=True)
class AlertSource:
    path: Path
    kind: str  # "alerts" or "scenario"
    events: tuple[AlertEvent, ...]
    #: Records of a scenario the worker would dead-letter: (event_id or key, why).
    skipped: tuple[tuple[str, str], ...] = ()


def parse_at(text: str) -> dt.datetime:
    """``--at``: an ISO 8601 time with a zone offset (``2026-11-27T23:30:00+01:00`` or ``...Z``)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--at {text!r}: not an ISO 8601 time; write it like 2026-11-27T23:30:00+01:00"
        ) from None
    if moment.tzinfo is None:
        raise InputError(f"--at {text!r}: give a zone offset, e.g. {text}+01:00 or {text}Z")
    return moment


def _resolve(name_or_path: str) -> tuple[Path, bool]:
    """The file, and whether it is known to be a scenario (a bundled one)."""
    from streams.cli.publish import BUNDLED_SCENARIOS, bundled_path

    path = Path(name_or_path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give an alert file or a scenario file")
    if path.exists():
        return path, False
    for suffix in (".jsonl", ".csv"):
        candidate = bundled_path("scenarios", name_or_path + suffix)
        if candidate.exists():
            return candidate, True
    raise FileNotFoundError(
        f"{name_or_path}: no such file, and no bundled scenario of that name "
        f"(bundled: {', '.join(BUNDLED_SCENARIOS)}). Give an alert file (JSON Lines of alert "
        "events, as on opvang.alerts) or a scenario file."
    )


def _event(raw: Any, where: str) -> AlertEvent:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a JSON object; {_HINT}")
    try:
        return AlertEvent.from_dict(raw)
    except KeyError as exc:
        raise InputError(
            f"{where}: not an alert event, {exc.args[0]!r} is missing; {_HINT}"
        ) from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{where}: not an alert event ({exc}); {_HINT}") from None


def _meaningful(lines: Sequence[str]) -> list[tuple[int, str]]:
    return [
        (number, line.strip())
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.strip().startswith(("#", "//"))
    ]


def read_changes(name_or_path: str, config: AlertingConfig) -> AlertSource:
    """The alert changes in ``name_or_path``, in file order (a scenario: in the order the
    decision core makes them). ``config``: the AlertingConfig a scenario is evaluated with."""
    path, bundled = _resolve(name_or_path)
    if bundled or path.suffix == ".csv":
        return _scenario(path, config)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; {_HINT}") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}:{exc.lineno}: not a JSON array ({exc.msg}); fix the JSON, or write one "
                "alert event per line"
            ) from None
        events = tuple(_event(item, f"{path}: item {i}") for i, item in enumerate(items, 1))
        return AlertSource(path, "alerts", events)
    lines = _meaningful(text.splitlines())
    parsed: list[tuple[int, Any]] = []
    for number, line in lines:
        try:
            parsed.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}:{number}: not JSON ({exc.msg}); fix or remove that line ({_HINT})"
            ) from None
    if parsed and isinstance(parsed[0][1], dict) and "type" in parsed[0][1]:
        return _scenario(path, config)
    events = tuple(_event(raw, f"{path}:{number}") for number, raw in parsed)
    return AlertSource(path, "alerts", events)


def _scenario(path: Path, config: AlertingConfig) -> AlertSource:
    from streams.cli.scenario import scenario_alerts

    try:
        result = scenario_alerts(path, config)
    except ValueError as exc:  # read_scenario names path:line
        raise InputError(f"{exc}; a scenario holds the records opvangwacht replay takes") from None
    return AlertSource(path, "scenario", result.events, result.skipped)


# ---------------------------------------------------------------- output


def _target_line(target: Target) -> str:
    action = target.action.upper()
    message = target.message
    if message is None:
        detail = target.reason
    elif message.channel == "sms":
        fields = message.fields
        to = ", ".join(fields.get("to", ()))
        detail = (
            f'sms ({fields.get("provider")}) to {to}: "{message.text}" '
            f"({fields.get('septets')}/{fields.get('limit')})"
        )
    elif message.channel == "webhook":
        fields = message.fields
        signed = "signed" if fields.get("signed") else "unsigned"
        detail = (
            f"webhook {fields.get('url')}: {fields.get('type')}, subject {fields.get('subject')}, "
            f'{signed}: "{message.text}"'
        )
    elif message.channel == "pagerduty":
        fields = message.fields
        severity = f" ({fields['severity']})" if "severity" in fields else ""
        detail = (
            f"pagerduty {fields.get('event_action')}{severity}, dedup_key "
            f'{fields.get("dedup_key")}: "{message.text}"'
        )
    else:
        detail = f'{message.channel} {message.fields.get("url", "")}: "{message.text}"'
    if message is not None and target.reason:
        detail = f"{target.reason}; {detail}"
    return f"    -> {target.receiver:<28} {action:<11} {detail}"


def _routed_lines(item: Routed) -> list[str]:
    event = item.event
    head = (
        f"{event.event_date.isoformat()}  {event.rule}  {event.status.value}  "
        f"{event.severity.value}  {event.subject.kind.value} {event.subject.id}  "
        f"rev {event.revision}  (judged at {item.at.isoformat()})"
    )
    lines = [head, f"    {event.summary}"]
    if not item.targets:
        lines.append("    -> no receiver")
    lines.extend(_target_line(t) for t in item.targets)
    return lines


def print_text(source: AlertSource, result: DryRun, out: TextIO, *, at: dt.datetime | None) -> None:
    when = f"at {at.isoformat()}" if at else "at each change's event time"
    out.write(
        f"Dry run of {len(source.events)} alert change(s) from {source.path.name} "
        f"({source.kind}), judged {when}. Nothing is sent.\n\n"
    )
    for item in result.routed:
        out.write("\n".join(_routed_lines(item)) + "\n\n")
    summary = result.summary()
    out.write(
        f"Summary: {summary['alerts']} alert change(s) ({summary['firing']} firing, "
        f"{summary['resolved']} resolved); {summary['unrouted']} reach no receiver.\n"
    )
    columns = (
        "send",
        "bundled",
        "folded",
        "hold",
        "over_budget",
        "silenced",
        "inhibited",
        "duplicate",
    )
    receivers = summary["receivers"]
    if receivers:
        width = max(len("receiver"), *(len(name) for name in receivers))
        out.write(f"  {'receiver':<{width}}  " + "  ".join(f"{c:>11}" for c in columns) + "\n")
        for name, counts in receivers.items():
            cells = "  ".join(f"{counts.get(c, 0):>11}" for c in columns)
            out.write(f"  {name:<{width}}  {cells}\n")
    out.write(
        f"Notifications that would be sent: {summary['notifications']}; held for a digest: "
        f"{summary['held'] + summary['over_budget']} ({summary['over_budget']} over the SMS "
        f"budget); silenced: {summary['silenced']}; inhibited: {summary['inhibited']}.\n"
        f"SMS: {summary['bundled']} change(s) went in one message with others of their "
        f"evaluation; {summary['folded']} folded (their morning count was texted already).\n"
    )


def print_json(source: AlertSource, result: DryRun, out: TextIO, *, at: dt.datetime | None) -> None:
    for item in result.routed:
        out.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
    summary = {
        "source": str(source.path),
        "kind": source.kind,
        "at": at.isoformat() if at else None,
        "skipped": [{"id": key, "reason": why} for key, why in source.skipped],
        **result.summary(),
    }
    out.write(json.dumps({"summary": summary}, ensure_ascii=False) + "\n")
