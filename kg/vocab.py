"""RDF namespaces of the service-plan knowledge graph: our own closed ontology namespace and the standards it reuses."""

from rdflib import Namespace
from rdflib.namespace import DefinedNamespace

BASE = "https://w3id.org/spkg/"
ID = Namespace(BASE + "id/")
ORG = Namespace("http://www.w3.org/ns/org#")
OA = Namespace("http://www.w3.org/ns/oa#")
CPSV = Namespace("http://purl.org/vocab/cpsv#")


class SP(DefinedNamespace):
    """Terms minted by this project; every other term comes from a W3C or EU standard."""

    _NS = Namespace(BASE + "ontology#")
    _fail = True

    # classes
    Plan: object  # a service-improvement plan document of one agency for one year
    Measure: object  # one 執行重點 entry of a plan's measures table
    Dimension: object  # a plan's 執行要項 heading as printed
    Item: object  # a plan's (一)(二) sub-heading as printed
    Programme: object  # a higher-level programme or plan a plan is based on
    Law: object  # a law or regulation cited by a measure
    System: object  # a named information system, platform, app, hotline, mailbox or web site
    Hotline: object
    MobileApp: object
    WebPlatform: object
    Website: object
    Mailbox: object
    SocialMedia: object
    InformationSystem: object
    # properties
    agency: object  # Plan -> org:Organization that wrote it
    measure: object  # Plan -> Measure
    dimension: object  # Measure/Item -> Dimension
    item: object  # Measure -> Item
    frameworkItem: object  # Dimension/Item/Measure -> skos:Concept of the city framework
    practiceType: object  # Measure -> skos:Concept of the practice-type scheme
    ownedBy: object  # Measure -> org:OrganizationalUnit responsible for it
    unitsAsPrinted: object  # Measure -> literal, the unit cell as printed
    usesSystem: object  # Measure -> System
    citesLaw: object  # Measure -> Law
    basedOn: object  # Plan -> Programme
    goal: object  # Plan -> literal
    targetUnits: object  # Plan -> literal
    yearROC: object  # Plan -> xsd:integer (民國年)
    year: object  # Plan -> xsd:gYear (Gregorian)
    ordinal: object  # Measure/Item/Dimension -> xsd:integer, position in its parent
    text: object  # Measure -> literal, the full text of the measure
    sourceFile: object  # Plan -> literal, the input file's base name
    lineStart: object  # selector -> xsd:integer
    lineEnd: object  # selector -> xsd:integer
    page: object  # selector -> xsd:integer, the PDF page a measure was printed on
    deadline: object  # measure -> literal, its completion deadline (完成期限) as printed
    expectedBenefit: object  # measure -> literal, its expected benefit (預期效益) as printed
    finding: object  # plan -> literal, something in the plan that looked odd when it was read
    originalFile: object  # plan -> literal, the original file kept in the data dir
    frameworkVersion: object  # Plan -> skos:ConceptScheme of the framework version it follows
