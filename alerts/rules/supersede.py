"""Which firing alerts another firing alert supersedes: a warning that a more severe alert about
the same subject says more about (``cap_near`` while ``cap_exceeded`` fires for Ter Apel).

The rule catalogue names the pairs (:attr:`alerts.catalogue.RuleInfo.inhibited_by`): while the
superseding alert fires, the engine holds the other one as it was, so its figure goes stale.
:func:`fold` puts such an alert under the one that supersedes it instead of beside it, for the read
API and the status page. It changes no alert: when alerts fire and resolve stays the rules' affair.

Pure. Must not import httpx, faust, aiokafka or ``streams``; within ``alerts`` only the catalogue
and the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alerts.catalogue import INHIBITIONS
from alerts.model import Severity

__all__ = ["fold"]


def _subject(alert: Mapping[str, Any]) -> tuple[str, str]:
    subject = alert.get("subject") or {}
    return str(subject.get("kind", "")), str(subject.get("id", ""))


def _rank(alert: Mapping[str, Any]) -> int:
    try:
        return Severity(str(alert.get("severity"))).rank
    except ValueError:
        return -1


def fold(alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``alerts`` (firing alert documents as published) without the ones another of them
    supersedes; each superseding alert lists those under ``superseded``, in the given order.

    An alert is superseded when the rule the catalogue names as its inhibitor fires for the same
    subject at a severity at least as high as its own.
    """
    by_key = {(str(a.get("rule")), _subject(a)): i for i, a in enumerate(alerts)}
    under: dict[int, list[dict[str, Any]]] = {}
    folded: set[int] = set()
    for index, alert in enumerate(alerts):
        inhibitor = INHIBITIONS.get(str(alert.get("rule")))
        if inhibitor is None:
            continue
        other = by_key.get((inhibitor, _subject(alert)))
        if other is None or other == index or _rank(alerts[other]) < _rank(alert):
            continue
        under.setdefault(other, []).append(dict(alert))
        folded.add(index)
    rows = []
    for index, alert in enumerate(alerts):
        if index in folded:
            continue
        row = dict(alert)
        if index in under:
            row["superseded"] = under[index]
        rows.append(row)
    return rows
