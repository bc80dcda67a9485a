"""Validate the built graph against the SHACL shapes with pyshacl."""

from __future__ import annotations

from rdflib import Graph

from kg.export import whole_graph
from ontology import ontology_graph, shapes_graph


def validate_graph(data: Graph) -> tuple[bool, str]:
    from pyshacl import validate as shacl

    conforms, _, text = shacl(
        data,
        shacl_graph=shapes_graph(),
        ont_graph=ontology_graph(),
        inference="none",
        advanced=True,
        allow_warnings=True,
    )
    return bool(conforms), str(text)


def validate(data_dir: str) -> tuple[bool, str]:
    return validate_graph(whole_graph(data_dir))
