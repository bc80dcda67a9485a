"""Where the benchmarks and tests get measures and dev queries from: the bundled plans through the real pipeline."""

from __future__ import annotations

import json
import os
from pathlib import Path

from index.measures import read_jsonl

REPO = Path(__file__).resolve().parents[1]
DEV_QUERIES = REPO / "tests" / "data" / "dev-queries.json"
OWN_QUERIES = REPO / "bench" / "data" / "queries.json"  # our own judged set, three styles, plus nonsense
NONSENSE_HELDOUT = REPO / "bench" / "data" / "nonsense_heldout.json"  # off-topic queries no calibration sees
PARAPHRASE_HELDOUT = REPO / "bench" / "data" / "paraphrase_heldout.json"
BLIND_QUERIES = REPO / "bench" / "data" / "blind_queries.json"
NONSENSE_EVERYDAY = REPO / "bench" / "data" / "nonsense_everyday.json"  # off-topic, in words the vocabulary maps
PRACTICE_LABELS = REPO / "bench" / "data" / "practice_labels.json"  # hand labels, independent of the vocabulary


def load_measures(path: str | Path | None = None) -> tuple[list[dict], str]:
    """Measure records (the jsonl export contract) and where they came from.

    An explicit path or $MEASURES_JSONL (a `kg export --format jsonl` file) wins; otherwise the bundled sample
    plans are read, parsed and linked by kg, exactly as `kg build` does.
    """
    for p in (path, os.environ.get("MEASURES_JSONL")):
        if p and Path(p).exists():
            return read_jsonl(p), str(p)
    from kg.link import Aliases
    from kg.plan import parse_plan
    from kg.read import read_document
    from kg.records import export_record, plan_record
    from kg.store import bundled_plans

    aliases = Aliases.load()
    records = [plan_record(parse_plan(read_document(p)), aliases) for p in bundled_plans()]
    return [export_record(m) for r in records for m in r["measures"]], "kg/samples through kg"


def load_dev_queries() -> list[dict]:
    return json.loads(DEV_QUERIES.read_text(encoding="utf-8"))["queries"]


def load_own_queries() -> tuple[list[dict], list[str]]:
    """Our judged queries (bench/data/queries.json) and the nonsense queries nothing should match."""
    doc = json.loads(OWN_QUERIES.read_text(encoding="utf-8"))
    return doc["queries"], list(doc.get("nonsense", []))


def load_heldout_nonsense(everyday: bool = False) -> list[str]:
    """Off-topic queries that bench.calibrate never reads, for an unseen check of the floors; everyday: those in
    everyday words the vocabulary maps to the plans' wording (bench/data/nonsense_everyday.json)."""
    return json.loads((NONSENSE_EVERYDAY if everyday else NONSENSE_HELDOUT).read_text(encoding="utf-8"))["queries"]


def load_unfitted_queries() -> dict[str, list[dict]]:
    """Judged queries no calibration reads, by set: 16 held-out paraphrases (the vocabulary's everyday words were
    written after them, by someone who had read them) and 30 blind queries (written and graded without sight of the
    vocabulary or of the other sets)."""
    return {
        "held-out": json.loads(PARAPHRASE_HELDOUT.read_text(encoding="utf-8"))["queries"],
        "blind": json.loads(BLIND_QUERIES.read_text(encoding="utf-8"))["queries"],
    }


def load_practice_labels() -> list[dict]:
    """Hand practice labels of the bundled plans' measures: file, text_start, primary, secondary."""
    return json.loads(PRACTICE_LABELS.read_text(encoding="utf-8"))["measures"]
