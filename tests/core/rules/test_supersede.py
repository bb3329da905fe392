"""A warning that a more severe alert about the same subject supersedes is folded under it, and
every rule has one Dutch name, defined in the catalogue."""

from __future__ import annotations

from typing import Any

import builders
import pytest

from alerts.catalogue import CATALOGUE, INHIBITIONS, rule_name
from alerts.model import Severity, Subject, SubjectKind
from alerts.rules.supersede import fold

BUDEL = Subject(SubjectKind.LOCATION, "budel")


def alert(rule: str, severity: Severity, subject: Subject | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"rule": rule, "alert_id": f"{rule}-x", "severity": severity}
    if subject is not None:
        fields["subject"] = subject
    return builders.an_alert(**fields).to_dict()


NEAR = alert("cap_near", Severity.WARNING)
OVER = alert("cap_exceeded", Severity.CRITICAL)


@pytest.mark.parametrize(
    ("alerts", "rows", "under"),
    [
        ([NEAR], ["cap_near"], {}),
        ([NEAR, OVER], ["cap_exceeded"], {"cap_exceeded": ["cap_near"]}),
        ([OVER, NEAR], ["cap_exceeded"], {"cap_exceeded": ["cap_near"]}),
        # Another subject's critical alert supersedes nothing here.
        (
            [NEAR, alert("cap_exceeded", Severity.CRITICAL, BUDEL)],
            ["cap_near", "cap_exceeded"],
            {},
        ),
        # A superseding alert less severe than the other one does not hide it.
        ([alert("cap_near", Severity.CRITICAL), alert("cap_exceeded", Severity.WARNING)], 2, {}),
        (
            [alert("outside_risk", Severity.CRITICAL), alert("slept_outside", Severity.CRITICAL)],
            ["slept_outside"],
            {"slept_outside": ["outside_risk"]},
        ),
        ([alert("without_bed", Severity.WARNING), OVER], ["without_bed", "cap_exceeded"], {}),
    ],
)
def test_a_superseded_alert_is_folded_under_the_one_that_supersedes_it(
    alerts: list[dict[str, Any]], rows: list[str] | int, under: dict[str, list[str]]
) -> None:
    folded = fold(alerts)
    if isinstance(rows, int):
        assert len(folded) == rows
    else:
        assert [r["rule"] for r in folded] == rows
    assert {
        r["rule"]: [s["rule"] for s in r["superseded"]] for r in folded if "superseded" in r
    } == under
    # Nothing is lost: every alert is a row or under one.
    assert len(folded) + sum(len(r.get("superseded", ())) for r in folded) == len(alerts)


def test_every_rule_has_a_dutch_name_and_the_id_stays_the_fallback() -> None:
    names = [info.name for info in CATALOGUE.values()]
    assert all(names) and len(set(names)) == len(names)
    assert rule_name("cap_exceeded") == "Boven de grens"
    assert rule_name("slept_outside") == "Buiten geslapen"
    assert rule_name("no_such_rule") == "no_such_rule"
    assert set(INHIBITIONS) <= set(CATALOGUE)
