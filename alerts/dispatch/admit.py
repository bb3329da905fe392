"""Quiet hours and the SMS budget, applied to one item as it is delivered: whether it goes out now
or waits for a digest (:func:`pace`, :func:`admit` against the receiver's ledger), and whether a
message sent uses up the budget (:func:`counts_against_budget`).

Pure: ``now`` is an argument; reads no clock. Must not import httpx, faust, aiokafka or
``streams``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from alerts.catalogue import urgent
from alerts.delivery.ledger import Ledger
from alerts.dispatch.config import RoutingConfig
from alerts.dispatch.decision import Action, Decision
from alerts.model import AlertEvent

__all__ = ["OVER_BUDGET_WAIT", "admit", "counts_against_budget", "pace"]

#: How long an over-budget message waits before it goes out in a digest.
OVER_BUDGET_WAIT: Final = dt.timedelta(hours=1)


def counts_against_budget(event: AlertEvent, receiver: str, config: RoutingConfig) -> bool:
    """Whether a message sent to ``receiver`` uses up its text budget: only where there is a
    budget, and never for what always goes through (critical alerts and the rules about people
    sleeping outside), so that a night of those cannot hold back the next warning."""
    return receiver in config.budgets and not urgent(event)


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


def admit(event: AlertEvent, ledger: Ledger, config: RoutingConfig, now: dt.datetime) -> Decision:
    """:func:`pace` for ``ledger``'s receiver against what it has sent; a message that must wait
    gets the moment it goes out in a digest (the end of the quiet hours, or an hour from now when
    the budget is spent) as ``release_at``."""
    decision = pace(event, ledger.receiver, config, now, ledger.sent_at)
    if decision.action is Action.SEND:
        return decision
    release = decision.release_at or now + OVER_BUDGET_WAIT
    return Decision(decision.receiver, decision.action, decision.reason, release_at=release)
