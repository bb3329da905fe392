"""Reports sent over HTTP (streams.web.uploads): spreadsheet rows and JSON to the topics' records,
per row what is accepted and why not. Pure: no worker, no broker."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.records import intake_to_domain, occupancy_to_domain
from streams.web.uploads import (
    COLUMNS,
    MAX_ROWS,
    Accepted,
    Refused,
    Row,
    UploadError,
    csv_rows,
    decode_row,
    derived_event_id,
    json_rows,
    scope_refusal,
)

REPO = Path(__file__).resolve().parents[2]
#: Noon on 3 March 2024: a report dated 2024-03-05 is the last one not too far ahead.
NOW = dt.datetime(2024, 3, 3, 12, tzinfo=dt.UTC).timestamp()


def outcomes(raw: bytes, *, csv: bool = True) -> list[Accepted | Refused]:
    rows = csv_rows(raw) if csv else json_rows(raw)
    return [o for row in rows for o in decode_row(row, timestamp=NOW)]


def test_the_example_file_in_the_docs_is_accepted_whole() -> None:
    found = outcomes((REPO / "deploy" / "examples" / "meldingen.csv").read_bytes())
    assert found and all(isinstance(o, Accepted) for o in found)
    kinds = {(o.kind, o.location_id) for o in found if isinstance(o, Accepted)}
    assert ("occupancy", "ter-apel") in kinds and ("intake", "ter-apel") in kinds


@pytest.mark.parametrize(
    "raw",
    [
        b"location_id;date;occupancy\nter-apel;2024-03-02;2053\n",
        b"location_id,date,occupancy\nter-apel,2024-03-02,2053\n",
        b"location_id\tdate\toccupancy\nter-apel\t2024-03-02\t2053\n",
        "\ufefflocation_id;date;occupancy\r\nter-apel;2-3-2024;2053\r\n".encode(),
        b"Location_ID ; Date ; Occupancy\nter-apel ; 2024-03-02 ; 2053 \n;;\n",
        # Excel's other CSV: Windows-1252, here with an e-acute in an ignored column.
        "#opmerking;location_id;date;occupancy\ncaf\xe9;ter-apel;2024-03-02;2053\n".encode(
            "cp1252"
        ),
    ],
    ids=["semicolon", "comma", "tab", "bom-crlf-dutch-date", "spaces-blank-row", "cp1252"],
)
def test_what_spreadsheets_write_reads_as_the_same_report(raw: bytes) -> None:
    (found,) = outcomes(raw)
    assert isinstance(found, Accepted), found
    record = json.loads(found.value)
    assert record["location_id"] == "ter-apel" and record["date"] == "2024-03-02"
    assert record["occupancy"] == 2053
    # The same bytes on the topic read back with the topic's own decoder.
    assert occupancy_to_domain(found.value, timestamp=NOW).occupancy == 2053
    # And the same content gives the same event_id, however it was written.
    assert (
        found.event_id
        == outcomes(b"location_id;date;occupancy\nter-apel;2024-03-02;2053\n")[0].event_id
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("cells", "reason", "field", "dutch"),
    [
        ("ter-apel;2024-03-02;-5", "out_of_range", "occupancy", "niet negatief"),
        ("ter-apel;2024-03-02;12,5", "schema", "occupancy", "heel getal"),
        ("ter-apel;2024-03-02;1.500", "schema", "occupancy", "heel getal"),
        ("ter-apel;2024-03-02;2000000", "out_of_range", "occupancy", "groter dan 1.000.000"),
        ("ter-apel;morgen;5", "schema", "date", "geen geldige datum"),
        ("ter-apel;31-2-2024;5", "schema", "date", "geen geldige datum"),
        ("ter-apel;2024-03-09;5", "out_of_range", "date", "te ver in de toekomst"),
        ("ter-apel;1999-12-31;5", "out_of_range", "date", "vóór 2000"),
        ("Ter Apel;2024-03-02;5", "schema", "location_id", "kleine letters"),
        (";2024-03-02;5", "schema", "location_id", "ontbreekt"),
        ("ter-apel;;5", "schema", "date", "ontbreekt"),
        ("ter-apel;2024-03-02;", "no_figures", None, "Geen cijfers"),
        ("ter-apel;2024-03-02;5;6", "schema", None, "Meer cellen dan kolommen"),
    ],
)
def test_a_bad_row_is_refused_with_its_line_field_and_a_dutch_reason(
    cells: str, reason: str, field: str | None, dutch: str
) -> None:
    raw = f"location_id;date;occupancy\nter-apel;2024-03-01;100\n{cells}\n".encode()
    good, bad = outcomes(raw)
    assert isinstance(good, Accepted) and isinstance(bad, Refused)
    assert (bad.row, bad.reason, bad.field, bad.status) == (3, reason, field, 400)
    assert dutch in bad.melding
    assert bad.to_dict()["accepted"] is False and bad.to_dict()["melding"] == bad.melding


def test_a_row_with_both_kinds_is_two_reports_and_a_given_id_gets_a_suffix() -> None:
    raw = (
        b"location_id;date;occupancy;arrivals;departures;event_id\n"
        b"ter-apel;2024-03-02;2053;120;;\n"
        b"ter-apel;2024-03-03;2060;80;10;ochtend-3\n"
        b"ter-apel;2024-03-03;;5;;instroom-3\n"
    )
    found = outcomes(raw)
    assert [(o.row, o.kind) for o in found] == [
        (2, "occupancy"), (2, "intake"), (3, "occupancy"), (3, "intake"), (4, "intake"),
    ]  # fmt: skip
    ids = [o.event_id for o in found if isinstance(o, Accepted)]
    assert ids[2:] == ["ochtend-3:occupancy", "ochtend-3:intake", "instroom-3"]
    intake = intake_to_domain(found[1].value, timestamp=NOW)  # type: ignore[union-attr]
    assert (intake.arrivals, intake.departures) == (120, 0)


def test_the_derived_event_id_follows_the_content() -> None:
    def one(cells: str) -> str:
        (found,) = outcomes(f"location_id;date;occupancy;slept_outside\n{cells}\n".encode())
        assert isinstance(found, Accepted)
        return found.event_id

    first = one("ter-apel;2024-03-02;2053;0")
    assert first == one("ter-apel;2024-03-02;2053;")  # 0 is the default
    assert first.startswith("http-occupancy-ter-apel-2024-03-02-")
    assert first != one("ter-apel;2024-03-02;2054;0")  # a corrected figure is a new report
    assert first != one("ter-apel;2024-03-03;2053;0")
    occupancy = occupancy_to_domain(
        b'{"event_id":"x","location_id":"ter-apel","date":"2024-03-02","occupancy":2053.0}'
    )
    assert derived_event_id(occupancy) == first


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "no_header"),
        (b"\n\nlocation_id;date\n", "no_header"),
        (b"location_id;date;ocupancy\n", "unknown_column"),
        (b"location_id;date;date;occupancy\n", "duplicate_column"),
        (b"date;occupancy\n2024-03-02;5\n", "missing_column"),
        (b'location_id;date;occupancy\n"ter-apel;2024-03-02;5\n', "csv"),
        (b"\x81\x8d\x8f\x90\x9d", "encoding"),
        (b"location_id;date;occupancy\n" + b"a;2024-03-02;1\n" * (MAX_ROWS + 1), "too_many_rows"),
    ],
)
def test_a_body_without_rows_to_judge_is_refused_whole(raw: bytes, reason: str) -> None:
    with pytest.raises(UploadError) as caught:
        csv_rows(raw)
    assert caught.value.reason == reason
    assert caught.value.melding  # a Dutch sentence for the page


def test_json_one_object_or_a_list_with_row_numbers_from_one() -> None:
    body = [
        {"location_id": "ter-apel", "date": "2024-03-02", "occupancy": 2053, "extra": [1]},
        "not an object",
        {"location_id": "budel", "date": "2024-03-02", "arrivals": 40, "event_id": "b-1"},
    ]
    found = outcomes(json.dumps(body).encode(), csv=False)
    assert [(o.row, type(o).__name__) for o in found] == [
        (1, "Accepted"), (2, "Refused"), (3, "Accepted"),
    ]  # fmt: skip
    assert found[2].event_id == "b-1"  # type: ignore[union-attr]
    (single,) = outcomes(json.dumps(body[0]).encode(), csv=False)
    assert single == found[0]
    for bad in (b"{", b"[" * 100 + b"]" * 100, b"\xff", b"[" + b"{}," * MAX_ROWS + b"{}]"):
        with pytest.raises(UploadError):
            json_rows(bad)


def test_scope_refusals_say_forbidden_or_unknown() -> None:
    forbidden = scope_refusal(4, "occupancy", "budel", known=True).to_dict()
    assert (forbidden["row"], forbidden["reason"], forbidden["status"]) == (4, "forbidden", 403)
    assert "mag niet melden voor 'budel'" in forbidden["melding"]
    unknown = scope_refusal(5, "intake", "nergens", known=False).to_dict()
    assert (unknown["reason"], unknown["status"]) == ("unknown_location", 404)


def test_columns_are_the_contracts_fields() -> None:
    docs = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    assert ";".join(COLUMNS) in docs


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_no_body_raises_anything_but_an_upload_error(raw: bytes) -> None:
    for reader in (csv_rows, json_rows):
        try:
            rows = reader(raw)
        except UploadError:
            continue
        for row in rows:
            for outcome in decode_row(row, timestamp=NOW):
                assert isinstance(outcome.to_dict(), dict)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(COLUMNS),
        st.text(max_size=20) | st.integers(-10, 2_000_000) | st.none(),
        max_size=len(COLUMNS),
    )
)
def test_every_accepted_report_reads_back_with_the_topics_decoder(fields: dict) -> None:  # type: ignore[type-arg]
    for outcome in decode_row(Row(1, fields), timestamp=NOW):
        if isinstance(outcome, Accepted):
            decode = occupancy_to_domain if outcome.kind == "occupancy" else intake_to_domain
            assert decode(outcome.value, timestamp=NOW).event_id == outcome.event_id
