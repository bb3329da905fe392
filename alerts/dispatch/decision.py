"""What routing decides for one receiver: send, hold for the digest, over the SMS budget, silenced
or inhibited, with the reason and (for a send) the route's grouping.

Pure: takes ``now`` as an argument where it needs one, reads no clock. Must not import httpx,
faust, aiokafka or ``streams``; nothing else under ``alerts.dispatch``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from alerts.delivery.ledger import Grouping

__all__ = ["Action", "Decision"]


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
