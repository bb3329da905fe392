"""Errors raised by the decision core.

The tree::

    OpvangError
    ├── InvalidReport        a report or location that breaks the wire contract (-> dead letter)
    └── ConfigError          an alerting configuration that cannot be used

Each error carries what the caller decides on: ``InvalidReport.reason`` is the machine code written
to the dead-letter topic, ``detail`` the sentence for the person reading it.

Imports nothing from ``alerts``; must not import httpx, faust, aiokafka or ``streams``.
"""

from __future__ import annotations

__all__ = ["ConfigError", "InvalidReport", "OpvangError"]


class OpvangError(Exception):
    """Root of every error opvangwacht raises on purpose."""


class InvalidReport(OpvangError):
    """Input that cannot be accepted. ``reason`` is one of the dead-letter reason codes."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigError(OpvangError):
    """The alerting configuration is unusable; the message says which key and why."""
