"""The report being handled names itself on every line the worker logs meanwhile, through the
worker's own logging setup (``streams.logging``): structlog lines and standard-library lines
(Faust, aiokafka) alike, and no line after it is done."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
import structlog

from streams.logging import configure_logging, handling_report, logging_dict_config, report_done


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The JSON lines the CLI's setup writes; the root logger and structlog put back after."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    saved_structlog = structlog.get_config()
    configure_logging("INFO", json_logs=True)
    config = logging_dict_config("INFO", json_logs=True)
    config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    yield stream
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    structlog.configure(**saved_structlog)


def _read(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_while_a_report_is_handled_name_it_and_none_after(lines: io.StringIO) -> None:
    log = structlog.get_logger("streams.test")
    token = handling_report("ter-apel:2022-08-19:occ", "ter-apel")
    try:
        log.info("from our code")
        logging.getLogger("faust.test").warning("from a library")
        log.info("names its own", location_id="zoutkamp")
    finally:
        report_done(token)
    log.info("after")
    ours, library, own, after = _read(lines)
    for line in (ours, library):
        assert (line["event_id"], line["location_id"]) == ("ter-apel:2022-08-19:occ", "ter-apel")
    assert own["location_id"] == "zoutkamp"
    assert "event_id" not in after and "location_id" not in after
