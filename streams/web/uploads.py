"""Reports sent over HTTP, from a spreadsheet (CSV) or JSON, to the exact records the topics
carry: rows in, per row either the records to write or why not.

**Rows.** A CSV file has a header row with the contract's field names (:data:`COLUMNS`); `;`,
`,` and tab separate, a UTF-8 byte order mark (Excel's "CSV UTF-8") is dropped, and a file that is
not UTF-8 is read as Windows-1252 (Excel's other CSV). A JSON body is one object or a list of
objects with the same fields. Row numbers are what the sender sees: the line in the spreadsheet
(the header is line 1), or the position in the JSON list counted from 1.

**Reports.** A row with an ``occupancy`` is an occupancy report; a row with any of ``arrivals``,
``transfers_out``, ``departures``, ``unplaced`` is an intake report; a row with both is both. Each
is checked by the same decoder as the topic (``streams.records``), with the time of the request as
the message's timestamp, and written as the decoder read it.

**event_id.** The sender's, or derived from the report's content (:func:`derived_event_id`): the
same figures for the same location and day give the same id, so sending a file again changes
nothing (the worker recognises a repeated event_id). When one row holds both kinds, a given
event_id gets ``:occupancy`` and ``:intake`` appended.

Pure: no network, clock or state; the caller passes the time and decides on scope.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

import orjson

from alerts.errors import InvalidReport
from alerts.model import IntakeReport, OccupancyReport
from streams.records import MAX_COUNT, encode, intake_to_domain, occupancy_to_domain
from streams.wire import load_json

__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "MAX_UPLOAD_BYTES",
    "Accepted",
    "Refused",
    "Row",
    "UploadError",
    "csv_rows",
    "decode_row",
    "derived_event_id",
    "json_rows",
    "scope_refusal",
]

#: The largest body ``POST /api/reports`` reads: a year of daily counts for ten locations.
MAX_UPLOAD_BYTES: Final = 1024 * 1024
#: The most rows one request may hold.
MAX_ROWS: Final = 5000

Kind = Literal["occupancy", "intake"]

OCCUPANCY_FIELDS: Final = ("occupancy", "capacity", "without_bed", "slept_outside", "reported_at")
INTAKE_FIELDS: Final = ("arrivals", "transfers_out", "departures", "unplaced")
#: The CSV header a spreadsheet export of the contract's fields has, in this order.
COLUMNS: Final = ("location_id", "date", *OCCUPANCY_FIELDS, *INTAKE_FIELDS, "event_id")
_COUNTS: Final = frozenset({*OCCUPANCY_FIELDS, *INTAKE_FIELDS} - {"reported_at"})
_WHOLE = re.compile(r"-?[0-9]{1,12}")
_DUTCH_DATE = re.compile(r"([0-9]{1,2})-([0-9]{1,2})-([0-9]{4})")


class UploadError(Exception):
    """A body that holds no rows to judge: ``reason`` for machines, ``melding`` in Dutch."""

    def __init__(self, reason: str, detail: str, melding: str) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.melding = reason, detail, melding


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One row as sent: its number and its fields (absent when the cell was empty)."""

    number: int
    fields: Mapping[str, Any]
    #: Why the row cannot be read at all (a CSV row with more cells than the header).
    broken: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Accepted:
    """A report to write: its topic (without prefix), key and value."""

    row: int
    kind: Kind
    location_id: str
    date: str
    event_id: str
    value: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "kind": self.kind,
            "location_id": self.location_id,
            "date": self.date,
            "event_id": self.event_id,
            "accepted": True,
            "status": 202,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """A row (or one report of it) that is not written, and why."""

    row: int
    kind: Kind | None
    location_id: str | None
    reason: str
    field: str | None
    detail: str
    melding: str
    status: int = 400

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "kind": self.kind,
            "location_id": self.location_id,
            "accepted": False,
            "status": self.status,
            "reason": self.reason,
            "field": self.field,
            "detail": self.detail,
            "melding": self.melding,
        }


# ---------------------------------------------------------------------------- reading rows


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise UploadError(
            "encoding",
            "the file is neither UTF-8 nor Windows-1252 text",
            "Het bestand is geen tekst: sla het in Excel op als 'CSV UTF-8'.",
        ) from None


def _separator(header: str) -> str:
    return max((";", ",", "\t"), key=header.count)


def _cell(name: str, value: str) -> Any:
    """A CSV cell as the JSON value the decoder expects: whole numbers as numbers, dates written
    the Dutch way (1-3-2024) as ISO dates; anything else as text, for the decoder to judge."""
    value = value.strip()
    if name in _COUNTS and _WHOLE.fullmatch(value):
        return int(value)
    if name == "date" and (found := _DUTCH_DATE.fullmatch(value)):
        day, month, year = (int(part) for part in found.groups())
        return f"{year:04d}-{month:02d}-{day:02d}"
    return value


def csv_rows(raw: bytes) -> list[Row]:
    """The rows of a CSV file, blank ones left out; :class:`UploadError` when there is no
    header, an unknown column, or more than :data:`MAX_ROWS` rows."""
    text = _text(raw)
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise UploadError(
            "no_header",
            f"the first line must be the header: {';'.join(COLUMNS)}",
            "De eerste regel moet de kolomnamen bevatten, bijvoorbeeld location_id;date;occupancy.",
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(first), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
        _check_header(header)
        rows: list[Row] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise _too_many()
            rows.append(_csv_row(reader.line_num, header, cells))
    except csv.Error as exc:
        raise UploadError(
            "csv",
            f"line {reader.line_num}: {exc}",
            f"Regel {reader.line_num} is geen geldige CSV ({exc}).",
        ) from None
    return rows


def _check_header(header: list[str]) -> None:
    known = set(COLUMNS)
    for name in header:
        if name and not name.startswith("#") and name not in known:
            raise UploadError(
                "unknown_column",
                f"unknown column {name[:40]!r}; known: {', '.join(COLUMNS)}",
                f"Onbekende kolom '{name[:40]}'. Bekende kolommen: {', '.join(COLUMNS)} "
                "(een kolom die met # begint wordt overgeslagen).",
            )
    if len(set(header) & known) != len([n for n in header if n in known]):
        raise UploadError(
            "duplicate_column", "a column appears twice", "Een kolom staat er twee keer in."
        )
    for needed in ("location_id", "date"):
        if needed not in header:
            raise UploadError(
                "missing_column",
                f"the header has no column {needed!r}",
                f"De kolom '{needed}' ontbreekt in de eerste regel.",
            )


def _csv_row(line: int, header: list[str], cells: list[str]) -> Row:
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        return Row(line, {}, broken=f"{len(cells)} cells for {len(header)} columns")
    fields = {
        name: _cell(name, value)
        for name, value in zip(header, cells, strict=False)
        if name in COLUMNS and value.strip()
    }
    return Row(line, fields)


def _too_many() -> UploadError:
    return UploadError(
        "too_many_rows",
        f"at most {MAX_ROWS} rows per request",
        f"Te veel regels: stuur er hoogstens {MAX_ROWS} per keer.",
    )


def json_rows(raw: bytes) -> list[Row]:
    """The rows of a JSON body: one object, or a list of them (read by the topic's JSON reader,
    with its limits); a list item that is not an object is a broken row."""
    try:
        value = load_json(raw)
    except InvalidReport as exc:
        raise UploadError(exc.reason, exc.detail, "De inhoud is geen geldige JSON.") from None
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_ROWS:
        raise _too_many()
    return [
        Row(n, item) if isinstance(item, dict) else Row(n, {}, broken="not a JSON object")
        for n, item in enumerate(items, start=1)
    ]


# ---------------------------------------------------------------------------- judging a row


def derived_event_id(report: OccupancyReport | IntakeReport) -> str:
    """An event_id made from the report's content (every field but event_id), the same for the
    same content however it was written (``2000`` or ``2000.0``, a BOM, spaces)."""
    kind = "occupancy" if isinstance(report, OccupancyReport) else "intake"
    content = {**_record(report), "event_id": None, "kind": kind}
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"http-{kind}-{report.location_id}-{report.date.isoformat()}-{digest[:16]}"


def _record(report: OccupancyReport | IntakeReport) -> dict[str, Any]:
    """The contract record of a decoded report, as it is written to the topic."""
    record: dict[str, Any] = {
        f.name: getattr(report, f.name)
        for f in dataclasses.fields(report)
        if getattr(report, f.name) is not None
    }
    record["date"] = report.date.isoformat()
    if isinstance(report, OccupancyReport) and report.reported_at is not None:
        record["reported_at"] = report.reported_at.isoformat()
    return record


def decode_row(row: Row, *, timestamp: float) -> list[Accepted | Refused]:
    """What becomes of one row: a report of each kind it holds, or why not. ``timestamp``: the
    request's time (seconds), for the decoder's check of how far ahead the date lies."""
    location = row.fields.get("location_id")
    location_id = location if isinstance(location, str) else None
    if row.broken is not None:
        return [_refusal(row, None, location_id, InvalidReport("schema", row.broken))]
    kinds: list[Kind] = []
    if row.fields.get("occupancy") is not None:
        kinds.append("occupancy")
    if any(row.fields.get(name) is not None for name in INTAKE_FIELDS):
        kinds.append("intake")
    if not kinds:
        return [
            Refused(
                row.number, None, location_id, "no_figures", None,
                "the row has no occupancy and no intake figures",
                "Geen cijfers: vul occupancy (bezetting) of arrivals/departures (instroom) in.",
            )
        ]  # fmt: skip
    return [_decode(row, kind, location_id, timestamp, both=len(kinds) == 2) for kind in kinds]


def _decode(
    row: Row, kind: Kind, location_id: str | None, timestamp: float, *, both: bool
) -> Accepted | Refused:
    own = OCCUPANCY_FIELDS if kind == "occupancy" else INTAKE_FIELDS
    fields = {k: v for k, v in row.fields.items() if k in ("location_id", "date", *own)}
    given = row.fields.get("event_id")
    if isinstance(given, str) and given and both:
        given = f"{given}:{kind}"
    fields["event_id"] = given if given is not None else "-"
    decoder = occupancy_to_domain if kind == "occupancy" else intake_to_domain
    try:
        report: OccupancyReport | IntakeReport = decoder(encode(fields), timestamp=timestamp)
    except InvalidReport as exc:
        return _refusal(row, kind, location_id, exc)
    if given is None:
        report = dataclasses.replace(report, event_id=derived_event_id(report))
    return Accepted(
        row.number,
        kind,
        report.location_id,
        report.date.isoformat(),
        report.event_id,
        encode(_record(report)),
    )


# ---------------------------------------------------------------------------- reasons in Dutch

_FIELD = re.compile(r"'([a-z_]+)'")


def _refusal(row: Row, kind: Kind | None, location_id: str | None, exc: InvalidReport) -> Refused:
    found = _FIELD.match(exc.detail)
    field = found.group(1) if found else None
    return Refused(
        row.number, kind, location_id, exc.reason, field, exc.detail, _dutch(field, exc.detail)
    )


def _dutch(field: str | None, detail: str) -> str:
    """The decoder's reason for a person at a reception location."""
    if field is None:
        if "cells for" in detail:
            return "Meer cellen dan kolommen: staat er een ; of , te veel in de regel?"
        return "Deze regel is geen geldige melding."
    column = f"Kolom {field}"
    if field == "date":
        if "before" in detail:
            return f"{column}: de datum ligt vóór 2000."
        if "days after" in detail:
            return f"{column}: de datum ligt te ver in de toekomst."
        if "required" in detail or detail.endswith("got None"):
            return f"{column}: de datum ontbreekt."
        return f"{column}: geen geldige datum (schrijf 2024-03-01 of 1-3-2024)."
    if field == "location_id":
        if "required" in detail:
            return f"{column}: de locatie ontbreekt."
        return f"{column}: alleen kleine letters, cijfers en streepjes (zoals ter-apel)."
    if field == "reported_at":
        return f"{column}: geen geldige tijd (schrijf 2024-03-01T08:00:00+01:00)."
    if "required" in detail:
        return f"{column}: dit veld ontbreekt."
    if "negative" in detail:
        return f"{column}: mag niet negatief zijn."
    if "more than" in detail:
        return f"{column}: groter dan {MAX_COUNT:,}".replace(",", ".") + " kan niet."
    if "whole number" in detail:
        return f"{column}: moet een heel getal zijn (zonder punt, komma of spatie)."
    if "characters long" in detail:
        return f"{column}: te lang."
    return f"{column}: ongeldige waarde."


def scope_refusal(row: int, kind: Kind, location_id: str, *, known: bool) -> Refused:
    """The refusal of a report for a location the source may not report for, or one the
    worker does not know."""
    if not known:
        return Refused(
            row, kind, location_id, "unknown_location", "location_id",
            f"no location {location_id!r} is loaded",
            f"Kolom location_id: locatie '{location_id}' is niet bekend.",
            status=404,
        )  # fmt: skip
    return Refused(
        row, kind, location_id, "forbidden", "location_id",
        f"this token may not report for {location_id!r}",
        f"Kolom location_id: dit token mag niet melden voor '{location_id}'.",
        status=403,
    )  # fmt: skip
