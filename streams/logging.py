"""Logging: structlog everywhere, JSON lines when not on a terminal, readable console on one.

Standard-library loggers (Faust, aiokafka, mode) go through the same processor chain, so a log
shipper sees one format.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import structlog

__all__ = ["configure_logging", "logging_dict_config"]


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
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
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
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
