#!/usr/bin/env python3
"""Write opvangwacht's Grafana dashboards to deploy/grafana/dashboards/ as JSON.

    python tools/make_dashboards.py           # regenerate every dashboard in place
    python tools/make_dashboards.py --check   # exit 1 when a file on disk differs; write nothing

Standard library only and deterministic: the same code always writes the same bytes. The JSON is
what Grafana 11 saves (``schemaVersion`` 39), plus what its "Import dashboard" reads: every panel,
query, variable and annotation reads the dashboard variable ``$datasource``, never a uid, and
``__inputs`` asks an importer which Prometheus to preselect (``DS_PROMETHEUS``). Provisioned by
the compose stack, the variable takes Grafana's default Prometheus. Links to the status page use
the text-box variable ``$status_page``. Why not grafana-foundation-sdk: tools/README.md.

The dashboards answer "where is it tight, and since when": stat panels for the figure now, time
series and state timelines for how it got there, thresholds in colour on both. The capacity
gauges carry the newest *report*; the time axis is when Prometheus saw it (scrape time).

The integration test (tests/integration/test_observability.py) runs every query below through a
real Prometheus scraping a real worker, so a misspelled metric fails there, not at 3 a.m.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "deploy" / "grafana" / "dashboards"

SCHEMA_VERSION = 39  # Grafana 11.0; newer 11.x and 12.x migrate it on load
#: Every panel, query, variable and annotation names its datasource through the dashboard variable
#: ``$datasource`` (type datasource, Prometheus), never by uid: the same file works provisioned
#: (the variable takes Grafana's default Prometheus) and imported into another Grafana (the import
#: asks for ``DS_PROMETHEUS``, which becomes the variable's preselected value).
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}
IMPORT_INPUT = "DS_PROMETHEUS"
TAGS = ["opvangwacht"]
#: The job name in deploy/prometheus/prometheus.yml.
JOB = "opvangwacht"
#: The dashboard variable that holds the status page's address (a text box), and its default:
#: where the compose stack publishes the first worker. Links write it ``:raw``, so Grafana does
#: not percent-encode the address inside a data link.
STATUS_PAGE_VARIABLE = "status_page"
STATUS_PAGE_DEFAULT = "http://localhost:6066/"
STATUS_PAGE = f"${{{STATUS_PAGE_VARIABLE}:raw}}"
#: Where Grafana serves deploy/grafana/maps/nl-provinces.geojson (docker-compose.yml mounts it).
PROVINCES_GEOJSON = "public/maps/opvangwacht-nl-provinces.geojson"

Json = dict[str, Any]

PROVINCE_NAMES = {
    "GR": "Groningen",
    "FR": "Friesland",
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

# ------------------------------------------------------------------ colours and thresholds


def steps(base: str, *more: tuple[float, str]) -> Json:
    """Absolute thresholds: ``base`` below the first value, then each (value, colour)."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": colour, "value": value} for value, colour in more],
    }


#: Free places: short is red, nearly full orange.
FREE_PLACES = steps("red", (0, "orange"), (100, "green"))
NATIONAL_FREE_PLACES = steps("red", (0, "orange"), (1000, "green"))
#: Free places as a share of capacity; the region_capacity_low levels (0 %, 2 %, 3 %).
FREE_RATIO = steps("red", (0, "orange"), (0.02, "yellow"), (0.03, "green"))
#: Occupancy over capacity or cap; cap_near fires at 95 %.
UTILISATION = steps("green", (0.92, "yellow"), (0.95, "orange"), (1.0001, "red"))
#: breach_forecast: critical at 2 days, warning at 7.
DAYS_UNTIL_FULL = steps("red", (2, "orange"), (7, "yellow"), (10, "green"))
ANY_IS_BAD = steps("green", (1, "red"))
ANY_IS_A_WARNING = steps("green", (1, "orange"))
SHORT_IS_RED = steps("green", (1, "red"))
TER_APEL_CAP = 2000
TER_APEL_OCCUPANCY = steps("green", (TER_APEL_CAP * 0.95, "orange"), (TER_APEL_CAP + 1, "red"))
ROOM_TO_CAP = steps("red", (0, "orange"), (100, "green"))
TARGET_REALISED = steps("red", (0.9, "orange"), (1.0, "green"))
NEUTRAL = steps("blue")

# ------------------------------------------------------------------ panels


@dataclass
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def _targets(queries: Sequence[Query]) -> list[Json]:
    out = []
    for index, q in enumerate(queries):
        target: Json = {
            "datasource": DATASOURCE,
            "refId": chr(ord("A") + index),
            "expr": q.expr,
            "editorMode": "code",
            "range": not q.instant,
            "instant": q.instant,
        }
        if q.legend:
            target["legendFormat"] = q.legend
        if q.table:
            target["format"] = "table"
        out.append(target)
    return out


@dataclass
class Panel:
    """One visualisation; ``build`` turns it into Grafana's JSON at its place in the grid."""

    kind: str
    title: str
    description: str
    queries: list[Query]
    w: int = 6
    h: int = 5
    unit: str = "short"
    thresholds: Json = field(default_factory=lambda: NEUTRAL)
    decimals: int | None = None
    no_value: str | None = None
    mappings: list[Json] = field(default_factory=list)
    options: Json = field(default_factory=dict)
    custom: Json = field(default_factory=dict)
    color: Json | None = None
    overrides: list[Json] = field(default_factory=list)
    transformations: list[Json] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    links: list[Json] | None = None

    def build(self, panel_id: int, x: int, y: int) -> Json:
        defaults: Json = {
            "unit": self.unit,
            "thresholds": self.thresholds,
            "mappings": self.mappings,
            "color": self.color or {"mode": "thresholds"},
        }
        links = self.links if self.links is not None else series_links(self.queries)
        if links:
            defaults["links"] = links
        if self.custom:
            defaults["custom"] = self.custom
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.no_value is not None:
            defaults["noValue"] = self.no_value
        if self.min is not None:
            defaults["min"] = self.min
        if self.max is not None:
            defaults["max"] = self.max
        panel: Json = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "gridPos": {"h": self.h, "w": self.w, "x": x, "y": y},
            "datasource": DATASOURCE,
            "targets": _targets(self.queries),
            "fieldConfig": {"defaults": defaults, "overrides": self.overrides},
            "options": self.options,
        }
        if self.transformations:
            panel["transformations"] = self.transformations
        return panel


@dataclass
class Row:
    title: str


def stat(
    title: str,
    description: str,
    expr: str,
    *,
    unit: str = "short",
    thresholds: Json = NEUTRAL,
    legend: str = "",
    w: int = 4,
    h: int = 5,
    no_value: str | None = None,
    decimals: int | None = 0,
    mappings: list[Json] | None = None,
    graph: bool = True,
) -> Panel:
    return Panel(
        "stat",
        title,
        description,
        [Query(expr, legend)],
        w=w,
        h=h,
        unit=unit,
        thresholds=thresholds,
        no_value=no_value,
        decimals=decimals,
        mappings=mappings or [],
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "area" if graph else "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "value_and_name" if legend else "value",
            "wideLayout": True,
            "showPercentChange": False,
        },
    )


def timeseries(
    title: str,
    description: str,
    queries: list[Query],
    *,
    unit: str = "short",
    thresholds: Json = NEUTRAL,
    threshold_style: str = "off",
    w: int = 12,
    h: int = 8,
    stack: bool = False,
    fill: int = 10,
    draw: str = "line",
    decimals: int | None = None,
    overrides: list[Json] | None = None,
    min: float | None = None,
) -> Panel:
    return Panel(
        "timeseries",
        title,
        description,
        queries,
        w=w,
        h=h,
        unit=unit,
        thresholds=thresholds,
        decimals=decimals,
        color={"mode": "palette-classic"},
        overrides=overrides or [],
        min=min,
        custom={
            "drawStyle": draw,
            "lineWidth": 2,
            "lineInterpolation": "stepAfter",
            "fillOpacity": fill,
            "showPoints": "never",
            "spanNulls": True,
            "axisSoftMin": 0 if min is None else min,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": threshold_style},
        },
        options={
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["lastNotNull", "min", "max"],
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def state_timeline(
    title: str,
    description: str,
    query: Query,
    *,
    unit: str,
    thresholds: Json,
    w: int = 24,
    h: int = 8,
    mappings: list[Json] | None = None,
) -> Panel:
    return Panel(
        "state-timeline",
        title,
        description,
        [query],
        w=w,
        h=h,
        unit=unit,
        thresholds=thresholds,
        mappings=mappings or [],
        custom={"fillOpacity": 85, "lineWidth": 0},
        options={
            "mergeValues": True,
            "showValue": "never",
            "alignValue": "left",
            "rowHeight": 0.85,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "single", "sort": "none"},
        },
    )


def bar_gauge(
    title: str,
    description: str,
    query: Query,
    *,
    unit: str,
    thresholds: Json,
    w: int = 12,
    h: int = 8,
    min: float | None = 0,
    max: float | None = None,
) -> Panel:
    return Panel(
        "bargauge",
        title,
        description,
        [query],
        w=w,
        h=h,
        unit=unit,
        thresholds=thresholds,
        min=min,
        max=max,
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
            "valueMode": "color",
            "showUnfilled": True,
            "namePlacement": "left",
            "sizing": "auto",
            "minVizHeight": 16,
            "minVizWidth": 8,
            "maxVizHeight": 300,
        },
    )


@dataclass
class Column:
    """One column of a table panel: an instant query, its header and how to colour it."""

    header: str
    expr: str
    unit: str = "short"
    thresholds: Json | None = None
    decimals: int | None = 0


def table(
    title: str,
    description: str,
    key: str,
    key_header: str,
    columns: list[Column],
    *,
    w: int = 24,
    h: int = 8,
    sort_by: str | None = None,
    descending: bool = False,
    key_mappings: list[Json] | None = None,
) -> Panel:
    """Rows keyed by the label ``key``; one instant query per column, merged on ``key``.

    Each column is reduced to the max by ``key`` so every frame has the same labels and the merge
    lines them up into one row per key. A global gauge is the same on every worker, so the max is
    its value; a column on a per-worker counter sums across workers itself (``sum by (key)``).
    """
    queries = [Query(f"max by ({key}) ({c.expr})", instant=True, table=True) for c in columns]
    rename = {key: key_header}
    index = {key: 0}
    for i, column in enumerate(columns):
        ref = f"Value #{chr(ord('A') + i)}"
        rename[ref] = column.header
        index[ref] = i + 1
    overrides: list[Json] = []
    for column in columns:
        props: list[Json] = [{"id": "unit", "value": column.unit}]
        if column.decimals is not None:
            props.append({"id": "decimals", "value": column.decimals})
        if column.thresholds is not None:
            props += [
                {"id": "thresholds", "value": column.thresholds},
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ]
        overrides.append(
            {"matcher": {"id": "byName", "options": column.header}, "properties": props}
        )
    key_properties: list[Json] = []
    if key_mappings:
        key_properties.append({"id": "mappings", "value": key_mappings})
    if key in STATUS_API:
        key_properties.append({"id": "links", "value": status_links(key, "${__value.raw}")})
    if key_properties:
        overrides.append(
            {"matcher": {"id": "byName", "options": key_header}, "properties": key_properties}
        )
    excluded = {"Time": True}
    return Panel(
        "table",
        title,
        description,
        queries,
        w=w,
        h=h,
        thresholds=NEUTRAL,
        color={"mode": "thresholds"},
        links=[],
        custom={"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
        overrides=overrides,
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": excluded,
                    "renameByName": rename,
                    "indexByName": index,
                },
            },
        ],
        options={
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False},
            "sortBy": [{"displayName": sort_by, "desc": descending}] if sort_by else [],
        },
    )


# ------------------------------------------------------------------ links to the status page

#: The worker's read API for one location or one province, by the label that names it, and the
#: status page's anchor for it (``#locatie-<id>``, ``#provincie-<code>``, streams/web/index.html).
STATUS_API = {
    "location_id": ("locations", "deze locatie", "locatie"),
    "province": ("provinces", "deze provincie", "provincie"),
}


def status_links(label: str, value: str) -> list[Json]:
    """Data links from a value that names a location or a province: that place on the status
    page (its anchor), and the worker's JSON for that one (``/api/locations/{id}``,
    ``/api/provinces/{code}``)."""
    path, noun, anchor = STATUS_API[label]
    return [
        {"title": "Statuspagina", "url": f"{STATUS_PAGE}#{anchor}-{value}", "targetBlank": True},
        {
            "title": f"Gegevens van {noun} (statuspagina-API)",
            "url": f"{STATUS_PAGE}api/{path}/{value}",
            "targetBlank": True,
        },
    ]


def series_links(queries: Sequence[Query]) -> list[Json]:
    """Links for a panel whose series are named after a location or a province (its legend)."""
    for label in STATUS_API:
        if any(f"{{{{{label}}}}}" in q.legend for q in queries):
            return status_links(label, f"${{__field.labels.{label}}}")
    return []


def value_text(mapping: dict[str, str]) -> list[Json]:
    """Value mappings that show a text for a value (a province code, 0/1)."""
    return [
        {
            "type": "value",
            "options": {
                value: {"text": text, "index": i} for i, (value, text) in enumerate(mapping.items())
            },
        }
    ]


PROVINCE_MAPPINGS = value_text(PROVINCE_NAMES)


# ------------------------------------------------------------------ one worker or several

#: The gauges of the capacity picture and the delivery ledgers (streams.metrics.StateCollector), by
#: name or name prefix, with their labels. They are *global*: every worker of a group exports the
#: whole group's picture (its own tables and the mirror of the others'), so the same series comes
#: from each worker with only ``instance`` different. A panel takes the max across workers by these
#: labels (``pic``), never a sum, which would count the country once per worker. The pipeline
#: counters and Faust's sensors are *per worker*: a panel sums them (``sum by``, ``counted``).
#: docs/operations.md, "One worker or several"; tests/test_deploy_files.py checks every panel.
GLOBAL_LABELS = {
    "opvang_location_": "location_id, kind, province",
    "opvang_penalty_": "location_id, scheme",
    "opvang_province_spreiding_target_places": "province, cycle",
    "opvang_province_": "province",
    "opvang_national_": "",
    "opvang_alerts_firing": "rule, severity",
    "opvang_notifications_pending": "receiver, state",
    "opvang_notification_oldest_pending_seconds": "receiver",
    "opvang_receiver_disabled": "receiver",
}


def pic(metric: str, selector: str = "") -> str:
    """A global gauge once, whichever number of workers reports it: the max across workers by
    the metric's own labels (``GLOBAL_LABELS``)."""
    labels = next(v for prefix, v in GLOBAL_LABELS.items() if metric.startswith(prefix))
    series = f"{metric}{{{selector}}}" if selector else metric
    return f"max by ({labels}) ({series})" if labels else f"max({series})"


def counted(selector: str, window: str = "$__range") -> str:
    """How much a counter went up in ``window``, including the series born inside it.

    prometheus_client creates a labelled counter at its first increment, so the first dead letter
    or failed notification after a start arrives as a new series already at 1 or more, a step
    increase() cannot see. A series that did not exist ``window`` ago counts with its whole value.
    """
    return f"sum(({selector} unless {selector} offset {window}) or increase({selector}[{window}]))"


# ------------------------------------------------------------------ dashboards


@dataclass
class Dashboard:
    uid: str
    file: str
    title: str
    description: str
    items: list[Panel | Row]
    variables: list[Json] = field(default_factory=list)
    time_from: str = "now-7d"

    def build(self) -> Json:
        panels = list(self._layout())
        return {
            "__inputs": [
                {
                    "name": IMPORT_INPUT,
                    "label": "Prometheus",
                    "description": "De Prometheus die de opvangwacht-workers scrapet",
                    "type": "datasource",
                    "pluginId": "prometheus",
                    "pluginName": "Prometheus",
                }
            ],
            "__requires": requires(panels),
            "id": None,
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": TAGS,
            "timezone": "browser",
            "editable": True,
            "graphTooltip": 1,
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "refresh": "1m",
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "weekStart": "monday",
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    },
                    *alert_annotations(),
                ]
            },
            "links": [
                {
                    "type": "dashboards",
                    "tags": TAGS,
                    "asDropdown": False,
                    "includeVars": False,
                    "keepTime": True,
                    "targetBlank": False,
                    "title": "opvangwacht",
                    "icon": "external link",
                    "tooltip": "",
                    "url": "",
                },
                {
                    "type": "link",
                    "title": "Statuspagina",
                    "tooltip": "De statuspagina van de worker (variabele Statuspagina bovenaan)",
                    "url": STATUS_PAGE,
                    "icon": "dashboard",
                    "targetBlank": True,
                    "asDropdown": False,
                    "includeVars": False,
                    "keepTime": False,
                    "tags": [],
                },
            ],
            "templating": {
                "list": [datasource_variable(), status_page_variable(), *self.variables]
            },
            "panels": panels,
        }

    def _layout(self) -> Iterator[Json]:
        x = y = row_height = 0
        panel_id = 0
        for item in self.items:
            panel_id += 1
            if isinstance(item, Row):
                if x:
                    y += row_height
                x = row_height = 0
                yield {
                    "id": panel_id,
                    "type": "row",
                    "title": item.title,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
                y += 1
                continue
            if x + item.w > 24:
                x, y, row_height = 0, y + row_height, 0
            yield item.build(panel_id, x, y)
            x += item.w
            row_height = max(row_height, item.h)


def requires(panels: list[Json]) -> list[Json]:
    """What an import checks the target Grafana for: its version, Prometheus, each panel type."""
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    return [
        {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "11.0.0"},
        {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
    ] + [{"type": "panel", "id": kind, "name": kind, "version": ""} for kind in kinds]


def datasource_variable() -> Json:
    """``$datasource``: which Prometheus the dashboard reads. Preselected on import to the one the
    importer chose for ``DS_PROMETHEUS``; provisioned, that placeholder matches no datasource and
    Grafana takes its default Prometheus (deploy/grafana/provisioning/datasources/)."""
    placeholder = f"${{{IMPORT_INPUT}}}"
    return {
        "name": DATASOURCE_VARIABLE,
        "label": "Databron",
        "type": "datasource",
        "query": "prometheus",
        "regex": "",
        "refresh": 1,
        "includeAll": False,
        "multi": False,
        "current": {"selected": False, "text": placeholder, "value": placeholder},
        "options": [],
        "hide": 0,
        "skipUrlSync": False,
    }


def status_page_variable() -> Json:
    """``$status_page``: the address of the worker's status page, for the links. A text box, so an
    operator sets it once for their Grafana (and saves the dashboard) or per link (?var-...)."""
    return {
        "name": STATUS_PAGE_VARIABLE,
        "label": "Statuspagina",
        "description": "Adres van de statuspagina van de worker, met / aan het eind",
        "type": "textbox",
        "query": STATUS_PAGE_DEFAULT,
        "current": {"selected": False, "text": STATUS_PAGE_DEFAULT, "value": STATUS_PAGE_DEFAULT},
        "options": [{"selected": True, "text": STATUS_PAGE_DEFAULT, "value": STATUS_PAGE_DEFAULT}],
        "hide": 0,
        "skipUrlSync": False,
    }


#: The capacity alerts as annotations on every time series: a region from when the worker's
#: opvang_alerts_firing shows a rule firing (fired) to when it no longer does (resolved).
ALERT_ANNOTATIONS = (
    ("critical", "Kritieke meldingen", "red"),
    ("warning", "Waarschuwingen", "orange"),
)


def alert_annotations() -> list[Json]:
    out = []
    for severity, name, colour in ALERT_ANNOTATIONS:
        firing = pic("opvang_alerts_firing", f'severity="{severity}"')
        out.append(
            {
                "datasource": DATASOURCE,
                "enable": True,
                "hide": False,
                "iconColor": colour,
                "name": name,
                "expr": f"sum by (rule, severity) ({firing}) > 0",
                "step": "1m",
                "titleFormat": "{{rule}} vuurt",
                "textFormat": "Begin: de melding vuurt; eind: opgelost ({{severity}})",
                "tagKeys": "rule,severity",
                "useValueForTime": False,
            }
        )
    return out


def province_variable() -> Json:
    definition = "label_values(opvang_province_capacity, province)"
    return {
        "name": "province",
        "label": "Provincie",
        "type": "query",
        "datasource": DATASOURCE,
        "definition": definition,
        "query": {"qryType": 1, "query": definition, "refId": "PrometheusVariableQueryEditor"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
        "regex": "",
        "skipUrlSync": False,
    }


def national() -> Dashboard:
    return Dashboard(
        "opvang-national",
        "national.json",
        "Opvangwacht · Landelijk overzicht",
        "Vrije plaatsen en tekort in de asielopvang van heel Nederland, en waar het krap is.",
        [
            Row("Nu"),
            stat(
                "Vrije plaatsen",
                "Capaciteit min bezetting over alle actieve asielopvanglocaties (Oekraïense "
                "opvang apart). Negatief = plaatsen tekort.",
                pic("opvang_national_free_places"),
                thresholds=NATIONAL_FREE_PLACES,
            ),
            stat(
                "Tekort",
                "Plaatsen tekort in heel Nederland (0 als er plaats is). De regel "
                "national_shortage vuurt zodra dit boven 0 komt.",
                pic("opvang_national_shortage_places"),
                thresholds=SHORT_IS_RED,
            ),
            stat(
                "Bezettingsgraad",
                "Bezetting gedeeld door capaciteit. Oranje vanaf 95 %, rood boven 100 %.",
                pic("opvang_national_utilisation_ratio"),
                unit="percentunit",
                thresholds=UTILISATION,
                decimals=1,
            ),
            stat(
                "Dagen tot vol",
                "Vrije plaatsen gedeeld door de netto instroom per dag (7 dagen). Leeg als de "
                "opvang niet voller wordt.",
                f"{pic('opvang_national_time_until_full_seconds')} / 86400",
                thresholds=DAYS_UNTIL_FULL,
                no_value="loopt niet vol",
                decimals=1,
            ),
            stat(
                "Sliepen buiten",
                "Mensen die afgelopen nacht buiten sliepen, volgens de ochtendtelling.",
                pic("opvang_national_slept_outside"),
                thresholds=ANY_IS_BAD,
            ),
            stat(
                "Zonder bed",
                "Mensen binnen zonder regulier bed (stoel, vloer, wachtruimte).",
                pic("opvang_national_without_bed"),
                thresholds=ANY_IS_A_WARNING,
            ),
            Row("Verloop"),
            timeseries(
                "Vrije plaatsen en tekort",
                "Landelijk vrije plaatsen (onder de rode lijn = tekort) en het tekort zelf.",
                [
                    Query(pic("opvang_national_free_places"), "vrije plaatsen"),
                    Query(pic("opvang_national_shortage_places"), "tekort"),
                ],
                thresholds=steps("red", (0, "transparent")),
                threshold_style="line+area",
                min=None,
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "tekort"},
                        "properties": [
                            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}
                        ],
                    }
                ],
            ),
            timeseries(
                "Bezetting tegen capaciteit",
                "Mensen in de asielopvang en het aantal bruikbare bedden.",
                [
                    Query(pic("opvang_national_occupancy"), "bezetting"),
                    Query(pic("opvang_national_capacity"), "capaciteit"),
                ],
            ),
            timeseries(
                "Instroom en uitstroom (7 dagen)",
                "Aankomsten tegen doorplaatsingen plus vertrek, opgeteld over de 7 dagen vóór "
                "de nieuwste ochtendtelling.",
                [
                    Query(pic("opvang_national_arrivals_7d"), "instroom"),
                    Query(pic("opvang_national_outflow_7d"), "uitstroom"),
                ],
            ),
            timeseries(
                "Oekraïense opvang",
                "Gemeentelijke opvang van ontheemden uit Oekraïne; telt niet mee in de "
                "asielcijfers hierboven.",
                [
                    Query(pic("opvang_national_ukrainian_occupancy"), "bezetting"),
                    Query(pic("opvang_national_ukrainian_capacity"), "capaciteit"),
                ],
            ),
            Row("Waar is het krap, en sinds wanneer"),
            state_timeline(
                "Ruimte per provincie door de tijd",
                "Vrije plaatsen als deel van de capaciteit. Rood: tekort; oranje: minder dan "
                "2 % vrij; geel: minder dan 3 %. Waar de balk van kleur verandert, begon het.",
                Query(
                    f"{pic('opvang_province_free_places')} / {pic('opvang_province_capacity')}",
                    "{{province}}",
                ),
                unit="percentunit",
                thresholds=FREE_RATIO,
            ),
            bar_gauge(
                "Krapste locaties nu",
                "De tien locaties met de minste vrije plaatsen (negatief = overvol).",
                Query(
                    f"bottomk(10, {pic('opvang_location_free_places')})",
                    "{{location_id}} ({{province}})",
                ),
                unit="short",
                thresholds=FREE_PLACES,
                min=None,
            ),
            timeseries(
                "Vrije plaatsen per provincie",
                "Onder de rode lijn heeft de provincie plaatsen tekort.",
                [Query(pic("opvang_province_free_places"), "{{province}}")],
                thresholds=steps("red", (0, "transparent")),
                threshold_style="line",
                min=None,
            ),
        ],
    )


TER_APEL = 'location_id="ter-apel"'
CENTRES = 'kind="registration_centre"'


def registration_centres() -> Dashboard:
    return Dashboard(
        "opvang-registration-centres",
        "registration-centres.json",
        "Opvangwacht · Aanmeldcentra en Ter Apel",
        "Ter Apel tegen de afgesproken grens van 2.000, wie er buiten of zonder bed slaapt, en "
        "de dwangsom die oploopt.",
        [
            Row("Ter Apel nu"),
            stat(
                "Bezetting Ter Apel",
                "Nieuwste ochtendtelling. Oranje vanaf 95 % van de grens van 2.000, rood erboven.",
                pic("opvang_location_occupancy", TER_APEL),
                thresholds=TER_APEL_OCCUPANCY,
            ),
            stat(
                "Ruimte tot de grens",
                "Afgesproken maximum min bezetting; negatief = zoveel mensen boven de grens.",
                f"{pic('opvang_location_cap', TER_APEL)}"
                f" - {pic('opvang_location_occupancy', TER_APEL)}",
                thresholds=ROOM_TO_CAP,
            ),
            stat(
                "Sliepen buiten",
                "Mensen die afgelopen nacht buiten het aanmeldcentrum sliepen.",
                pic("opvang_location_slept_outside", TER_APEL),
                thresholds=ANY_IS_BAD,
            ),
            stat(
                "Zonder bed",
                "Mensen binnen zonder regulier bed.",
                pic("opvang_location_without_bed", TER_APEL),
                thresholds=ANY_IS_A_WARNING,
            ),
            stat(
                "Dwangsom opgelopen",
                "Opgelopen dwangsom over de regelingen (uitspraken) van Ter Apel, per nacht "
                "boven de grens. Een ondergrens: dagaanwezigen ziet de ochtendtelling niet.",
                f"sum({pic('opvang_penalty_accrued_euros', TER_APEL)})",
                unit="currencyEUR",
                thresholds=ANY_IS_A_WARNING,
                no_value="€ 0",
            ),
            stat(
                "Dagen tot vol",
                "Vrije plaatsen gedeeld door de netto instroom per dag; 0 = vol of overvol.",
                f"{pic('opvang_location_time_until_full_seconds', TER_APEL)} / 86400",
                thresholds=DAYS_UNTIL_FULL,
                no_value="loopt niet vol",
                decimals=1,
            ),
            Row("Ter Apel door de tijd"),
            timeseries(
                "Bezetting tegen de grens van 2.000",
                "Rood gebied: boven de afgesproken grens.",
                [
                    Query(pic("opvang_location_occupancy", TER_APEL), "bezetting"),
                    Query(pic("opvang_location_cap", TER_APEL), "grens"),
                    Query(pic("opvang_location_capacity", TER_APEL), "bedden"),
                ],
                thresholds=steps("transparent", (TER_APEL_CAP, "red")),
                threshold_style="line+area",
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "grens"},
                        "properties": [
                            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
                            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                        ],
                    }
                ],
            ),
            timeseries(
                "Buiten en zonder bed",
                "Per aanmeldcentrum: mensen die buiten sliepen en mensen zonder bed.",
                [
                    Query(
                        pic("opvang_location_slept_outside", CENTRES),
                        "buiten · {{location_id}}",
                    ),
                    Query(
                        pic("opvang_location_without_bed", CENTRES),
                        "zonder bed · {{location_id}}",
                    ),
                ],
                thresholds=steps("transparent", (1, "red")),
                threshold_style="off",
            ),
            timeseries(
                "Opgelopen dwangsom",
                "Per regeling; het maximum van de regeling als stippellijn.",
                [
                    Query(pic("opvang_penalty_accrued_euros"), "{{scheme}}"),
                    Query(pic("opvang_penalty_maximum_euros"), "maximum {{scheme}}"),
                ],
                unit="currencyEUR",
                overrides=[
                    {
                        "matcher": {"id": "byRegexp", "options": "maximum .*"},
                        "properties": [
                            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                            {"id": "custom.fillOpacity", "value": 0},
                        ],
                    }
                ],
            ),
            timeseries(
                "Instroom en uitstroom aanmeldcentra (7 dagen)",
                "Aankomsten tegen doorplaatsingen plus vertrek per aanmeldcentrum.",
                [
                    Query(
                        pic("opvang_location_arrivals_7d", CENTRES),
                        "instroom · {{location_id}}",
                    ),
                    Query(
                        pic("opvang_location_outflow_7d", CENTRES),
                        "uitstroom · {{location_id}}",
                    ),
                ],
            ),
            Row("Alle aanmeldcentra"),
            state_timeline(
                "Bezettingsgraad door de tijd",
                "Bezetting tegen de capaciteit. Oranje vanaf 95 %, rood erboven: waar de kleur "
                "omslaat, begon de krapte.",
                Query(pic("opvang_location_utilisation_ratio", CENTRES), "{{location_id}}"),
                unit="percentunit",
                thresholds=UTILISATION,
                h=6,
            ),
            table(
                "Aanmeldcentra nu",
                "Nieuwste ochtendtelling per aanmeldcentrum.",
                "location_id",
                "Locatie",
                [
                    Column("Bezetting", pic("opvang_location_occupancy", CENTRES)),
                    Column("Bedden", pic("opvang_location_capacity", CENTRES)),
                    Column(
                        "Vrije plaatsen",
                        pic("opvang_location_free_places", CENTRES),
                        thresholds=FREE_PLACES,
                    ),
                    Column(
                        "Bezettingsgraad",
                        pic("opvang_location_utilisation_ratio", CENTRES),
                        unit="percentunit",
                        thresholds=UTILISATION,
                        decimals=1,
                    ),
                    Column(
                        "Buiten",
                        pic("opvang_location_slept_outside", CENTRES),
                        thresholds=ANY_IS_BAD,
                    ),
                    Column(
                        "Zonder bed",
                        pic("opvang_location_without_bed", CENTRES),
                        thresholds=ANY_IS_A_WARNING,
                    ),
                    Column("Instroom 7d", pic("opvang_location_arrivals_7d", CENTRES)),
                ],
                sort_by="Vrije plaatsen",
                h=7,
            ),
        ],
    )


P = 'province=~"$province"'
#: The Spreidingswet target in force per province (one cycle at a time).
TARGET = f"sum by (province) ({pic('opvang_province_spreiding_target_places', P)})"


def province_map() -> Panel:
    """Grafana's geomap: the provinces' outlines (deploy/grafana/maps/nl-provinces.geojson) and on
    each a dot coloured by its free places as a share of capacity, placed by looking the
    ``province`` label up in the same file (its features' ``id``/``code``)."""
    ratio = f"{pic('opvang_province_free_places', P)} / {pic('opvang_province_capacity', P)}"
    return Panel(
        "geomap",
        "Kaart: ruimte per provincie",
        "Vrije plaatsen als deel van de capaciteit, per provincie. Rood: tekort; oranje: minder "
        "dan 2 % vrij; geel: minder dan 3 %. Klik op een stip voor de statuspagina.",
        [Query(ratio, instant=True, table=True)],
        w=12,
        h=14,
        unit="percentunit",
        decimals=1,
        thresholds=FREE_RATIO,
        links=status_links("province", "${__data.fields.province}"),
        options={
            "view": {"id": "coords", "lat": 52.2, "lon": 5.4, "zoom": 6.4, "allLayers": True},
            "controls": {
                "showZoom": True,
                "mouseWheelZoom": False,
                "showAttribution": True,
                "showScale": False,
                "showMeasure": False,
                "showDebug": False,
            },
            "basemap": {"type": "default", "name": "Achtergrond", "config": {}},
            "layers": [
                {
                    "type": "geojson",
                    "name": "Provincies",
                    "config": {
                        "src": PROVINCES_GEOJSON,
                        "rules": [],
                        "style": {
                            "color": {"fixed": "#8f9bb3"},
                            "opacity": 0.25,
                            "lineWidth": 1,
                        },
                    },
                    "tooltip": False,
                },
                {
                    "type": "markers",
                    "name": "Ruimte",
                    "location": {
                        "mode": "lookup",
                        "lookup": "province",
                        "gazetteer": PROVINCES_GEOJSON,
                    },
                    "config": {
                        "showLegend": True,
                        "style": {
                            "color": {"field": "Value", "fixed": "dark-green"},
                            "opacity": 0.9,
                            "size": {"fixed": 18, "min": 8, "max": 24},
                            "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                            "text": {"field": "province", "mode": "field"},
                            "textConfig": {"fontSize": 11, "offsetY": -18, "textAlign": "center"},
                        },
                    },
                    "tooltip": True,
                },
            ],
            "tooltip": {"mode": "details"},
        },
    )


def provinces() -> Dashboard:
    return Dashboard(
        "opvang-provinces",
        "provinces.json",
        "Opvangwacht · Provincies en Spreidingswet",
        "Vrije plaatsen per provincie, en hoeveel plaatsen elke provincie heeft gerealiseerd "
        "tegen haar Spreidingswet-opgave.",
        [
            Row("Spreidingswet"),
            bar_gauge(
                "Gerealiseerd van de opgave",
                "Asielopvangplaatsen (capaciteit) gedeeld door de Spreidingswet-opgave die op de "
                "rapportdatum geldt. Onder 100 % vuurt spreiding_shortfall.",
                Query(
                    f"{pic('opvang_province_capacity', P)} / {TARGET}",
                    "{{province}}",
                ),
                unit="percentunit",
                thresholds=TARGET_REALISED,
                max=1.2,
            ),
            table(
                "Opgave per provincie",
                "Gerealiseerd (capaciteit), opgave, tekort op de opgave, en de vrije plaatsen.",
                "province",
                "Provincie",
                [
                    Column("Gerealiseerd", pic("opvang_province_capacity", P)),
                    Column(
                        "Opgave",
                        TARGET,
                    ),
                    Column(
                        "Tekort op opgave",
                        f"clamp_min({TARGET} - {pic('opvang_province_capacity', P)}, 0)",
                        thresholds=steps("green", (1, "orange")),
                    ),
                    Column(
                        "Vrije plaatsen",
                        pic("opvang_province_free_places", P),
                        thresholds=FREE_PLACES,
                    ),
                    Column(
                        "Bezettingsgraad",
                        pic("opvang_province_utilisation_ratio", P),
                        unit="percentunit",
                        thresholds=UTILISATION,
                        decimals=1,
                    ),
                ],
                sort_by="Tekort op opgave",
                descending=True,
                key_mappings=PROVINCE_MAPPINGS,
                w=12,
            ),
            Row("Ruimte"),
            province_map(),
            timeseries(
                "Vrije plaatsen",
                "Onder de rode lijn heeft de provincie plaatsen tekort.",
                [Query(pic("opvang_province_free_places", P), "{{province}}")],
                thresholds=steps("red", (0, "transparent")),
                threshold_style="line",
                min=None,
                h=14,
            ),
            state_timeline(
                "Ruimte door de tijd",
                "Vrije plaatsen als deel van de capaciteit. Rood: tekort; oranje: minder dan "
                "2 % vrij (region_capacity_low); geel: minder dan 3 %.",
                Query(
                    f"{pic('opvang_province_free_places', P)}"
                    f" / {pic('opvang_province_capacity', P)}",
                    "{{province}}",
                ),
                unit="percentunit",
                thresholds=FREE_RATIO,
            ),
            timeseries(
                "Dagen tot vol",
                "Vrije plaatsen gedeeld door de netto instroom per dag; alleen provincies die "
                "voller worden. Onder 7 dagen waarschuwt breach_forecast, onder 2 kritiek.",
                [
                    Query(
                        f"{pic('opvang_province_time_until_full_seconds', P)} / 86400",
                        "{{province}}",
                    )
                ],
                thresholds=DAYS_UNTIL_FULL,
                threshold_style="line",
                decimals=1,
            ),
            timeseries(
                "Buiten en zonder bed",
                "Per provincie, uit de ochtendtellingen.",
                [
                    Query(pic("opvang_province_slept_outside", P), "buiten · {{province}}"),
                    Query(pic("opvang_province_without_bed", P), "zonder bed · {{province}}"),
                ],
            ),
            timeseries(
                "Instroom en uitstroom (7 dagen)",
                "Aankomsten tegen doorplaatsingen plus vertrek per provincie.",
                [
                    Query(pic("opvang_province_arrivals_7d", P), "instroom · {{province}}"),
                    Query(pic("opvang_province_outflow_7d", P), "uitstroom · {{province}}"),
                ],
            ),
        ],
        variables=[province_variable()],
    )


def alerts() -> Dashboard:
    return Dashboard(
        "opvang-alerts",
        "alerts.json",
        "Opvangwacht · Meldingen en notificaties",
        "Welke opvangmeldingen nu vuren, sinds wanneer, en of de notificaties aankomen.",
        [
            Row("Meldingen nu"),
            stat(
                "Kritiek",
                "Meldingen met ernst critical die nu vuren.",
                "sum(" + pic("opvang_alerts_firing", 'severity="critical"') + ")",
                thresholds=ANY_IS_BAD,
                no_value="0",
            ),
            stat(
                "Waarschuwing",
                "Meldingen met ernst warning die nu vuren.",
                "sum(" + pic("opvang_alerts_firing", 'severity="warning"') + ")",
                thresholds=ANY_IS_A_WARNING,
                no_value="0",
            ),
            stat(
                "Informatie",
                "Meldingen met ernst info die nu vuren.",
                "sum(" + pic("opvang_alerts_firing", 'severity="info"') + ")",
                thresholds=steps("green", (1, "blue")),
                no_value="0",
            ),
            stat(
                "Notificaties mislukt",
                "Notificaties die na alle pogingen niet afgeleverd zijn, in de gekozen periode. "
                "Ze staan op opvang.notifications.dead.",
                counted('opvang_notifications_total{outcome="failed"}'),
                thresholds=ANY_IS_BAD,
                no_value="0",
            ),
            stat(
                "Notificaties afgeleverd",
                "Afgeleverde notificaties in de gekozen periode.",
                counted('opvang_notifications_total{outcome="delivered"}'),
                thresholds=NEUTRAL,
                no_value="0",
                w=8,
            ),
            Row("Sinds wanneer"),
            state_timeline(
                "Vurende meldingen per regel",
                "Per regel en ernst: hoeveel meldingen vuren. Waar de balk begint, begon het.",
                Query(pic("opvang_alerts_firing"), "{{rule}} ({{severity}})"),
                unit="short",
                thresholds=steps("transparent", (1, "red")),
                h=9,
            ),
            bar_gauge(
                "Vurend per regel",
                "Aantal vurende meldingen per regel en ernst, nu.",
                Query(
                    f"sort_desc({pic('opvang_alerts_firing')})",
                    "{{rule}} ({{severity}})",
                ),
                unit="short",
                thresholds=steps("blue", (1, "orange"), (5, "red")),
                w=8,
                h=9,
            ),
            timeseries(
                "Meldingswijzigingen",
                "Gepubliceerde meldingen (vuren en opgelost) per regel, per minuut.",
                [
                    Query(
                        "sum by (rule, status) (rate(opvang_alert_events_total[$__rate_interval]))"
                        " * 60",
                        "{{rule}} {{status}}",
                    )
                ],
                unit="short",
                stack=True,
                draw="bars",
                w=16,
                h=9,
            ),
            Row("Notificaties"),
            stat(
                "Wachten op nieuwe poging",
                "Notificaties die nog opnieuw geprobeerd worden, over alle ontvangers.",
                "sum(" + pic("opvang_notifications_pending", 'state="retry"') + ")",
                thresholds=ANY_IS_A_WARNING,
            ),
            stat(
                "Oudste wachtende",
                "Leeftijd van de oudste notificatie die nog niet is afgeleverd. Vanaf 10 minuten "
                "vuurt OpvangwachtNotificationBacklogOld.",
                "max(opvang_notification_oldest_pending_seconds)",
                unit="s",
                thresholds=steps("green", (60, "orange"), (600, "red")),
            ),
            stat(
                "Ontvangers uit",
                "Ontvangers die 410 Gone antwoordden en uit staan tot iemand ze weer aanzet "
                "(POST /api/receivers/<naam>/enable).",
                f"sum({pic('opvang_receiver_disabled')})",
                thresholds=ANY_IS_BAD,
                graph=False,
            ),
            timeseries(
                "Wachtrij per ontvanger",
                "Notificaties die wachten op een nieuwe poging (retry) of vastgehouden worden "
                "voor een verzamelbericht (held, stille uren of sms-budget).",
                [
                    Query(
                        pic("opvang_notifications_pending"),
                        "{{receiver}} {{state}}",
                    )
                ],
                stack=True,
            ),
            timeseries(
                "Notificaties per ontvanger",
                "Afgeleverd en mislukt per kanaal en ontvanger, per minuut.",
                [
                    Query(
                        "sum by (channel, receiver, outcome)"
                        " (rate(opvang_notifications_total[$__rate_interval])) * 60",
                        "{{receiver}} ({{channel}}) {{outcome}}",
                    )
                ],
                overrides=[
                    {
                        "matcher": {"id": "byRegexp", "options": ".* failed"},
                        "properties": [
                            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}
                        ],
                    }
                ],
            ),
            timeseries(
                "Afleverpogingen",
                "Pogingen per resultaat: ok, retry (wordt opnieuw geprobeerd), error (opgegeven).",
                [
                    Query(
                        "sum by (receiver, result)"
                        " (rate(opvang_notification_attempts_total[$__rate_interval])) * 60",
                        "{{receiver}} {{result}}",
                    )
                ],
            ),
            table(
                "Notificaties sinds de start van de worker",
                "Tellers per ontvanger en uitkomst sinds de worker startte.",
                "receiver",
                "Ontvanger",
                [
                    Column(
                        "Afgeleverd",
                        'sum by (receiver) (opvang_notifications_total{outcome="delivered"})',
                    ),
                    Column(
                        "Mislukt",
                        'sum by (receiver) (opvang_notifications_total{outcome="failed"})',
                        thresholds=ANY_IS_BAD,
                    ),
                    Column(
                        "Pogingen",
                        "sum by (receiver) (opvang_notification_attempts_total)",
                    ),
                ],
                h=6,
            ),
        ],
        time_from="now-24h",
    )


LAG = "opvang_faust_topic_partition_end_offset - opvang_faust_topic_partition_offset_commited"
#: Lag per partition once: Faust's offsets are per worker, and a partition is counted by the worker
#: that holds it; the max keeps a partition that two workers report (a standby's changelog copy,
#: the seconds of a rebalance) from counting twice.
PARTITION_LAG = f"max by (topic, partition) ({LAG})"
UP = f'up{{job="{JOB}"}}'
LATENCY = "sum by (le) (rate(opvang_event_to_alert_seconds_bucket[$__rate_interval]))"


def pipeline() -> Dashboard:
    return Dashboard(
        "opvang-pipeline",
        "pipeline.json",
        "Opvangwacht · Pijplijn",
        "Werkt de alarmering zelf: draait de worker, komen er rapporten binnen, wat wordt "
        "afgekeurd, en hoe snel volgt een melding op een rapport.",
        [
            Row("Gezondheid"),
            stat(
                "Workers bereikbaar",
                "Hoeveel workers van de groep Prometheus kan bereiken (up). Eén is genoeg om "
                "alles te verwerken; per worker in de rij Workers hieronder.",
                f"sum({UP})",
                thresholds=steps("red", (1, "green")),
                mappings=value_text({"0": "geen"}),
                no_value="onbekend",
                graph=False,
            ),
            stat(
                "Nieuwste rapportdatum",
                "De nieuwste datum van een ochtendtelling over alle locaties.",
                "max(opvang_location_report_date_seconds) * 1000",
                unit="dateTimeAsIsoNoDateIfToday",
                graph=False,
                decimals=None,
            ),
            stat(
                "Rapporten verwerkt",
                "Bezettings- en instroomrapporten toegepast in de gekozen periode.",
                counted('opvang_events_total{outcome="applied"}'),
                no_value="0",
            ),
            stat(
                "Afgekeurd (dead letter)",
                "Berichten naar opvang.deadletter in de gekozen periode: een rapport dat niet "
                "meetelt. Reden en origineel staan op het topic.",
                counted('opvang_events_total{outcome=~"dead_letter:.*"}'),
                thresholds=ANY_IS_A_WARNING,
                no_value="0",
            ),
            stat(
                "Rapport → melding p95",
                "95e percentiel van de tijd van het Kafka-tijdstip van een rapport tot de melding "
                "die het veroorzaakte.",
                f"histogram_quantile(0.95, {LATENCY})",
                unit="s",
                thresholds=steps("green", (5, "orange"), (30, "red")),
                decimals=2,
                no_value="geen meldingen",
            ),
            stat(
                "Achterstand",
                "Berichten die Faust heeft opgehaald maar nog niet verwerkt en gecommit, over "
                "alle topics en partities. 0 = bij.",
                f"sum({PARTITION_LAG})",
                thresholds=steps("green", (100, "orange"), (500, "red")),
            ),
            Row("Doorstroom"),
            timeseries(
                "Berichten per uitkomst",
                "Verwerkte berichten per seconde over alle workers: applied, duplicate, "
                "correction, reread, dead_letter:<reden>. Zonder skipped:<reden>: die records "
                "leest elke worker (audit, silences, changelogs), dus die telt elke worker.",
                [
                    Query(
                        "sum by (outcome)"
                        ' (rate(opvang_events_total{outcome!~"skipped:.*"}[$__rate_interval]))',
                        "{{outcome}}",
                    )
                ],
                unit="reqps",
                stack=True,
                overrides=[
                    {
                        "matcher": {"id": "byRegexp", "options": "dead_letter.*"},
                        "properties": [
                            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}
                        ],
                    }
                ],
            ),
            timeseries(
                "Dead letters per reden",
                "Afgekeurde berichten per topic en reden (invalid_json, schema, out_of_range, "
                "unknown_location), per minuut.",
                [
                    Query(
                        "sum by (topic, outcome)"
                        ' (rate(opvang_events_total{outcome=~"dead_letter:.*"}[$__rate_interval]))'
                        " * 60",
                        "{{topic}} {{outcome}}",
                    )
                ],
                draw="bars",
                stack=True,
            ),
            timeseries(
                "Rapport → melding (kwantielen)",
                "Tijd van het Kafka-tijdstip van een rapport tot de melding die het veroorzaakte.",
                [
                    Query(f"histogram_quantile(0.5, {LATENCY})", "p50"),
                    Query(f"histogram_quantile(0.95, {LATENCY})", "p95"),
                    Query(f"histogram_quantile(0.99, {LATENCY})", "p99"),
                ],
                unit="s",
                thresholds=steps("transparent", (5, "orange"), (30, "red")),
                threshold_style="line",
            ),
            timeseries(
                "Achterstand per topic",
                "Eindoffset min gecommitte offset (Faust), per topic: loopt de worker achter op "
                "wat er binnenkomt?",
                [Query(f"sum by (topic) ({PARTITION_LAG})", "{{topic}}")],
                thresholds=steps("transparent", (500, "orange")),
                threshold_style="line",
            ),
            table(
                "Achterstand per locatie",
                "Hoeveel dagen de nieuwste ochtendtelling van een locatie achterloopt op de "
                "nieuwste van alle locaties (report_missing vuurt vanaf 1 dag).",
                "location_id",
                "Locatie",
                [
                    Column(
                        "Dagen achter",
                        "(scalar(max(opvang_location_report_date_seconds))"
                        f" - {pic('opvang_location_report_date_seconds')}) / 86400",
                        thresholds=steps("green", (1, "orange"), (2, "red")),
                    ),
                    Column(
                        "Rapportdatum",
                        f"{pic('opvang_location_report_date_seconds')} * 1000",
                        unit="dateTimeAsIso",
                        decimals=None,
                    ),
                ],
                sort_by="Dagen achter",
                descending=True,
                w=12,
            ),
            Row("Workers"),
            stat(
                "Workers onbereikbaar",
                "Workers die Prometheus niet kan bereiken. Hun partities gaan na de "
                "sessietimeout naar de andere workers (OpvangwachtWorkerDown per worker, "
                "OpvangwachtNoWorkerUp als er geen over is).",
                f"count({UP} == 0) or vector(0)",
                thresholds=ANY_IS_BAD,
                graph=False,
            ),
            state_timeline(
                "Bereikbaar per worker",
                "Per worker (instance): bereikbaar of niet. Een failover is een rode balk bij de "
                "ene worker en meer partities bij een andere.",
                Query(UP, "{{instance}}"),
                unit="short",
                thresholds=steps("red", (1, "green")),
                mappings=value_text({"0": "onbereikbaar", "1": "bereikbaar"}),
                w=20,
                h=5,
            ),
            timeseries(
                "Partities per worker",
                "Partities waarvan een worker sinds zijn laatste rebalance offsets volgt "
                "(Faust): wat hij nu verwerkt. Na een failover nemen de andere ze over.",
                [
                    Query(
                        "count by (instance) (opvang_faust_topic_partition_end_offset)",
                        "{{instance}}",
                    )
                ],
                w=8,
            ),
            timeseries(
                "Achterstand per worker",
                "Eindoffset min gecommitte offset over de partities van elke worker.",
                [Query(f"sum by (instance) ({LAG})", "{{instance}}")],
                thresholds=steps("transparent", (500, "orange")),
                threshold_style="line",
                w=8,
            ),
            timeseries(
                "Rebalances per worker",
                "Afgeronde rebalances per worker (Faust): een worker die komt of gaat laat de "
                "hele groep rebalancen.",
                [
                    Query(
                        "sum by (instance)"
                        " (increase(opvang_faust_rebalance_done_latency_count[$__rate_interval]))",
                        "{{instance}}",
                    )
                ],
                draw="bars",
                w=8,
            ),
        ],
        time_from="now-24h",
    )


DASHBOARDS = (national, registration_centres, provinces, alerts, pipeline)


def render(dashboard: Dashboard) -> str:
    return json.dumps(dashboard.build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a file on disk differs; write nothing"
    )
    parser.add_argument("--out", type=Path, default=OUT, help="directory (default: %(default)s)")
    args = parser.parse_args(argv)
    stale = []
    expected = set()
    for make in DASHBOARDS:
        dashboard = make()
        path = args.out / dashboard.file
        expected.add(dashboard.file)
        text = render(dashboard)
        if args.check:
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != text:
                stale.append(path)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    extra = sorted(p for p in args.out.glob("*.json") if p.name not in expected)
    if args.check:
        for path in stale:
            print(f"{path} is out of date: run python tools/make_dashboards.py", file=sys.stderr)
        for path in extra:
            print(f"{path} is not generated by this script: remove it", file=sys.stderr)
        return 1 if stale or extra else 0
    for path in extra:
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
