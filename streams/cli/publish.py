"""Publishing reference data and scenarios to the input topics (load-locations, replay, demo).

A scenario is a JSONL or CSV file of input records, each with a ``type`` (``location``,
``occupancy`` or ``intake``) and the record's own fields. Records are published in date order
(locations first), keyed by ``location_id``, and every send is acknowledged by the broker before
the command reports success.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, TextIO

from aiokafka import AIOKafkaProducer

from streams.records import encode
from streams.settings import Settings

__all__ = [
    "BUNDLED_SCENARIOS",
    "InputFileError",
    "InputRecord",
    "Progress",
    "bundled_path",
    "load_locations_file",
    "publish",
    "read_scenario",
    "resolve_scenario",
]

_TOPIC_OF: Final = {"location": "locations", "occupancy": "occupancy", "intake": "intake"}
_INT_FIELDS: Final = {
    "occupancy",
    "capacity",
    "without_bed",
    "slept_outside",
    "arrivals",
    "transfers_out",
    "departures",
    "unplaced",
    "cap",
}


def bundled_path(*parts: str) -> Path:
    return Path(str(resources.files("streams").joinpath("data", *parts)))


BUNDLED_SCENARIOS: Final = ("ter-apel-demo", "ter-apel-2022-08", "shortage-2026")


class InputFileError(ValueError):
    """A scenario or locations file that cannot be read: the message names the file and line
    (the command line prints it as one line, exit code 2)."""


def resolve_scenario(name_or_path: str) -> Path:
    """A path, or the name of a bundled scenario (``ter-apel-demo``)."""
    path = Path(name_or_path)
    if path.is_dir():
        raise InputFileError(f"{path} is a directory: give a scenario file (.jsonl or .csv)")
    if path.exists():
        return path
    for suffix in (".jsonl", ".csv"):
        candidate = bundled_path("scenarios", name_or_path + suffix)
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"{name_or_path}: no such file, and no bundled scenario of that name "
        f"(bundled: {', '.join(BUNDLED_SCENARIOS)})"
    )


@dataclass(frozen=True, slots=True)
class InputRecord:
    topic: str  # without prefix: locations, occupancy, intake
    key: str
    value: dict[str, Any]

    @property
    def sort_key(self) -> tuple[int, str, int]:
        order = {"locations": 0, "occupancy": 1, "intake": 2}[self.topic]
        date = str(self.value.get("date", ""))
        return (0 if self.topic == "locations" else 1, date, order)


def _record(raw: dict[str, Any], where: str) -> InputRecord:
    kind = raw.pop("type", None)
    if kind not in _TOPIC_OF:
        raise InputFileError(f"{where}: 'type' must be one of {', '.join(_TOPIC_OF)}, got {kind!r}")
    key = raw.get("location_id")
    if not isinstance(key, str):
        raise InputFileError(f"{where}: 'location_id' is missing")
    return InputRecord(_TOPIC_OF[kind], key, raw)


def _csv_value(name: str, text: str, where: str) -> Any:
    if text == "":
        return None
    if name in _INT_FIELDS:
        try:
            return int(text)
        except ValueError:
            raise InputFileError(
                f"{where}: column {name!r} must be a whole number, got {text[:40]!r}"
            ) from None
    if name == "active":
        return text.strip().lower() in ("1", "true", "yes")
    return text


def read_scenario(path: Path) -> list[InputRecord]:
    """Parse a JSONL or CSV scenario; return its records in publishing order (stable sort)."""
    records: list[InputRecord] = []
    if path.is_dir():
        raise InputFileError(f"{path} is a directory: give a scenario file (.jsonl or .csv)")
    with path.open(encoding="utf-8") as handle:
        if path.suffix == ".csv":
            for number, row in enumerate(csv.DictReader(handle), start=2):
                where = f"{path}:{number}"
                raw = {k: _csv_value(k, v, where) for k, v in row.items() if k and v is not None}
                raw = {k: v for k, v in raw.items() if v is not None}
                records.append(_record(raw, f"{path}:{number}"))
        else:
            for number, line in enumerate(handle, start=1):
                line = line.strip()
                if not line or line.startswith("#") or line.startswith("//"):
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputFileError(f"{path}:{number}: not JSON ({exc.msg})") from None
                if not isinstance(raw, dict):
                    raise InputFileError(f"{path}:{number}: expected a JSON object")
                records.append(_record(raw, f"{path}:{number}"))
    records.sort(key=lambda r: r.sort_key)
    return records


def load_locations_file(path: Path | None = None) -> list[InputRecord]:
    """Locations from a JSON list (default: the bundled reference locations)."""
    path = path or bundled_path("locations.json")
    if path.is_dir():
        raise InputFileError(f"{path} is a directory: give a JSON file with a list of locations")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not UTF-8 text") from None
    items = data.get("locations") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InputFileError(f'{path}: expected a list of locations, or {{"locations": [...]}}')
    records = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("location_id"), str):
            raise InputFileError(f"{path}: location {number} has no 'location_id'")
        records.append(InputRecord("locations", item["location_id"], dict(item)))
    return records


class Progress:
    """A one-line progress bar on a terminal; a line every 10 % elsewhere."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream
        self.done = 0
        self.started = time.monotonic()
        self._tty = stream.isatty()
        self._last_decile = -1

    def advance(self, n: int = 1) -> None:
        self.done += n
        fraction = self.done / self.total
        if self._tty:
            filled = int(fraction * 30)
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
            )
            self.stream.flush()
        elif int(fraction * 10) > self._last_decile:
            self._last_decile = int(fraction * 10)
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")

    def close(self) -> float:
        elapsed = time.monotonic() - self.started
        if self._tty:
            self.stream.write("\n")
        return elapsed


async def publish(
    settings: Settings,
    records: Sequence[InputRecord],
    *,
    days_per_second: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Send records in order; with ``days_per_second`` > 0 pause between report dates.

    Returns how many records went to each topic. Raises if the broker refuses any of them.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.broker_address, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    counts: dict[str, int] = {}
    try:
        pending: list[asyncio.Future[Any]] = []
        last_date: str | None = None
        for record in records:
            date = record.value.get("date")
            if days_per_second > 0 and isinstance(date, str) and date != last_date:
                if last_date is not None:
                    await asyncio.gather(*pending)
                    pending.clear()
                    await asyncio.sleep(1.0 / days_per_second)
                last_date = date
            fut = await producer.send(
                settings.topic(record.topic), value=encode(record.value), key=record.key.encode()
            )
            pending.append(fut)
            counts[record.topic] = counts.get(record.topic, 0) + 1
            if progress is not None:
                progress(1)
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return counts


def summarise(counts: dict[str, int], elapsed: float) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{n} {topic}" for topic, n in sorted(counts.items()))
    rate = total / elapsed if elapsed > 0 else float(total)
    return f"published {total} records ({parts}) in {elapsed:.1f} s, {rate:,.0f}/s"
