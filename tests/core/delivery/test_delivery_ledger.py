"""The delivery ledger: confirmed ids, retries on a schedule, giving up, holding for digests."""

from __future__ import annotations

import datetime as dt

from builders import an_alert

from alerts.delivery.ledger import (
    Failure,
    Ledger,
    Pending,
    delivered,
    digest_event,
    failed,
    hold,
    jittered,
    notification_id,
    release,
)
from alerts.model import AlertEvent, Severity

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
SCHEDULE = (5.0, 300.0)


def event(revision: int = 1, severity: Severity = Severity.CRITICAL) -> AlertEvent:
    return an_alert(revision=revision, severity=severity)


def fail(ledger: Ledger, attempts: int, failure: Failure) -> tuple[Ledger, str | None, object]:
    """A failed attempt without jitter, so that the times below are the schedule's own."""
    verdict = failed(
        ledger,
        event(),
        "n1",
        failure,
        NOW,
        attempts=attempts,
        first_queued_at=NOW,
        schedule=SCHEDULE,
        jitter=0.0,
    )
    return verdict.ledger, verdict.gave_up, verdict.next_attempt_at


def test_notification_ids_are_stable_per_change_and_receiver() -> None:
    assert notification_id(event(3), "ops") == "cap_exceeded-ter-apel-x.3.ops"
    assert notification_id(event(3), "ops") != notification_id(event(4), "ops")


def test_a_confirmed_notification_is_known_and_counted_for_the_budget() -> None:
    ledger = delivered(Ledger("ops"), "n1", NOW)
    assert ledger.knows("n1") and not ledger.knows("n2")
    assert ledger.sent_at == (NOW,)
    later = delivered(ledger, "n2", NOW + dt.timedelta(days=2))
    assert later.sent_at == (NOW + dt.timedelta(days=2),)  # a day's window, no longer


def test_retries_follow_the_schedule_then_the_notification_is_dead() -> None:
    ledger, gave_up, when = fail(Ledger("ops"), 1, Failure(recoverable=True, message="HTTP 503"))
    assert (gave_up, when) == (None, NOW + dt.timedelta(seconds=5))
    assert ledger.due(NOW) == [] and [p.attempts for p in ledger.due(when)] == [1]
    ledger, gave_up, when = fail(ledger, 2, Failure(recoverable=True))
    assert (gave_up, when) == (None, NOW + dt.timedelta(seconds=300))
    ledger, gave_up, when = fail(ledger, 3, Failure(recoverable=True))
    assert (gave_up, when, ledger.pending) == ("dead", None, ())


def test_retry_after_is_a_floor_and_4xx_is_not_retried() -> None:
    _, _, when = fail(Ledger("ops"), 1, Failure(recoverable=True, retry_after=60))
    assert when == NOW + dt.timedelta(seconds=60)
    # A shorter Retry-After never brings the next attempt forward.
    _, _, when = fail(Ledger("ops"), 2, Failure(recoverable=True, retry_after=1))
    assert when == NOW + dt.timedelta(seconds=300)
    ledger, gave_up, _ = fail(Ledger("ops"), 1, Failure(recoverable=False))
    assert (gave_up, ledger.pending) == ("dead", ())


def test_gone_switches_the_receiver_off() -> None:
    ledger, gave_up, _ = fail(Ledger("ops"), 1, Failure(False, disable=True, message="HTTP 410"))
    assert gave_up == "disabled"
    assert ledger.disabled == "switched off after: HTTP 410"


def test_held_notifications_come_out_together_when_their_time_comes() -> None:
    morning = NOW + dt.timedelta(hours=8)
    ledger = hold(Ledger("ops"), Pending("n1", event(1, Severity.INFO), 0, morning, NOW))
    ledger = hold(ledger, Pending("n2", event(2, Severity.WARNING), 0, morning, NOW))
    assert ledger.knows("n1") and ledger.oldest_pending() == NOW
    assert release(ledger, NOW) == (ledger, ())
    left, ready = release(ledger, morning)
    assert [p.notification_id for p in ready] == ["n1", "n2"] and left.held == ()
    digest = digest_event("ops", ready, morning)
    assert digest.severity is Severity.WARNING
    assert digest.summary.startswith("2 meldingen (2 actief): Ter Apel")
    assert len(digest.summary) <= 400


def test_the_ledger_round_trips() -> None:
    ledger, _, _ = fail(Ledger("ops"), 1, Failure(recoverable=True, message="x"))
    ledger = delivered(ledger, "n0", NOW)
    assert Ledger.from_dict(ledger.to_dict()) == ledger


def test_retries_that_failed_together_come_back_spread_over_the_jitter_band() -> None:
    """30 notifications to one receiver fail at the same moment: before, all 30 came back exactly
    300 s later. Now each wait is within 20 % of 300 s, and no two are the same."""
    waits = []
    for n in range(30):
        verdict = failed(
            Ledger("ops"),
            event(n + 1),
            notification_id(event(n + 1), "ops"),
            Failure(recoverable=True, message="HTTP 503"),
            NOW,
            attempts=2,
            first_queued_at=NOW,
            schedule=SCHEDULE,
        )
        assert verdict.next_attempt_at is not None
        waits.append((verdict.next_attempt_at - NOW).total_seconds())
    assert len(set(waits)) == 30
    assert all(240 <= w <= 360 for w in waits), waits
    assert max(waits) - min(waits) > 90  # spread over the band, not bunched in one corner


def test_the_jitter_is_the_same_for_the_same_notification_and_attempt() -> None:
    """Drawn from the notification id and the attempt, not from a random source: a replay, a
    restart or a test sees the same schedule; the next attempt of one notification moves anew."""
    assert jittered(300.0, "a.1.ops", 2) == jittered(300.0, "a.1.ops", 2)
    assert jittered(300.0, "a.1.ops", 2) != jittered(300.0, "a.1.ops", 3)
    assert jittered(300.0, "a.1.ops", 2, spread=0.0) == 300.0
    draws = [jittered(100.0, f"n{i}", 1) for i in range(2000)]
    assert 80 <= min(draws) < 82 and 118 < max(draws) < 120
    assert 99 < sum(draws) / len(draws) < 101  # centred on the schedule's wait


def test_retry_after_is_a_floor_under_the_jittered_wait() -> None:
    verdict = failed(
        Ledger("ops"),
        event(),
        "n1",
        Failure(recoverable=True, retry_after=1000.0),
        NOW,
        attempts=2,
        first_queued_at=NOW,
        schedule=SCHEDULE,
    )
    assert verdict.next_attempt_at == NOW + dt.timedelta(seconds=1000)
