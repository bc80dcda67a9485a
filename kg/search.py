"""The graph's side of search: build the index beside the graph, write practice types into it, open it for queries."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from rdflib import RDF, Graph, Literal
from rdflib.namespace import DCTERMS, SKOS

from kg.errors import PlanError
from kg.records import export_record
from kg.vocab import ID, SP

INDEX_DIR = "index"
PRACTICES_FILE = "practices.json"
BUILD_FILE = "last-build.json"  # how many measures the last build had to encode
CORRECTIONS_FILE = "practices.toml"  # a planner's corrections in the data dir (rename, merge, move)
PRACTICE_SCHEME = ID["practice"]


def encoder_name() -> str:
    from index import DEFAULT_ENCODER

    return os.environ.get("KG_ENCODER", DEFAULT_ENCODER)


def index_records(measures: list[dict]) -> list[dict]:
    """What the index sees of a measure: the export contract (plus the plan id the index groups updates by)."""
    return [export_record(m) for m in measures]


def build_index_into(work: Path, measures: list[dict], previous: Path | None = None) -> Graph:
    """Build (or update from the previous data dir) the search index into work/index; return the practice graph.

    Vectors of measures whose text did not change are reused: adding or replacing one plan encodes only its measures.
    """
    from index import SearchIndex, SearchIndexError, get_encoder

    encoder = get_encoder(encoder_name())
    records = index_records(measures)
    index = None
    if previous is not None and (previous / INDEX_DIR / "manifest.json").exists():
        try:
            index = SearchIndex.load(previous / INDEX_DIR, encoder)
        except SearchIndexError:
            index = None  # other model or format: rebuild from scratch
    encoded = len(records)
    if index is None:
        index = SearchIndex.build(records, encoder)
    else:
        encoded = 0
        by_plan: dict[str, list[dict]] = {}
        for r in records:
            by_plan.setdefault(r["plan"], []).append(r)
        old_plans = {m["plan"] for m in index.measures}
        current = {m["id"] for m in index.measures}
        for plan, recs in by_plan.items():
            if (
                plan not in old_plans
                or {r["id"] for r in recs} - current
                or len(recs) != sum(1 for m in index.measures if m["plan"] == plan)
            ):
                encoded += index.update(recs, plan=plan).encoded
        if {m["id"] for m in index.measures} != {r["id"] for r in records}:
            index = SearchIndex.build(records, encoder)
            encoded = len(records)
    corrections = work / CORRECTIONS_FILE
    scheme = index.practice_scheme()
    if corrections.exists():
        from index.practices import apply_corrections

        try:
            scheme = apply_corrections(scheme, corrections)
        except (ValueError, KeyError) as exc:
            raise PlanError(str(corrections), f"cannot apply the practice-type corrections: {exc}") from None
    index.set_practice_membership(scheme.membership)
    index.save(work / INDEX_DIR)
    (work / INDEX_DIR / BUILD_FILE).write_text(json.dumps({"measures": len(records), "encoded": encoded}), "utf-8")
    (work / INDEX_DIR / PRACTICES_FILE).write_text(
        json.dumps(scheme.to_dict(), ensure_ascii=False, indent=1, sort_keys=True), "utf-8"
    )
    return practice_graph(scheme.to_dict())


def practice_graph(scheme: dict) -> Graph:
    """Practice types as a SKOS concept scheme; each measure sp:practiceType its types."""
    g = Graph()
    g.add((PRACTICE_SCHEME, RDF.type, SKOS.ConceptScheme))
    g.add((PRACTICE_SCHEME, SKOS.prefLabel, Literal("實務類型", lang="zh-Hant")))
    g.add((PRACTICE_SCHEME, SKOS.prefLabel, Literal("practice types", lang="en")))
    g.add(
        (
            PRACTICE_SCHEME,
            DCTERMS.description,
            Literal(
                "Types of service practice found across agencies' measures, named from their members, correctable by "
                "planners.",
                lang="en",
            ),
        )
    )
    for t in scheme["types"]:
        c = ID[f"practice/{t['id']}"]
        g.add((c, RDF.type, SKOS.Concept))
        g.add((c, SKOS.inScheme, PRACTICE_SCHEME))
        g.add((c, SKOS.topConceptOf, PRACTICE_SCHEME))
        g.add((c, SKOS.notation, Literal(t["id"])))
        g.add((c, SKOS.prefLabel, Literal(t["label"], lang="zh-Hant")))
        for alt in sorted(set(t["alt_labels"]) - {t["label"]}):
            g.add((c, SKOS.altLabel, Literal(alt, lang="zh-Hant")))
    for mid, types in scheme["membership"].items():
        for tid in types:
            g.add((ID[f"measure/{mid}"], SP.practiceType, ID[f"practice/{tid}"]))
    return g


class Search:
    """An opened search index with its practice types, for the CLI and the web UI."""

    def __init__(self, data_dir: str | Path) -> None:
        from index import SearchIndex, SearchIndexError, get_encoder
        from kg.store import DataDir

        d = DataDir(data_dir)
        path = d.path / INDEX_DIR
        if not (path / "manifest.json").exists():
            raise PlanError(str(d.path), "no search index here: run 'kg build' (without --no-index) first")
        self.data_dir = d
        self.measures = d.measures()
        try:
            self.index = SearchIndex.load(path, get_encoder(encoder_name()), measures=index_records(self.measures))
        except SearchIndexError as exc:
            raise PlanError(str(path), f"{exc} (run 'kg build' again to rebuild the index)") from None
        self.practices = json.loads((path / PRACTICES_FILE).read_text("utf-8"))
        self.index.set_practice_membership(self.practices["membership"])
        self.by_id = {m["id"]: m for m in self.measures}
        self.type_labels = {t["id"]: t["label"] for t in self.practices["types"]}

    def practice_types(self, measure_id: str) -> list[dict]:
        return [{"id": t, "name": self.type_labels.get(t, t)} for t in self.practices["membership"].get(measure_id, [])]

    def result(self, hit: dict) -> dict:
        """A search hit in the shape of the export contract, plus score and practice types."""
        m = self.by_id[hit["id"]]
        out = export_record(m)
        out["score"] = round(float(hit["score"]), 4)
        out["practice_types"] = self.practice_types(m["id"])
        return out

    def search(self, query: str, k: int = 10, mode: str = "hybrid", **filters) -> list[dict]:
        filters = {key: v for key, v in filters.items() if v not in (None, [], "")}
        return [self.result(h) for h in self.index.search(query, k=k, mode=mode, **filters)]

    def similar(self, measure_id: str, k: int = 5) -> list[dict]:
        if measure_id not in self.by_id:
            raise PlanError(measure_id, "no measure with this id (ids are listed by 'kg export --format jsonl')")
        return [self.result(h) for h in self.index.similar(measure_id, k=k)]

    def coverage(self) -> dict:
        """Practice types with sizes, and the agency × practice-type matrix (primary type of each measure)."""
        agencies = sorted({m["agency"] for m in self.measures})
        counts: dict[str, dict[str, int]] = {}
        for m in self.measures:
            types = self.practices["membership"].get(m["id"]) or []
            if types:
                counts.setdefault(types[0], {}).setdefault(m["agency"], 0)
                counts[types[0]][m["agency"]] += 1
        types = []
        for t in self.practices["types"]:
            row = counts.get(t["id"], {})
            types.append(
                {
                    "id": t["id"],
                    "label": t["label"],
                    "alt_labels": t["alt_labels"],
                    "size": len(t["members"]),
                    "agencies": {a: row.get(a, 0) for a in agencies},
                }
            )
        types.sort(key=lambda t: (-t["size"], t["label"]))
        return {"agencies": agencies, "types": [t for t in types if t["size"]]}


@lru_cache(maxsize=4)
def open_search(data_dir: str) -> Search:
    return Search(data_dir)
