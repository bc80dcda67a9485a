"""The service-plan ontology, SHACL shapes and city framework, shipped as package data and loaded by name."""

from importlib import resources

from rdflib import Graph

ONTOLOGY = "spkg.ttl"
SHAPES = "shapes.ttl"
FRAMEWORK = "framework.ttl"


def resource_text(name: str) -> str:
    """Return the text of a data file that ships inside this package, e.g. ``resource_text("spkg.ttl")``."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def _turtle(name: str) -> Graph:
    graph = Graph()
    graph.parse(data=resource_text(name), format="turtle")
    return graph


def ontology_graph() -> Graph:
    """The OWL ontology of the ``sp:`` namespace."""
    return _turtle(ONTOLOGY)


def shapes_graph() -> Graph:
    """The SHACL shapes every built knowledge graph must conform to."""
    return _turtle(SHAPES)


def framework_graph() -> Graph:
    """The city template (執行要項 and their sub-items) as two SKOS concept schemes, 2016 and 2018."""
    return _turtle(FRAMEWORK)
