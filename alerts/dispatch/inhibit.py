"""Inhibition rules: while an alert matching the source fires, alerts matching the target (with
the same values for the ``equal`` labels) are not sent.

Pure: takes ``now`` as an argument where it needs one, reads no clock. Must not import httpx,
faust, aiokafka or ``streams``; within ``alerts.dispatch`` only ``matchers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alerts.dispatch.matchers import Matcher, all_match

__all__ = ["InhibitRule"]


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same values
    for the ``equal`` labels are not sent."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def inhibits(self, labels: Mapping[str, str], firing: Iterable[Mapping[str, str]]) -> bool:
        if not all_match(self.target, labels):
            return False
        return any(
            all_match(self.source, other)
            and all(other.get(name, "") == labels.get(name, "") for name in self.equal)
            and other.get("alert_id") != labels.get("alert_id")  # never itself
            for other in firing
        )
