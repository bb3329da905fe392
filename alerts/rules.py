"""Rules: each looks at one subject on one event date and returns a Finding (or None when it has
nothing to say, e.g. a location without a cap). Thresholds come from :mod:`alerts.config`."""

from __future__ import annotations

from alerts.capacity import LocationState
from alerts.config import RuleSettings
from alerts.lifecycle import Finding
from alerts.model import Location, Severity
from alerts.render import cap_exceeded_summary

__all__ = ["cap_exceeded"]


def cap_exceeded(
    location: Location, state: LocationState, settings: RuleSettings
) -> Finding | None:
    """Occupancy above the agreed or legal maximum (Ter Apel: 2,000). Clears at or below the cap."""
    if location.cap is None or state.latest_date is None:
        return None
    breached = state.occupancy > location.cap
    return Finding(
        rule="cap_exceeded",
        subject=location.subject,
        breached=breached,
        cleared=state.occupancy <= location.cap,
        severity=Severity.CRITICAL,
        value=state.occupancy,
        threshold=location.cap,
        headroom=location.cap - state.occupancy,
        summary=cap_exceeded_summary(location.name, state.occupancy, location.cap, firing=breached),
        province=location.province,
        municipality_code=location.municipality_code,
        cap_source=location.cap_source,
    )
