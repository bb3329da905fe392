"""Logging: structlog everywhere, JSON lines when not on a terminal, readable console on one.

Standard-library loggers (Faust, aiokafka, mode) go through the same processor chain, so a log
shipper sees one format. aiokafka's warnings about a partition that has no leader *yet* (a topic
just created, a leader moving), which it retries by itself, are lowered to debug
(``TransientKafkaNoise``): a user replaying into a new prefix should not read them as trouble.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = [
    "TransientKafkaNoise",
    "configure_logging",
    "handling_report",
    "logging_dict_config",
    "merge_report",
    "report_done",
]

#: The report being handled: (event_id, location_id), or None between reports.
_REPORT: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "opvang_report", default=None
)


def handling_report(event_id: str, location_id: str) -> contextvars.Token[tuple[str, str] | None]:
    """Every line logged from here until :func:`report_done` names this report. One variable
    set per report: structlog's ``bind_contextvars`` costs a variable and a token per field, and
    the report agent does this for every report (issue 12)."""
    return _REPORT.set((event_id, location_id))


def report_done(token: contextvars.Token[tuple[str, str] | None]) -> None:
    """Lines logged after this no longer name the report (the next record's lines must not)."""
    _REPORT.reset(token)


def merge_report(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """The processor that adds the report being handled (``event_id``, ``location_id``) to a line,
    unless the line names its own."""
    report = _REPORT.get()
    if report is not None:
        event.setdefault("event_id", report[0])
        event.setdefault("location_id", report[1])
    return event


#: What aiokafka logs, at warning or error, while a partition is still getting its leader: it
#: retries or waits for the metadata by itself, and a real failure still ends in an exception.
_TRANSIENT = re.compile(
    r"retrying\. Error: .*(NotLeaderForPartition|LeaderNotAvailable|UnknownTopicOrPartition)"
    r"|is not available during auto-create initialization"
    r"|^Topic \S+ not found in cluster metadata$"
)


class TransientKafkaNoise(logging.Filter):
    """Lowers aiokafka's self-healing leader warnings to debug; shows them only when the
    handler's ``level`` lets debug through. Every other record passes unchanged."""

    def __init__(self, level: str | int = "INFO") -> None:
        super().__init__()
        self.level = logging.getLevelName(level) if isinstance(level, str) else level

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.levelno <= logging.DEBUG:
            return True
        if not _TRANSIENT.search(record.getMessage()):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return bool(self.level <= logging.DEBUG)


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        merge_report,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def logging_dict_config(level: str = "INFO", *, json_logs: bool | None = None) -> dict[str, Any]:
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
                "foreign_pre_chain": _shared_processors(),
            }
        },
        "filters": {"transient_kafka": {"()": TransientKafkaNoise, "level": level}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
                "filters": ["transient_kafka"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "aiokafka": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
            "faust": {"level": level},
            "mode": {"level": level},
        },
    }


def configure_logging(level: str = "INFO", *, json_logs: bool | None = None) -> None:
    logging.config.dictConfig(logging_dict_config(level, json_logs=json_logs))
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
