"""The crash test's plans (issue 9): which stops, in which order, with how many days of input
published before each and while the worker is down, and how the worker comes back.

Deterministic from the seed. A control plan (``make_plan(..., control=True)``) publishes the same
days at the same points but stops nothing (``pace``): on any worker it must give exactly the
reference run's alerts, which checks the harness itself (publishing in steps alone changes
nothing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: OPVANG_WORKER_ID of a restart as the static group member.
STATIC_ID = "crash-worker-1"

KILLS = ("mid_batch", "after_webhook", "recovery")


@dataclass(frozen=True)
class Step:
    kind: str  # mid_batch, after_webhook, recovery, sigterm; pace in a control plan
    up: int  # days published at the start of the step, while the worker runs
    down: int  # days published while it is down
    static: bool  # restart with OPVANG_WORKER_ID (a static member) or as a new member
    fraction: float  # mid_batch, sigterm: share of the backlog handled before the stop
    nth: int  # after_webhook: the nth 2xx; recovery: the nth /health "recovering"

    def describe(self) -> str:
        what = {
            "mid_batch": f"kill -9 mid-batch after {self.fraction:.0%} of the backlog",
            "after_webhook": f"kill -9 right after webhook 2xx #{self.nth}",
            "recovery": f"kill -9 at /health 'recovering' #{self.nth} after the restart",
            "sigterm": f"SIGTERM after {self.fraction:.0%} of the backlog",
            "pace": f"no stop (control), a pause after {self.fraction:.0%} of the backlog",
        }[self.kind]
        if self.kind == "pace":
            return f"{what}; {self.up} days before, {self.down} after"
        member = f"static member {STATIC_ID}" if self.static else "a new member"
        return f"{what}; {self.up} days before, {self.down} while down; back as {member}"


@dataclass(frozen=True)
class Plan:
    seed: int
    backlog: int  # days published before the first start
    first_static: bool  # the first start as the static member
    steps: tuple[Step, ...]


def make_plan(seed: int, kills: int, sigterms: int, days: int, *, control: bool = False) -> Plan:
    """Seeded: ``kills`` kill -9 steps (the three kinds in turn) and ``sigterms`` clean stops in
    a random order, never a kill during recovery first (it needs a restart with state behind
    it); restarts as the static member or a new one, at least one of each when there are two.
    ``control``: the same plan with every stop replaced by a pause (``pace``)."""
    rng = random.Random(f"crash-plan-{seed}")
    kinds = [KILLS[i % len(KILLS)] for i in range(kills)] + ["sigterm"] * sigterms
    rng.shuffle(kinds)
    if kinds and kinds[0] == "recovery":
        other = next((i for i, k in enumerate(kinds) if k != "recovery"), 0)
        kinds[0], kinds[other] = kinds[other], kinds[0]
    backlog = rng.randint(8, 14)
    # Days published at the start of a step: a real backlog (hundreds of reports, batches of
    # hundreds) before a stop while behind, a few for alert changes before a webhook kill.
    wanted = {"mid_batch": (5, 9), "sigterm": (8, 12), "after_webhook": (0, 2), "recovery": (0, 0)}
    ups = [rng.randint(*wanted[k]) for k in kinds]
    downs = [rng.randint(1, 4) for _ in kinds]
    # Keep at least six days for after the last stop; shrink the steps' days to fit. Half of
    # what is left arrives while the worker is down for the last time: a backlog at its restart.
    budget = max(0, days - backlog - 6)
    total = sum(ups) + sum(downs)
    if total > budget:
        ups = [n * budget // total for n in ups]
        downs = [n * budget // total for n in downs]
    if downs:
        downs[-1] += (days - backlog - sum(ups) - sum(downs)) // 2
    statics = [rng.random() < 0.5 for _ in kinds]
    if len(statics) >= 2 and len(set(statics)) == 1:
        statics[rng.randrange(len(statics))] = not statics[0]
    steps = tuple(
        Step(
            "pace" if control else kind,
            up,
            down,
            static,
            fraction=round(rng.uniform(0.15, 0.6), 2),
            nth=rng.randint(1, 4) if kind == "after_webhook" else rng.randint(1, 40),
        )
        for kind, up, down, static in zip(kinds, ups, downs, statics, strict=True)
    )
    return Plan(seed, backlog, rng.random() < 0.5, steps)
