"""opvangwacht's decision core.

Everything under ``alerts`` (except ``alerts.notify``) is pure: it models locations, reports,
capacity and alerts, and decides what changes. It reads no clock, no environment and no network,
and never imports faust, aiokafka, httpx or ``streams``: event time always comes in as an argument.
``alerts.notify`` is the one exception, the edge that talks to receivers over httpx.
"""

from alerts.errors import ConfigError, InvalidReport, OpvangError
from alerts.model import (
    AlertEvent,
    IntakeReport,
    Location,
    OccupancyReport,
    Severity,
    Subject,
)

__all__ = [
    "AlertEvent",
    "ConfigError",
    "IntakeReport",
    "InvalidReport",
    "Location",
    "OccupancyReport",
    "OpvangError",
    "Severity",
    "Subject",
]
