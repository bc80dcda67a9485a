"""The things pages list and count (units, systems, laws, programmes, plans, agencies, measures of one of them),
asked of the store with SPARQL that aggregates there: nothing here holds the whole graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kg.vocab import ID
from webui.store import Store, iri, values

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


def labels(store: Store, pattern: str, lang: str = "zh") -> dict[str, str]:
    """IRI -> its label (skos:prefLabel, Chinese or English) for the things ?x of a pattern: one row per thing (each
    plan's graph states the same label again; the union graph would repeat it)."""
    flt = zh("l") if lang == "zh" else _EN.replace("{v}", "l")
    rows = store.select(
        f"SELECT ?x (MIN(STR(?l)) AS ?name) WHERE {{ {pattern} ?x skos:prefLabel ?l . {flt} }} GROUP BY ?x"
    )
    return {r["x"]: r["name"] for r in rows}  # type: ignore[misc]


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


def _of_thing(kind: str, key: str, agency: str | None) -> tuple[dict[str, object], str]:
    """The bindings naming one thing (?x) and, when an agency is given, the pattern keeping its plans only."""
    bindings: dict[str, object] = {"x": iri(entity_iri(kind, key))}
    if not agency:
        return bindings, ""
    bindings["only"] = iri(entity_iri("agency", agency))
    return bindings, "?plan sp:agency ?only ."


def measure_order(store: Store, kind: str, key: str, agency: str | None = None) -> list[tuple[str, str, int]]:
    """(plan IRI, measure id, ordinal) of every measure of one unit / system / law / agency / practice type /
    framework item: index look-ups only; the caller orders them by its plans (webui.views.browse)."""
    bindings, narrow = _of_thing(kind, key, agency)
    rows = store.select(
        f"""SELECT DISTINCT ?plan ?id ?o WHERE {{
  {MEASURES_OF[kind]} ?plan sp:measure ?m . {narrow}
  ?m dcterms:identifier ?id . OPTIONAL {{ ?m sp:ordinal ?o }}
}}""",
        bindings,
    )
    return [(str(r["plan"]), str(r["id"]), int(r["o"]) if isinstance(r["o"], int) else 0) for r in rows]


def measure_count(store: Store, kind: str, key: str, agency: str | None = None) -> int:
    bindings, narrow = _of_thing(kind, key, agency)
    rows = store.select(
        f"SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE {{ {MEASURES_OF[kind]} ?plan a sp:Plan ; sp:measure ?m . {narrow} }}",
        bindings,
    )
    return int(rows[0]["n"] or 0)


def counted(store: Store, kind: str, key: str, what: str) -> list[dict]:
    """[{id, name, count}] of the units / systems / practice types / agencies of one thing's measures, most
    measures first, counted by one SPARQL GROUP BY and named by the query around it (a unit also with its agency's
    name): naming after counting looks each label up once, not once per measure (a big system's 1,490 units:
    96 -> 74 ms).

    The measures' plans are joined only when the thing or what is counted is an agency: the other relations are
    stated of measures, every one of which is in a plan (the join took 0.2 s of a big system's page)."""
    ends = {
        "unit": ("?m sp:ownedBy ?o . ?o a org:OrganizationalUnit .", "org"),
        "system": ("?m sp:usesSystem ?o .", "system"),
        "practice": ("?m sp:practiceType ?o . ?o skos:inScheme id:practice .", "practice"),
        "agency": ("?plan sp:agency ?o .", "org"),
    }
    pattern, prefix = ends[what]
    plans = "?plan sp:measure ?m ." if "?plan" in MEASURES_OF[kind] + pattern else ""
    unit = what == "unit"
    of_unit = (
        ' OPTIONAL { ?o org:unitOf ?a . ?a skos:prefLabel ?al . FILTER(langMatches(lang(?al), "zh-Hant")) }'
        if unit
        else ""
    )
    # The thing goes in as VALUES inside the subquery: bindings would bind ?x of the outer query only.
    thing = values("x", [entity_iri(kind, key)])
    measures = f"{thing} {MEASURES_OF[kind]} {plans} {pattern}"
    inner = f"SELECT ?o (COUNT(DISTINCT ?m) AS ?n) WHERE {{ {measures} }} GROUP BY ?o"
    rows = store.select(
        f"SELECT ?o ?n (MIN(STR(?l)) AS ?name){' (MIN(STR(?al)) AS ?agency)' if unit else ''}"
        f" WHERE {{ {{ {inner} }} ?o skos:prefLabel ?l . {zh('l')}{of_unit} }} GROUP BY ?o ?n"
    )
    out = []
    for r in rows:
        e = {"id": local(r["o"], prefix), "name": r["name"], "count": int(r["n"])}
        if unit:
            e["agency"] = r["agency"] or ""
        out.append(e)
    return ranked(out)


def ranked(counted: list[dict]) -> list[dict]:
    """Things counted ({id, name, count}, a unit also with its agency), most measures first, then by name."""
    return sorted(counted, key=lambda e: (-e["count"], e["name"], e.get("agency", ""), e["id"]))


def unit_rows(store: Store) -> list[dict]:
    """Every unit owning a measure, with its agency and how many measures it owns, by agency then name."""
    counts = store.select("SELECT ?u (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m sp:ownedBy ?u } GROUP BY ?u")
    names = labels(store, "?x a org:OrganizationalUnit .")
    agency_names = labels(store, "?x a org:Organization .")
    parent = {
        r["u"]: r["a"]
        for r in store.select("SELECT DISTINCT ?u ?a WHERE { ?u a org:OrganizationalUnit ; org:unitOf ?a }")
    }
    out = []
    for r in counts:
        u = r["u"]
        if u not in names:
            continue
        a = parent.get(u)
        out.append(
            {
                "id": local(u, "org"),
                "name": names[u],
                "agency": agency_names.get(a, "") if a else "",
                "agency_id": local(a, "org"),
                "measures": int(r["n"]),
            }
        )
    return sorted(out, key=lambda u: (u["agency"], u["name"]))


def unit(store: Store, key: str) -> dict | None:
    return units(store, [key]).get(key)


def units(store: Store, keys: Sequence[str]) -> dict[str, dict]:
    """The units of these ids (those the graph has) with their agency, by id: one query for them all (a search's
    unit facet names thousands). A unit named twice keeps its first name, then its first agency's."""
    out: dict[str, dict] = {}
    for chunk in (keys[x : x + 500] for x in range(0, len(keys), 500)):
        rows = store.select(
            f"""SELECT ?x ?name ?agency ?a WHERE {{
  {values("x", [entity_iri("unit", k) for k in chunk])}
  ?x a org:OrganizationalUnit ; skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?x org:unitOf ?a . ?a skos:prefLabel ?agency . FILTER(langMatches(lang(?agency), "zh-Hant")) }}
}} ORDER BY ?x ?name ?agency"""
        )
        for r in rows:
            key = local(r["x"], "org")
            if key not in out:
                out[key] = {
                    "id": key,
                    "name": r["name"],
                    "agency": r["agency"] or "",
                    "agency_id": local(r["a"], "org"),
                }  # type: ignore[index]
    return out


def system_rows(store: Store, counted: Mapping[str, Mapping[str, int]]) -> list[dict]:
    """Every system a measure uses, with how many measures use it and how many agencies' plans, by type then name
    (`counted`: system id -> its measures and agencies, as the build counted them: webui.counts)."""
    names = labels(store, "?x a sp:System .")
    english = labels(store, "?x a sp:System .", lang="en")
    types = {
        r["s"]: r["t"]
        for r in store.select(
            "SELECT ?s (MIN(STR(?type)) AS ?t) WHERE { ?s a sp:System , ?type . "
            "FILTER(?type != sp:System && STRSTARTS(STR(?type), STR(sp:))) } GROUP BY ?s"
        )
    }
    out = []
    for sid, n in counted.items():
        s = entity_iri("system", sid)
        if s not in names:
            continue
        kind = (types.get(s) or "").removeprefix(_SP)
        out.append(
            {
                "id": sid,
                "name": names[s],
                "name_en": english.get(s, ""),
                "type": kind,
                "type_label": SYSTEM_TYPES.get(kind, kind),
                "measures": n["measures"],
                "agencies": n["agencies"],
            }
        )
    return sorted(out, key=lambda s: (s["type"], s["name"]))


def system(store: Store, key: str) -> dict | None:
    rows = store.select(
        f"""SELECT ?name ?en ?type WHERE {{
  ?x a sp:System ; skos:prefLabel ?name . {zh("name")}
  OPTIONAL {{ ?x skos:prefLabel ?en . {_EN.replace("{v}", "en")} }}
  OPTIONAL {{ ?x a ?type . FILTER(?type != sp:System && STRSTARTS(STR(?type), STR(sp:))) }}
}} ORDER BY ?name ?en ?type LIMIT 1""",
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
    counts = store.select("SELECT ?l (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m sp:citesLaw ?l } GROUP BY ?l")
    names = labels(store, "?x a sp:Law .")
    parent = {
        r["l"]: r["p"]
        for r in store.select("SELECT ?l (MIN(STR(?x)) AS ?p) WHERE { ?l a sp:Law ; dcterms:isPartOf ?x } GROUP BY ?l")
    }
    out = [
        {
            "id": local(r["l"], "law"),
            "name": names[r["l"]],
            "parent": names.get(parent.get(r["l"]) or "", ""),
            "measures": int(r["n"]),
        }
        for r in counts
        if r["l"] in names
    ]
    return sorted(out, key=lambda x: x["name"])


def programme_rows(store: Store) -> list[dict]:
    counts = store.select("SELECT ?p (COUNT(DISTINCT ?plan) AS ?n) WHERE { ?plan sp:basedOn ?p } GROUP BY ?p")
    names = labels(store, "?x a sp:Programme .")
    english = labels(store, "?x a sp:Programme .", lang="en")
    out = [
        {
            "id": local(r["p"], "programme"),
            "name": names[r["p"]],
            "name_en": english.get(r["p"], ""),
            "plans": int(r["n"]),
        }
        for r in counts
        if r["p"] in names
    ]
    return sorted(out, key=lambda x: x["name"])


def programme_plans(store: Store, key: str) -> list[str]:
    rows = store.select("SELECT DISTINCT ?plan WHERE { ?plan sp:basedOn ?x }", {"x": iri(entity_iri("programme", key))})
    return [local(r["plan"], "plan") for r in rows]  # type: ignore[misc]


def agencies(store: Store) -> dict[str, dict]:
    """Every agency (with a plan, or the parent of one), with its parent, children and plans: a few thousand rows
    at most, read once per build."""
    names = labels(store, "?x a org:Organization .")
    english = labels(store, "?x a org:Organization .", lang="en")
    parents = {
        r["a"]: r["p"]
        for r in store.select(
            "SELECT ?a (MIN(STR(?parent)) AS ?p) WHERE { ?a a org:Organization ; org:subOrganizationOf ?parent . "
            "?parent a org:Organization } GROUP BY ?a"
        )
    }
    out: dict[str, dict] = {}
    for a, name in names.items():
        aid = local(a, "org")
        out[aid] = {  # type: ignore[index]
            "id": aid,
            "name": name,
            "name_en": english.get(a, ""),
            "parent_id": local(parents.get(a), "org"),
            "children": [],
            "plan_ids": [],
        }
    for a in out.values():
        if a["parent_id"] in out:
            out[a["parent_id"]]["children"].append(a["id"])
    years: dict[str, str] = {}
    for r in store.select(
        "SELECT ?plan ?a ?year WHERE { ?plan a sp:Plan ; sp:agency ?a . OPTIONAL { ?plan sp:year ?year } }"
    ):
        aid, pid = local(r["a"], "org"), local(r["plan"], "plan")
        if aid in out and pid not in out[aid]["plan_ids"]:
            out[aid]["plan_ids"].append(pid)
            years[pid] = r["year"]  # type: ignore[assignment]
    for a in out.values():
        a["plan_ids"].sort(key=lambda p: (years.get(p) is None, years.get(p) or 0, p))
    return dict(sorted(out.items(), key=lambda kv: kv[1]["name"]))


def agency_units(store: Store, key: str) -> list[dict]:
    """The units of one agency that own measures, with how many each owns."""
    rows = store.select(
        f"""SELECT ?u (MIN(STR(?name)) AS ?nm) (COUNT(DISTINCT ?m) AS ?n) WHERE {{
  ?u org:unitOf ?x ; a org:OrganizationalUnit ; skos:prefLabel ?name . {zh("name")} ?m sp:ownedBy ?u .
}} GROUP BY ?u""",
        {"x": iri(entity_iri("agency", key))},
    )
    return sorted(
        ({"id": local(r["u"], "org"), "name": r["nm"], "measures": int(r["n"])} for r in rows),
        key=lambda u: u["name"],
    )
