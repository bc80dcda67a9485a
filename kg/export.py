"""Export the graph (Turtle, JSON-LD, N-Triples; sorted, byte-stable) or the measures (CSV, JSON lines)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from rdflib import Graph
from rdflib.compare import to_canonical_graph

from kg.records import CSV_FIELDS, csv_row, export_record, write_csv
from kg.store import PREFIXES, DataDir


def whole_graph(data_dir: str) -> Graph:
    """The union of every named graph (plans, framework, ontology) as one rdflib Graph."""
    ds = DataDir(data_dir).dataset()
    g = Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    try:
        for s, p, o, _ in ds.quads((None, None, None, None)):
            g.add((s, p, o))
    finally:
        ds.close()
    return g


def _measures(data_dir: str) -> list[dict]:
    measures = DataDir(data_dir).measures()
    if not measures and not DataDir(data_dir).exists():
        DataDir(data_dir).dataset()  # raises the 'run kg build first' error
    return measures


def export_csv(data_dir: str, out: TextIO, header: Sequence[str] = CSV_FIELDS, lineterminator: str = "\n") -> None:
    """The measures as CSV, one row per measure in CSV_FIELDS order, under the header given (English by default).

    Written by kg.records.write_csv: a UTF-8 BOM, and text a spreadsheet would run as a formula escaped.
    """
    write_csv(out, header, (csv_row(m) for m in _measures(data_dir)), lineterminator=lineterminator)


def export(data_dir: str, fmt: str, out: TextIO) -> None:
    if fmt == "csv":
        export_csv(data_dir, out)
        return
    if fmt == "jsonl":
        for m in _measures(data_dir):
            out.write(json.dumps(export_record(m), ensure_ascii=False) + "\n")
        return
    g = whole_graph(data_dir)
    # Blank nodes (OWL lists in the ontology) get canonical labels so that identical builds export identically.
    canonical = Graph()
    for t in to_canonical_graph(g):
        canonical.add(t)
    for prefix, ns in PREFIXES.items():
        canonical.bind(prefix, ns)
    g = canonical
    if fmt == "nt":
        # N-Triples sorted line by line: identical builds give identical files.
        lines = sorted(set(g.serialize(format="nt").splitlines()))
        out.write("\n".join(line for line in lines if line.strip()) + "\n")
    elif fmt == "jsonld":
        out.write(g.serialize(format="json-ld", indent=1, sort_keys=True, auto_compact=True))
    else:
        out.write(g.serialize(format="turtle"))
