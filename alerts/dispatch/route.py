"""The route tree and audiences: which receivers an alert change concerns, and how each route
groups and repeats (:class:`RouteTiming`, Alertmanager's ``group_by``, ``group_wait``,
``group_interval`` and ``repeat_interval``). An audience is a receiver that hears about a place
(its municipality, optionally its province).

Pure: takes ``now`` as an argument where it needs one, reads no clock. Must not import httpx,
faust, aiokafka or ``streams``; within ``alerts.dispatch`` only ``matchers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alerts.delivery.ledger import Grouping
from alerts.dispatch.matchers import Matcher, all_match

__all__ = ["Audience", "Route", "RouteTiming"]


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
            if not all_match(child.matchers, labels):
                continue
            found.extend(child.matches(labels, receiver))
            if not child.continue_:
                break
        if not found and receiver is not None:
            found.append((receiver, self))
        return found


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
