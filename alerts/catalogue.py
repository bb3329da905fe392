"""The rule catalogue: one :class:`RuleInfo` per rule id, with everything about a rule that is not
its logic: whether its messages always go through (quiet hours, SMS budgets, grouping), whether it
forecasts rather than measures, which rule's firing alert holds it back, and its Dutch title, CAP
category and what its ``value`` counts, and the defaults of its settings.

Everything that needs to know a rule's metadata reads it here: routing (:func:`urgent`), the CAP
messages (``alerts.formats.oasis_cap``), the engine's built-in inhibition and the config's list of
rule ids. Pure data; imports only ``alerts.model``. Must not import httpx, faust, aiokafka or
``streams``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from alerts.model import AlertEvent, Severity

__all__ = [
    "ALWAYS_THROUGH",
    "CATALOGUE",
    "INHIBITIONS",
    "RULE_IDS",
    "URGENT_LABEL",
    "RuleInfo",
    "rule_info",
    "rule_name",
    "urgent",
]


@dataclass(frozen=True, slots=True)
class RuleInfo:
    rule_id: str
    #: The short Dutch name people see on the status page (the id goes in a tooltip).
    name: str
    #: The CAP event name: what the alert is about, in Dutch.
    title: str
    #: The CAP category (Infra, Safety, Other).
    cap_category: str
    #: What the alert's ``value`` counts, in Dutch.
    measures: str
    #: People are outside, or about to be, or above a legal maximum: act now. Messages go through
    #: quiet hours, SMS budgets and grouping; the CAP urgency is Immediate.
    always_through: bool = False
    #: Forecasts rather than measures (the CAP certainty is Likely while it fires).
    forecast: bool = False
    #: Built-in inhibition: while this rule's alert fires for the subject, this one does not change.
    inhibited_by: str | None = None
    #: Defaults of the config's settings for this rule: report days before resolving, and the
    #: rule's own thresholds (``rules.<id>`` in the config overrides them).
    clear_days: int = 1
    params: Mapping[str, float] = field(default_factory=dict)


CATALOGUE: Final[Mapping[str, RuleInfo]] = {
    info.rule_id: info
    for info in (
        RuleInfo(
            "cap_exceeded",
            "Boven de grens",
            "Bezetting boven de afgesproken grens",
            "Infra",
            "Bezetting (personen)",
            always_through=True,
        ),
        RuleInfo(
            "cap_near",
            "Bijna vol",
            "Bezetting dicht bij de grens",
            "Infra",
            "Bezetting (personen)",
            inhibited_by="cap_exceeded",
            params={"ratio": 0.95, "clear_ratio": 0.92, "min_places": 15},
        ),
        RuleInfo(
            "slept_outside",
            "Buiten geslapen",
            "Mensen hebben buiten geslapen",
            "Safety",
            "Buiten geslapen (personen)",
            always_through=True,
            # An explicit all-clear: two reports in a row with nobody outside.
            clear_days=2,
        ),
        RuleInfo(
            "without_bed", "Zonder bed", "Mensen zonder bed", "Safety", "Zonder bed (personen)"
        ),
        RuleInfo(
            "outside_risk",
            "Dreigt buiten slapen",
            "Risico op buiten slapen",
            "Safety",
            "Verwachte aankomsten of mensen zonder bed",
            always_through=True,
            forecast=True,
            inhibited_by="slept_outside",
        ),
        RuleInfo(
            "breach_forecast",
            "Loopt vol",
            "Opvang dreigt vol te raken",
            "Infra",
            "Dagen tot vol (-1: vol, loopt niet verder vol)",
            forecast=True,
            params={"warning_days": 7, "critical_days": 2, "clear_days": 10, "min_places": 15},
        ),
        RuleInfo(
            "region_capacity_low",
            "Weinig vrije plaatsen",
            "Weinig vrije opvangplaatsen in de provincie",
            "Infra",
            "Vrije plaatsen",
            params={"warning_ratio": 0.02, "clear_ratio": 0.03, "min_places": 15},
        ),
        RuleInfo(
            "national_shortage",
            "Landelijk tekort",
            "Landelijk tekort aan opvangplaatsen",
            "Infra",
            "Plaatsen tekort",
        ),
        RuleInfo(
            "spreiding_shortfall",
            "Spreidingsdoel niet gehaald",
            "Spreidingswet-doel niet gehaald",
            "Infra",
            "Gerealiseerde plaatsen",
        ),
        RuleInfo(
            "report_missing",
            "Telling ontbreekt",
            "Bezettingscijfer ontbreekt",
            "Other",
            "Dagen te laat",
            params={"warning_days": 1, "critical_days": 2},
        ),
        RuleInfo(
            "implausible_report",
            "Telling lijkt onjuist",
            "Bezettingscijfer lijkt onjuist",
            "Other",
            "Gemelde bezetting (personen)",
            params={"max_ratio": 1.5, "max_change": 0.5, "min_places": 50},
        ),
        RuleInfo(
            "penalty_accrued",
            "Dwangsom loopt op",
            "Dwangsom loopt op",
            "Other",
            "Opgelopen dwangsom (euro)",
            params={"info_ratio": 0.8},
        ),
    )
}

#: Every rule id, in the catalogue's order (the config accepts settings for these).
RULE_IDS: Final = tuple(CATALOGUE)

#: Rules whose messages go through quiet hours and SMS budgets: people may be sleeping outside.
ALWAYS_THROUGH: Final = frozenset(rule for rule, i in CATALOGUE.items() if i.always_through)

#: Built-in inhibition: while the value's alert fires, the key's alert does not change.
INHIBITIONS: Final[Mapping[str, str]] = {
    rule: i.inhibited_by for rule, i in CATALOGUE.items() if i.inhibited_by is not None
}


def rule_info(rule: str) -> RuleInfo | None:
    """The catalogue entry of ``rule``; None for a rule id it does not know."""
    return CATALOGUE.get(rule)


def rule_name(rule: str) -> str:
    """The Dutch name of ``rule`` for people; the id itself for a rule the catalogue does not
    know."""
    info = CATALOGUE.get(rule)
    return info.name if info is not None else rule


#: The label an SMS bundle (``alerts.delivery.bundle``) carries when a member always goes through.
URGENT_LABEL: Final = "opvangwacht_urgent"


def urgent(event: AlertEvent) -> bool:
    """Critical, or a rule that always goes through (or an SMS bundle with such a member): never
    held by quiet hours, budgets or grouping."""
    return (
        event.rule in ALWAYS_THROUGH
        or event.severity is Severity.CRITICAL
        or event.labels.get(URGENT_LABEL) == "true"
    )
