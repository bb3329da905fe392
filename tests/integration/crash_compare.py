"""Comparing a crashed run with an uncrashed one (issue 9): what is missing, invented or changed.

Pure: takes what the two runs collected (alert events from the alerts topic, webhook deliveries,
the final /api/locations figures, the input offsets) and returns readable differences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: One alert change as the issue compares it.
Change = tuple[str, int, str, str, Any, str]

#: Figures of /api/locations that must come out the same whatever the crashes.
LOCATION_FIELDS = (
    "date",
    "occupancy",
    "capacity",
    "without_bed",
    "slept_outside",
    "arrivals_7d",
    "transfers_out_7d",
    "departures_7d",
    "firing",
)


def change(alert: Mapping[str, Any]) -> Change:
    return (
        str(alert["alert_id"]),
        int(alert["revision"]),
        str(alert["status"]),
        str(alert["event_date"]),
        alert.get("value"),
        str(alert.get("summary")),
    )


def by_revision(alerts: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int], set[Change]]:
    """Every distinct change per ``alert_id:revision`` (more than one: the same revision was
    published with different contents)."""
    found: dict[tuple[str, int], set[Change]] = {}
    for alert in alerts:
        item = change(alert)
        found.setdefault(item[:2], set()).add(item)
    return found


@dataclass
class Outcome:
    """What one run left behind."""

    name: str
    alerts: list[dict[str, Any]]
    #: webhook-id of every delivery the receiver answered 2xx, in order (repeats included).
    delivered: list[str]
    #: notification ids put on the notifications topic.
    notified: set[str]
    locations: dict[str, dict[str, Any]]
    #: "topic[partition]" -> (committed, end) of the input topics at the end.
    input_offsets: dict[str, tuple[int, int]]
    drained: bool
    #: Morning counts applied after a newer one of the same location (outcome "correction" on
    #: the occupancy topic), summed over the worker processes as far as their /metrics showed.
    corrections: int = 0
    #: Things that went wrong on the way (a stall, a worker that exited by itself).
    notes: list[str] = field(default_factory=list)


@dataclass
class Differences:
    missing: list[Change] = field(default_factory=list)
    invented: list[Change] = field(default_factory=list)
    #: (alert_id, revision) with two contents: [reference's] + [crash run's] changes.
    conflicting: list[tuple[list[Change], list[Change]]] = field(default_factory=list)
    repeats: int = 0
    undelivered: list[str] = field(default_factory=list)
    delivered_twice: dict[str, int] = field(default_factory=dict)
    not_consumed: dict[str, tuple[int, int]] = field(default_factory=dict)
    locations: list[str] = field(default_factory=list)
    #: (reference run, crash run) morning counts applied after a newer one
    corrections: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(
            self.missing
            or self.invented
            or self.conflicting
            or self.undelivered
            or self.not_consumed
            or self.locations
            or self.corrections[1] > self.corrections[0]
            or self.notes
        )

    def summary(self, limit: int = 20) -> str:
        lines = [
            f"{len(self.missing)} alert changes missing, {len(self.invented)} invented, "
            f"{len(self.conflicting)} alert_id:revision with two different contents "
            f"({self.repeats} repeats of an identical change, allowed)",
            f"webhook: {len(self.undelivered)} changes the reference run delivered were never "
            f"delivered; {len(self.delivered_twice)} webhook-ids delivered more than once "
            f"(allowed: {sum(self.delivered_twice.values()) - len(self.delivered_twice)} "
            "extra deliveries)",
        ]
        if self.not_consumed:
            lag = sum(end - done for done, end in self.not_consumed.values())
            parts = ", ".join(f"{tp} {d}/{e}" for tp, (d, e) in sorted(self.not_consumed.items()))
            lines.append(f"input not consumed to the end: {lag} messages behind ({parts})")
        if self.locations:
            lines.append(f"{len(self.locations)} locations end with other figures than in the")
            lines[-1] += " reference run: " + "; ".join(self.locations[:5])
        if self.corrections[1] > self.corrections[0]:
            lines.append(
                f"at least {self.corrections[1]} morning counts applied after a newer count of "
                f"the same location (outcome correction; reference run: {self.corrections[0]})"
            )
        lines += [f"note: {note}" for note in self.notes]
        conflicts = [
            f"  conflict  reference {sorted(old, key=str)}\n            crash run "
            f"{sorted(new, key=str)}"
            for old, new in self.conflicting
        ]
        groups = [
            [f"  missing   {item}" for item in self.missing],
            [f"  invented  {item}" for item in self.invented],
            conflicts,
            [f"  undelivered webhook-id {wid}" for wid in self.undelivered],
        ]
        total = sum(len(g) for g in groups)
        if total:
            # A few of each kind rather than the first twenty of one.
            samples: list[str] = []
            for index in range(max(len(g) for g in groups)):
                samples += [g[index] for g in groups if index < len(g)]
            lines.append(f"first differences ({min(limit, total)} of {total}, each kind in turn):")
            lines += [line for sample in samples[:limit] for line in sample.split("\n")]
        return "\n".join(lines)


def compare(reference: Outcome, crashed: Outcome) -> Differences:
    found = Differences(
        notes=list(crashed.notes), corrections=(reference.corrections, crashed.corrections)
    )
    expected, got = by_revision(reference.alerts), by_revision(crashed.alerts)
    found.repeats = len(crashed.alerts) - sum(len(v) for v in got.values())
    for key in sorted(expected.keys() | got.keys()):
        old, new = expected.get(key), got.get(key)
        if new is None:
            found.missing.extend(sorted(old or (), key=str))
        elif old is None:
            found.invented.extend(sorted(new, key=str))
        elif old != new:
            found.conflicting.append((sorted(old, key=str), sorted(new, key=str)))
    delivered = Counter(crashed.delivered)
    found.undelivered = sorted(set(reference.delivered) - set(delivered))
    found.delivered_twice = {wid: n for wid, n in sorted(delivered.items()) if n > 1}
    found.not_consumed = {
        tp: (done, end) for tp, (done, end) in crashed.input_offsets.items() if done != end
    }
    for lid in sorted(reference.locations.keys() | crashed.locations.keys()):
        old_row, new_row = reference.locations.get(lid, {}), crashed.locations.get(lid, {})
        diff = [f for f in LOCATION_FIELDS if old_row.get(f) != new_row.get(f)]
        if diff:
            shown = ", ".join(f"{f} {old_row.get(f)!r} -> {new_row.get(f)!r}" for f in diff)
            found.locations.append(f"{lid}: {shown}")
    return found


def self_check(run: Outcome) -> list[str]:
    """What makes a run unusable as the reference: one revision with two contents, deliveries
    missing, input not consumed."""
    problems = [
        f"{run.name}: {key[0]}:{key[1]} published with {len(items)} different contents"
        for key, items in by_revision(run.alerts).items()
        if len(items) > 1
    ]
    lost = run.notified - set(run.delivered)
    if lost:
        problems.append(
            f"{run.name}: {len(lost)} notifications never delivered: {sorted(lost)[:5]}"
        )
    if run.corrections:
        problems.append(f"{run.name}: {run.corrections} morning counts applied out of order")
    behind = {tp: v for tp, v in run.input_offsets.items() if v[0] != v[1]}
    if behind or not run.drained:
        problems.append(f"{run.name}: did not drain: {behind}")
    return problems + [f"{run.name}: {note}" for note in run.notes]
