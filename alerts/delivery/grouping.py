"""Grouping and reminders in one receiver's ledger, Alertmanager's way: ``group_wait`` holds the
first changes of a group so that changes arriving together go out at one moment,
``group_interval`` paces the changes after that (:func:`group_arrival`, :func:`flush_groups`), and
``repeat_interval`` reminds the receiver of an alert that is still firing (:func:`remember`,
:func:`due_reminders`). The groups and reminders themselves are part of the
:class:`~alerts.delivery.ledger.Ledger`.

Pure: ``now`` is an argument. Must not import httpx, faust, aiokafka or ``streams``, nor
``alerts.dispatch`` or ``alerts.notify``; within ``alerts.delivery`` only ``ledger``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from alerts.delivery.ledger import (
    Group,
    Grouping,
    Ledger,
    Pending,
    Reminder,
    notification_id,
    without,
)
from alerts.model import AlertEvent, AlertStatus

__all__ = ["due_reminders", "flush_groups", "group_arrival", "remember", "reminder_id"]


def _put_group(ledger: Ledger, group: Group) -> Ledger:
    others = tuple(g for g in ledger.groups if g.key != group.key)
    return replace(ledger, groups=(*others, group))


def group_arrival(
    ledger: Ledger, item: Pending, grouping: Grouping, now: dt.datetime, *, urgent: bool
) -> tuple[Ledger, bool]:
    """A notification for a receiver whose route groups: (ledger, send it now?).

    - urgent (critical, or a rule that always goes through): now, grouping never holds it;
    - a new group (or one quiet for a whole ``interval``): held ``wait`` seconds so that what
      arrives with it goes out together; at once when ``wait`` is 0;
    - a group that already sent: at once when its last message is ``interval`` ago, else held
      until then; a group that already holds messages takes this one along.
    """
    if urgent or not grouping.holds:
        return ledger, True
    group = next((g for g in ledger.groups if g.key == grouping.key), None)
    if (
        group is not None
        and not group.items
        and group.last_sent_at is not None
        and now >= group.last_sent_at + dt.timedelta(seconds=group.interval)
    ):
        group = None  # quiet for a whole interval: it starts afresh
    if group is None:
        if grouping.wait <= 0:
            return _put_group(ledger, Group(grouping.key, grouping.interval, now)), True
        flush_at = now + dt.timedelta(seconds=grouping.wait)
        fresh = Group(grouping.key, grouping.interval, None, flush_at, (item,))
        return _put_group(ledger, fresh), False
    if group.items:
        joined = replace(group, items=(*without(group.items, item.notification_id), item))
        return _put_group(ledger, joined), False
    assert group.last_sent_at is not None  # an empty group is only kept after it sent
    next_at = group.last_sent_at + dt.timedelta(seconds=group.interval)
    if now >= next_at:
        return _put_group(ledger, replace(group, last_sent_at=now)), True
    return _put_group(ledger, replace(group, flush_at=next_at, items=(item,))), False


def flush_groups(
    ledger: Ledger, now: dt.datetime
) -> tuple[Ledger, tuple[tuple[str, tuple[Pending, ...]], ...]]:
    """Groups whose time has come give up what they hold, in arrival order; groups that have
    been quiet for their interval are forgotten (their next message is a new group's)."""
    out: list[tuple[str, tuple[Pending, ...]]] = []
    kept: list[Group] = []
    for group in ledger.groups:
        if group.items and group.flush_at is not None and group.flush_at <= now:
            out.append((group.key, group.items))
            kept.append(Group(group.key, group.interval, now))
        elif (
            not group.items
            and group.last_sent_at is not None
            and now >= group.last_sent_at + dt.timedelta(seconds=group.interval)
        ):
            continue
        else:
            kept.append(group)
    if not out and len(kept) == len(ledger.groups):
        return ledger, ()
    return replace(ledger, groups=tuple(kept)), tuple(out)


def remember(ledger: Ledger, event: AlertEvent, every: float | None, now: dt.datetime) -> Ledger:
    """Keep a firing alert for reminders every ``every`` seconds from ``now``; a resolve (or a
    route without reminders) forgets it. The newest change of an alert replaces the older."""
    others = tuple(r for r in ledger.reminders if r.event.alert_id != event.alert_id)
    if every is None or event.status is not AlertStatus.FIRING:
        if len(others) == len(ledger.reminders):
            return ledger
        return replace(ledger, reminders=others)
    entry = Reminder(event, every, now + dt.timedelta(seconds=every))
    return replace(ledger, reminders=(*others, entry))


def reminder_id(reminder: Reminder, receiver: str) -> str:
    """``{alert_id}.{revision}.{receiver}.r{n}``: a new id per reminder, so a receiver that drops
    webhook-ids it has seen drops a redelivered reminder but not the next one."""
    return f"{notification_id(reminder.event, receiver)}.r{reminder.count}"


def due_reminders(ledger: Ledger, now: dt.datetime) -> tuple[Ledger, tuple[Pending, ...]]:
    """Reminders whose time has come, as notifications. An alert with a message of its own still
    waiting (a retry, a quiet-hour hold, a group) is not reminded of until that is out."""
    waiting = {p.event.alert_id for p in ledger._waiting()}
    ready: list[Pending] = []
    kept: list[Reminder] = []
    for reminder in ledger.reminders:
        if reminder.next_at > now or reminder.event.alert_id in waiting:
            kept.append(reminder)
            continue
        advanced = replace(
            reminder,
            count=reminder.count + 1,
            next_at=now + dt.timedelta(seconds=reminder.every),
        )
        kept.append(advanced)
        ready.append(Pending(reminder_id(advanced, ledger.receiver), reminder.event, 0, now, now))
    if not ready:
        return ledger, ()
    return replace(ledger, reminders=tuple(kept)), tuple(ready)
