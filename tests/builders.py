"""The places and values tests share: one Ter Apel, one way to build a report or an alert.

Imported as ``from builders import ...`` (``tests/`` is on the path through its conftest, as for
``fakes``). The defaults are the values most tests used before they moved here: Ter Apel, the
registration centre in Westerwolde (Groningen), 2,000 places and an agreed cap of 2,000; a report
is about Ter Apel; an alert is Ter Apel's cap exceeded at 2,300 on 1 June 2024. A test whose
meaning depends on a value passes it explicitly, even when it equals the default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from alerts.model import (
    AlertEvent,
    AlertStatus,
    IntakeReport,
    Location,
    OccupancyReport,
    Severity,
    Subject,
    SubjectKind,
)

#: The registration centre: the one location with an agreed cap (2,000) in the reference data.
TER_APEL = Location(
    "ter-apel", "Ter Apel", "registration_centre", "GM1950", "GR", capacity=2000, cap=2000
)
#: A regular location in Noord-Brabant without an agreed cap.
BUDEL = Location("budel", "Budel", "regular", "GM1724", "NB", capacity=1000)

#: Where an alert can be about, by a short name: (subject, province, municipality_code). Routing
#: and dry-run tests match on these; the routing tests draw from all of them.
PLACES: dict[str, tuple[Subject, str | None, str | None]] = {
    "ter-apel": (Subject(SubjectKind.LOCATION, "ter-apel"), "GR", "GM1950"),  # Westerwolde
    "zoutkamp": (Subject(SubjectKind.LOCATION, "zoutkamp"), "GR", "GM1966"),  # Het Hogeland
    "budel": (Subject(SubjectKind.LOCATION, "budel"), "NB", "GM1706"),  # Cranendonck
    "utrecht": (Subject(SubjectKind.LOCATION, "utrecht-joseph"), "UT", "GM0344"),
    "GR": (Subject(SubjectKind.PROVINCE, "GR"), "GR", None),
    "NB": (Subject(SubjectKind.PROVINCE, "NB"), "NB", None),
    "NL": (Subject(SubjectKind.NATIONAL, "NL"), None, None),
}


#: Two registration centres with a cap of 2,000 each, in two provinces, as the locations topic
#: carries them: the worker tests that fire and then act on an alert (acknowledge, silence, page)
#: publish these, so an alert about one and its province never touches the other.
TWO_CAPPED_CENTRES: list[dict[str, Any]] = [
    {
        "location_id": loc,
        "name": name,
        "kind": "registration_centre",
        "municipality_code": code,
        "province": province,
        "capacity": 2000,
        "cap": 2000,
    }
    for loc, name, code, province in (
        ("ter-apel", "Ter Apel", "GM1950", "GR"),
        ("budel", "Budel", "GM1706", "NB"),
    )
]


def a_location(**overrides: Any) -> Location:
    """Ter Apel with ``overrides``; ``cap=None`` for a location without an agreed cap."""
    return dataclasses.replace(TER_APEL, **overrides)


def an_occupancy_report(
    date: dt.date,
    occupancy: int,
    *,
    event_id: str | None = None,
    location_id: str = TER_APEL.location_id,
    **extra: Any,
) -> OccupancyReport:
    """The morning count ``occupancy`` for ``date``; ``event_id`` defaults to ``occ-<date>``.

    ``extra``: the other fields of ``OccupancyReport`` (``capacity``, ``without_bed``...)."""
    event = f"occ-{date}" if event_id is None else event_id
    return OccupancyReport(event, location_id, date, occupancy, **extra)


def an_intake_report(
    date: dt.date,
    *,
    event_id: str | None = None,
    location_id: str = TER_APEL.location_id,
    **extra: Any,
) -> IntakeReport:
    """A day's flow for ``date`` (all zero unless given); ``event_id`` defaults to ``in-<date>``.

    ``extra``: ``arrivals``, ``transfers_out``, ``departures``, ``unplaced``."""
    event = f"in-{date}" if event_id is None else event_id
    return IntakeReport(event, location_id, date, **extra)


def an_alert(**overrides: Any) -> AlertEvent:
    """Ter Apel's cap exceeded, first revision, firing, with ``overrides`` (any field)."""
    fields: dict[str, Any] = {
        "alert_id": "cap_exceeded-ter-apel-x",
        "rule": "cap_exceeded",
        "status": AlertStatus.FIRING,
        "severity": Severity.CRITICAL,
        "subject": Subject(SubjectKind.LOCATION, TER_APEL.location_id),
        "province": TER_APEL.province,
        "municipality_code": TER_APEL.municipality_code,
        "value": 2300,
        "threshold": 2000,
        "summary": "Ter Apel: 2.300 personen, 300 boven de afgesproken grens van 2.000",
        "starts_at": "2024-06-01T09:00:00+02:00",
        "ends_at": None,
        "event_date": dt.date(2024, 6, 1),
        "revision": 1,
    }
    return AlertEvent(**{**fields, **overrides})
