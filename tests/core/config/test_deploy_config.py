"""The shipped alerting file says it lists the defaults: keep that true."""

from __future__ import annotations

from pathlib import Path

import yaml

from alerts.config import AlertingConfig

SHIPPED = Path(__file__).resolve().parents[3] / "deploy" / "config" / "alerting.yml"


def test_shipped_config_spells_out_the_defaults() -> None:
    shipped = AlertingConfig.from_mapping(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")))
    defaults = AlertingConfig()
    assert shipped.rules == defaults.rules
    assert shipped.lateness_days == defaults.lateness_days
    assert shipped.penalties == defaults.penalties
    assert shipped.receivers == ()
