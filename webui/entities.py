"""The things pages list and count (units, systems, laws, programmes, plans, agencies, measures of one of them),
asked of the store with SPARQL that aggregates there: nothing here holds the whole graph."""

from __future__ import annotations

from kg.vocab import ID
from webui.store import Store, iri

SYSTEM_TYPES = {
    "Hotline": "服務專線",
    "MobileApp": "行動應用程式",
    "WebPlatform": "網路平臺",
    "Website": "網站",
    "Mailbox": "信箱",
    "SocialMedia": "社群媒體",
    "InformationSystem": "資訊系統",
}
_SP = "https://w3id.org/spkg/ontology#"
_ZH = 'FILTER(lang(?{v}) = "" || langMatches(lang(?{v}), "zh-Hant"))'
_EN = 'FILTER(langMatches(lang(?{v}), "en"))'


def zh(var: str) -> str:
    return _ZH.replace("{v}", var)


def local(value: str | None, prefix: str) -> str | None:
    """The id a page uses for an IRI of the id namespace (the part after id:<prefix>/)."""
    if value is None:
        return None
    return value.removeprefix(f"{ID}{prefix}/")


def entity_iri(kind: str, key: str) -> str:
    if kind == "framework":
        return f"{ID}framework/{key.replace('-', '/')}"
    return f"{ID}{'org' if kind in ('unit', 'agency') else kind}/{key}"


# How the measures of one thing are found: ?x is the thing, ?m its measures, ?plan their plans.
MEASURES_OF = {
    "unit": "?m sp:ownedBy ?x .",
    "system": "?m sp:usesSystem ?x .",
    "law": "?m sp:citesLaw ?x .",
    "agency": "?plan sp:agency ?x .",
    "practice": "?m sp:practiceType ?x .",
    "framework": "?m sp:frameworkItem ?c . ?c skos:broader* ?x .",
}


def measure_ids(store: Store, kind: str, key: str, limit: int, offset: int = 0, agency: str | None = None) -> list[str]:
    """Ids of the measures of one unit / system / law / agency / practice type, oldest plan first (then by agency
    and the plan's own order), one page of them; `agency` narrows to one agency's plans."""
    bindings: dict[str, object] = {"x": iri(entity_iri(kind, key))}
    narrow = ""
    if agency:
        bindings["only"] = iri(entity_iri("agency", agency))
        narrow = "?plan sp:agency ?only ."
    rows = store.select(
        f"""SELECT ?id (MIN(STR(?y)) AS ?year) (MIN(?an) AS ?agency) (MIN(STR(?plan)) AS ?p) (MIN(?o) AS ?ord)
WHERE {{
  {MEASURES_OF[kind]} ?plan a sp:Plan ; sp:measure ?m ; sp:agency ?a . {narrow}
  ?a skos:prefLabel ?an . {zh("an")}
  OPTIONAL {{ ?plan sp:year ?y }}
  ?m dcterms:identifier ?id . OPTIONAL {{ ?m sp:ordinal ?o }}
}} GROUP BY ?id ORDER BY (!BOUND(?year)) ?year ?agency ?p ?ord ?id LIMIT {int(limit)} OFFSET {int(offset)}""",
        bindings,
    )
    return [str(r["id"]) for r in rows]


def measure_count(store: Store, kind: str, key: str, agency: str | None = None) -> int:
    bindings: dict[str, object] = {"x": iri(entity_iri(kind, key))}
    narrow = ""
    if agency:
        bindings["only"] = iri(entity_iri("agency", agency))
        narrow = "?plan sp:agency ?only ."
    rows = store.select(
        f"SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE {{ {MEASURES_OF[kind]} ?plan a sp:Plan ; sp:measure ?m . {narrow} }}",
        bindings,
    )
    return int(rows[0]["n"] or 0)


def counted(store: Store, kind: str, key: str, what: str) -> list[dict]:
    """[{id, name, count}] of the units / systems / practice types / agencies of one thing's measures, most
    measures first: aggregated in SPARQL."""
    ends = {
        "unit": ("?m sp:ownedBy ?o . ?o a org:OrganizationalUnit ; skos:prefLabel ?name .", "org"),
        "system": ("?m sp:usesSystem ?o . ?o skos:prefLabel ?name .", "system"),
        "practice": ("?m sp:practiceType ?o . ?o skos:inScheme id:practice ; skos:prefLabel ?name .", "practice"),
        "agency": ("?plan sp:agency ?o . ?o skos:prefLabel ?name .", "org"),
    }
    pattern, prefix = ends[what]
    extra = ", ?agency" if what == "unit" else ""
    agency = (
        'OPTIONAL { ?o org:unitOf ?ua . ?ua skos:prefLabel ?agency . FILTER(langMatches(lang(?agency), "zh-Hant")) }'
        if what == "unit"
        else ""
    )
    rows = store.select(
        f"""SELECT ?o ?name{extra.replace(",", "")} (COUNT(DISTINCT ?m) AS ?n) WHERE {{
  {MEASURES_OF[kind]} ?plan a sp:Plan ; sp:measure ?m . {pattern} {zh("name")} {agency}
}} GROUP BY ?o ?name{extra.replace(",", "")}""",
        {"x": iri(entity_iri(kind, key))},
    )
    out: dict[str, dict] = {}
    for r in rows:
        e = out.setdefault(r["o"], {"id": local(r["o"], prefix), "name": r["name"], "count": int(r["n"])})
        if what == "unit":
            e["agency"] = r.get("agency") or ""
    return sorted(out.values(), key=lambda e: (-e["count"], e["name"]))


def unit_rows(store: Store) -> list[dict]:
    """Every unit owning a measure, with its agency and how many measures it owns, by agency then name."""
    rows = store.select(
        f"""SELECT ?u ?name ?agency ?a (COUNT(DISTINCT ?m) AS ?n) WHERE {{
  ?m sp:ownedBy ?u . ?u a org:OrganizationalUnit ; skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?u org:unitOf ?a . ?a skos:prefLabel ?agency . FILTER(langMatches(lang(?agency), "zh-Hant")) }}
}} GROUP BY ?u ?name ?agency ?a"""
    )
    out = {}
    for r in rows:
        out.setdefault(
            r["u"],
            {
                "id": local(r["u"], "org"),
                "name": r["name"],
                "agency": r["agency"] or "",
                "agency_id": local(r["a"], "org"),
                "measures": int(r["n"]),
            },
        )
    return sorted(out.values(), key=lambda u: (u["agency"], u["name"]))


def unit(store: Store, key: str) -> dict | None:
    rows = store.select(
        f"""SELECT ?name ?agency ?a WHERE {{
  ?x a org:OrganizationalUnit ; skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?x org:unitOf ?a . ?a skos:prefLabel ?agency . FILTER(langMatches(lang(?agency), "zh-Hant")) }}
}} LIMIT 1""",
        {"x": iri(entity_iri("unit", key))},
    )
    if not rows:
        return None
    r = rows[0]
    return {"id": key, "name": r["name"], "agency": r["agency"] or "", "agency_id": local(r["a"], "org")}


def system_rows(store: Store) -> list[dict]:
    """Every system a measure uses, with how many measures use it and how many agencies' plans, by type then name."""
    rows = store.select(
        f"""SELECT ?s ?name ?type (COUNT(DISTINCT ?m) AS ?n) (COUNT(DISTINCT ?a) AS ?agencies) WHERE {{
  ?m sp:usesSystem ?s . ?s skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?s a ?type . FILTER(?type != sp:System && STRSTARTS(STR(?type), STR(sp:))) }}
  OPTIONAL {{ ?plan sp:measure ?m ; sp:agency ?a }}
}} GROUP BY ?s ?name ?type"""
    )
    out = {}
    for r in rows:
        kind = (r["type"] or "").removeprefix(_SP)
        out.setdefault(
            r["s"],
            {
                "id": local(r["s"], "system"),
                "name": r["name"],
                "type": kind,
                "type_label": SYSTEM_TYPES.get(kind, kind),
                "measures": int(r["n"]),
                "agencies": int(r["agencies"]),
            },
        )
    return sorted(out.values(), key=lambda s: (s["type"], s["name"]))


def system(store: Store, key: str) -> dict | None:
    rows = store.select(
        f"""SELECT ?name ?en ?type WHERE {{
  ?x a sp:System ; skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?x skos:prefLabel ?en . {_EN.replace("{v}", "en")} }}
  OPTIONAL {{ ?x a ?type . FILTER(?type != sp:System && STRSTARTS(STR(?type), STR(sp:))) }}
}} LIMIT 1""",
        {"x": iri(entity_iri("system", key))},
    )
    if not rows:
        return None
    r = rows[0]
    kind = (r["type"] or "").removeprefix(_SP)
    return {
        "id": key,
        "name": r["name"],
        "name_en": r["en"] or "",
        "type": kind,
        "type_label": SYSTEM_TYPES.get(kind, kind),
    }


def law_rows(store: Store) -> list[dict]:
    rows = store.select(
        f"""SELECT ?l ?name ?parent (COUNT(DISTINCT ?m) AS ?n) WHERE {{
  ?m sp:citesLaw ?l . ?l skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?l dcterms:isPartOf ?p . ?p skos:prefLabel ?parent . {zh("parent")} }}
}} GROUP BY ?l ?name ?parent"""
    )
    out = {}
    for r in rows:
        out.setdefault(
            r["l"],
            {"id": local(r["l"], "law"), "name": r["name"], "parent": r["parent"] or "", "measures": int(r["n"])},
        )
    return sorted(out.values(), key=lambda x: x["name"])


def programme_rows(store: Store) -> list[dict]:
    rows = store.select(
        f"""SELECT ?p ?name ?en (COUNT(DISTINCT ?plan) AS ?n) WHERE {{
  ?plan sp:basedOn ?p . ?p skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?p skos:prefLabel ?en . {_EN.replace("{v}", "en")} }}
}} GROUP BY ?p ?name ?en"""
    )
    out = {}
    for r in rows:
        out.setdefault(
            r["p"],
            {"id": local(r["p"], "programme"), "name": r["name"], "name_en": r["en"] or "", "plans": int(r["n"])},
        )
    return sorted(out.values(), key=lambda x: x["name"])


def programme_plans(store: Store, key: str) -> list[str]:
    rows = store.select("SELECT ?plan WHERE { ?plan sp:basedOn ?x }", {"x": iri(entity_iri("programme", key))})
    return [local(r["plan"], "plan") for r in rows]  # type: ignore[misc]


def plan_rows(store: Store) -> list[dict]:
    """Every plan with its agency and number of measures."""
    rows = store.select(
        f"""SELECT ?plan ?title ?year ?a ?agency (COUNT(DISTINCT ?m) AS ?n) WHERE {{
  ?plan a sp:Plan ; dcterms:title ?title ; sp:agency ?a . ?a skos:prefLabel ?agency . {zh("agency")}
  OPTIONAL {{ ?plan sp:year ?year }} OPTIONAL {{ ?plan sp:measure ?m }}
}} GROUP BY ?plan ?title ?year ?a ?agency"""
    )
    out = {}
    for r in rows:
        out.setdefault(
            r["plan"],
            {
                "id": local(r["plan"], "plan"),
                "title": r["title"],
                "year": r["year"],
                "agency": r["agency"],
                "agency_id": local(r["a"], "org"),
                "measures": int(r["n"]),
            },
        )
    return list(out.values())


def agencies(store: Store) -> dict[str, dict]:
    """Every agency (with a plan, or the parent of one), with its parent, children and plans: a few thousand rows
    at most, read once per build."""
    rows = store.select(
        f"""SELECT ?a ?name ?en ?parent WHERE {{
  ?a a org:Organization ; skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?a skos:prefLabel ?en . {_EN.replace("{v}", "en")} }}
  OPTIONAL {{ ?a org:subOrganizationOf ?parent . ?parent a org:Organization }}
}}"""
    )
    out: dict[str, dict] = {}
    for r in rows:
        aid = local(r["a"], "org")
        out.setdefault(
            aid,  # type: ignore[arg-type]
            {
                "id": aid,
                "name": r["name"],
                "name_en": r["en"] or "",
                "parent_id": local(r["parent"], "org"),
                "children": [],
                "plan_ids": [],
            },
        )
    for a in out.values():
        if a["parent_id"] in out:
            out[a["parent_id"]]["children"].append(a["id"])
    years: dict[str, str] = {}
    for r in store.select(
        "SELECT ?plan ?a ?year WHERE { ?plan a sp:Plan ; sp:agency ?a . OPTIONAL { ?plan sp:year ?year } }"
    ):
        aid, pid = local(r["a"], "org"), local(r["plan"], "plan")
        if aid in out:
            out[aid]["plan_ids"].append(pid)
            years[pid] = r["year"]  # type: ignore[assignment]
    for a in out.values():
        a["plan_ids"].sort(key=lambda p: (years.get(p) is None, years.get(p) or 0, p))
    return dict(sorted(out.items(), key=lambda kv: kv[1]["name"]))


def agency_units(store: Store, key: str) -> list[dict]:
    """The units of one agency that own measures, with how many each owns."""
    rows = store.select(
        f"""SELECT ?u ?name (COUNT(DISTINCT ?m) AS ?n) WHERE {{
  ?u org:unitOf ?x ; a org:OrganizationalUnit ; skos:prefLabel ?name . {zh("name")} ?m sp:ownedBy ?u .
}} GROUP BY ?u ?name""",
        {"x": iri(entity_iri("agency", key))},
    )
    return sorted(
        ({"id": local(r["u"], "org"), "name": r["name"], "measures": int(r["n"])} for r in rows),
        key=lambda u: u["name"],
    )


def framework_counts(store: Store) -> dict[str, int]:
    """Framework concept IRI -> measures filed under it (not under the concepts below it)."""
    rows = store.select(
        "SELECT ?c (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a sp:Measure ; sp:frameworkItem ?c } GROUP BY ?c"
    )
    return {r["c"]: int(r["n"]) for r in rows}  # type: ignore[misc]
