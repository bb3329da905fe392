"""A firing alert's shown figure follows the newest report (``lifecycle.follow``) without a new
published change: nobody is notified again, and when alerts fire and resolve stays the same."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import builders
import pytest
import yaml

from alerts.config import AlertingConfig
from alerts.errors import ConfigError
from alerts.model import AlertStatus, Severity
from alerts.rules.lifecycle import AlertState, Finding, follow, step
from streams.cli.scenario import scenario_alerts
from streams.reference import data_path, load_targets

TER_APEL = builders.TER_APEL.subject

D = dt.date(2022, 9, 9)


def over(value: int, *, severity: Severity = Severity.CRITICAL) -> Finding:
    return Finding(
        rule="cap_exceeded",
        subject=TER_APEL,
        breached=True,
        cleared=False,
        severity=severity,
        value=value,
        threshold=2000,
        summary=f"Ter Apel: {value} personen",
        province="GR",
    )


def run(values: list[int], figure_step: float) -> tuple[AlertState, list[object]]:
    state: AlertState | None = None
    events: list[object] = []
    for n, value in enumerate(values):
        state, event = step(state, over(value), D + dt.timedelta(days=n), figure_step=figure_step)
        events.append(event)
    assert state is not None
    return state, events


@pytest.mark.parametrize(
    ("values", "shown", "updates"),
    [
        ([2053], 2053, None),
        ([2053, 2040], 2053, None),  # 13 people: less than 1% of the cap of 2,000
        ([2053, 2040, 2021], 2021, 1),  # 32 from what is shown
        ([2053, 2073], 2073, 1),  # exactly 20: one step
        ([2053, 2021, 2030, 2001], 2001, 2),
    ],
)
def test_the_shown_figure_follows_the_report_by_the_step(
    values: list[int], shown: int, updates: int | None
) -> None:
    state, events = run(values, figure_step=0.01)
    assert events[0] is not None and events[1:] == [None] * (len(values) - 1)
    assert state.last_event is not None
    assert state.last_event["value"] == shown
    assert state.last_event["summary"] == f"Ter Apel: {shown} personen"
    assert state.last_event.get("update") == updates
    # Still the change people were told about: same revision, same start.
    assert state.revision == 1 and state.last_event["revision"] == 1
    assert state.last_event["starts_at"] == "2022-09-09T09:00:00+02:00"
    if updates:
        moved = D + dt.timedelta(days=max(i for i, v in enumerate(values) if v == shown))
        assert state.last_event["event_date"] == moved.isoformat()


def test_no_step_no_following() -> None:
    state, _ = run([2053, 2021, 1990 + 100], figure_step=0)
    assert state.last_event is not None and state.last_event["value"] == 2053


def test_a_real_change_after_updates_is_published_as_the_next_revision() -> None:
    state, _ = run([2053, 2021], figure_step=0.01)
    state, event = step(state, over(2150, severity=Severity.WARNING), D + dt.timedelta(days=5))
    assert event is not None and event.revision == 2 and event.value == 2150
    assert state.last_event is not None and "update" not in state.last_event


def test_only_a_firing_alert_follows() -> None:
    state, _ = run([2053], figure_step=0.01)
    assert follow(replace(state, firing=False), over(1500), D, 0.01).last_event == state.last_event
    assert follow(replace(state, last_event=None), over(1500), D, 0.01).last_event is None


def test_in_the_hysteresis_band_the_figure_follows_too() -> None:
    state, _ = run([2053], figure_step=0.01)
    band = replace(over(1990), breached=False, cleared=False, summary="Ter Apel: 1990 personen")
    state, event = step(state, band, D + dt.timedelta(days=1), figure_step=0.01)
    assert event is None and state.firing
    assert state.last_event is not None and state.last_event["value"] == 1990


def config(text: str = "") -> AlertingConfig:
    base = "aggregation:\n  expect_intake: true\nreceivers: []\n" + text
    return AlertingConfig.from_mapping(yaml.safe_load(base)).with_targets(load_targets())


def test_ter_apel_2022_publishes_the_same_changes_with_or_without_following() -> None:
    """The backtest's alerts (which fire and resolve on which dates, every published change) do
    not depend on the step: following the figure publishes nothing."""
    path = data_path("scenarios", "ter-apel-2022-08.jsonl")
    following = scenario_alerts(path, config()).events
    frozen = scenario_alerts(path, config("updates:\n  figure_step: 0\n")).events
    assert [e.to_dict() for e in following] == [e.to_dict() for e in frozen]
    assert any(e.rule == "cap_exceeded" and e.status is AlertStatus.FIRING for e in following)


def test_the_step_is_configured_in_alerting_yml() -> None:
    assert AlertingConfig.from_mapping({}).figure_step == 0.01
    assert config("updates:\n  figure_step: 0.05\n").figure_step == 0.05
    for bad in ("figure_step: 2", "figure_step: yes", "figure_step: -0.1", "step: 0.01"):
        with pytest.raises(ConfigError, match="updates"):
            AlertingConfig.from_mapping(yaml.safe_load(f"updates:\n  {bad}\n"))
