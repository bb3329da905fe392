"""Domain values: locations, the two daily reports, subjects and alert events.

Plain frozen dataclasses, built by the Kafka edge from wire records (``streams.records``) and by
tests directly. Nothing here does I/O.

Imports nothing from ``alerts`` but ``alerts.frozen``; must not import httpx, faust, aiokafka
or ``streams``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from alerts.frozen import quick_init

__all__ = [
    "LOCATION_KINDS",
    "NATIONAL",
    "PROVINCES",
    "PROVINCE_NAMES",
    "AlertEvent",
    "AlertStatus",
    "IntakeReport",
    "Location",
    "OccupancyReport",
    "Severity",
    "Subject",
    "SubjectKind",
]

#: Province codes as used in the contract, north to south.
PROVINCES: Final = ("GR", "FR", "DR", "OV", "FL", "GL", "UT", "NH", "ZH", "ZE", "NB", "LB")

PROVINCE_NAMES: Final = {
    "GR": "Groningen",
    "FR": "Friesland",  # GSM-7 has no â: texts must fit an SMS
    "DR": "Drenthe",
    "OV": "Overijssel",
    "FL": "Flevoland",
    "GL": "Gelderland",
    "UT": "Utrecht",
    "NH": "Noord-Holland",
    "ZH": "Zuid-Holland",
    "ZE": "Zeeland",
    "NB": "Noord-Brabant",
    "LB": "Limburg",
}

LOCATION_KINDS: Final = (
    "registration_centre",
    "regular",
    "emergency",
    "crisis",
    "night_shelter",
    "waiting_room",
    "ukrainian",
)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK: Final = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class SubjectKind(StrEnum):
    LOCATION = "location"
    PROVINCE = "province"
    NATIONAL = "national"


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert is about: one location, one province, or the whole country (``NL``)."""

    kind: SubjectKind
    id: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "id": self.id}


NATIONAL: Final = Subject(SubjectKind.NATIONAL, "NL")


@dataclass(frozen=True, slots=True)
class Location:
    """A reception location as published on the locations topic."""

    location_id: str
    name: str
    kind: str
    municipality_code: str
    province: str
    capacity: int
    cap: int | None = None
    cap_source: str | None = None
    active: bool = True

    @property
    def subject(self) -> Subject:
        return _location_subject(self.location_id)

    @property
    def is_asylum(self) -> bool:
        """Ukrainian reception is counted apart from the asylum totals."""
        return self.kind != "ukrainian"


@functools.lru_cache(maxsize=4096)
def _location_subject(location_id: str) -> Subject:
    # Every rule's finding names its subject: one value per location instead of one per finding.
    return Subject(SubjectKind.LOCATION, location_id)


@quick_init
@dataclass(frozen=True, slots=True)
class OccupancyReport:
    """The morning count at one location for the night before ``date``."""

    event_id: str
    location_id: str
    date: dt.date
    occupancy: int
    capacity: int | None = None
    without_bed: int = 0
    slept_outside: int = 0
    reported_at: dt.datetime | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class IntakeReport:
    """One day's flow of people at one location."""

    event_id: str
    location_id: str
    date: dt.date
    arrivals: int = 0
    transfers_out: int = 0
    departures: int = 0
    unplaced: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One state change of one alert, as published on the alerts topic.

    ``alert_id`` is stable for a rule and subject; ``revision`` counts its changes, so the pair
    identifies this exact change (receivers deduplicate on it).
    """

    alert_id: str
    rule: str
    status: AlertStatus
    severity: Severity
    subject: Subject
    province: str | None
    municipality_code: str | None
    value: float
    threshold: float
    summary: str
    starts_at: str
    ends_at: str | None
    event_date: dt.date
    revision: int
    headroom: float | None = None
    cap_source: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"{self.alert_id}:{self.revision}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "status": self.status.value,
            "severity": self.severity.value,
            "subject": self.subject.to_dict(),
            "province": self.province,
            "municipality_code": self.municipality_code,
            "value": self.value,
            "threshold": self.threshold,
            "headroom": self.headroom,
            "cap_source": self.cap_source,
            "summary": self.summary,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "event_date": self.event_date.isoformat(),
            "revision": self.revision,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        subject = data["subject"]
        return cls(
            alert_id=data["alert_id"],
            rule=data["rule"],
            status=AlertStatus(data["status"]),
            severity=Severity(data["severity"]),
            subject=Subject(SubjectKind(subject["kind"]), subject["id"]),
            province=data.get("province"),
            municipality_code=data.get("municipality_code"),
            value=data["value"],
            threshold=data["threshold"],
            summary=data["summary"],
            starts_at=data["starts_at"],
            ends_at=data.get("ends_at"),
            event_date=dt.date.fromisoformat(data["event_date"]),
            revision=int(data["revision"]),
            headroom=data.get("headroom"),
            cap_source=data.get("cap_source"),
            labels=dict(data.get("labels") or {}),
        )
