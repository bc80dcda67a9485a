"""Export the graph (Turtle, JSON-LD, N-Triples; sorted, byte-stable) or the measures (CSV, JSON lines)."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from rdflib import Graph
from rdflib.compare import to_canonical_graph

from kg.records import CSV_FIELDS, csv_row, export_record
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


def export(data_dir: str, fmt: str, out: TextIO) -> None:
    if fmt in ("csv", "jsonl"):
        measures = [export_record(m) for m in DataDir(data_dir).measures()]
        if not measures and not DataDir(data_dir).exists():
            DataDir(data_dir).dataset()  # raises the 'run kg build first' error
        if fmt == "jsonl":
            for m in measures:
                out.write(json.dumps(m, ensure_ascii=False) + "\n")
            return
        w = csv.writer(out, lineterminator="\n")
        w.writerow(CSV_FIELDS)
        w.writerows(csv_row(m) for m in measures)
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
