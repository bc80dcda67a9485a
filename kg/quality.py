"""Extraction quality against hand annotations: measures found (recall), no spurious ones (precision), units right."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from kg.link import Aliases
from kg.normalise import normalise
from kg.plan import parse_plan
from kg.read import read_document
from kg.records import plan_record


def _flat(text: str | None) -> str:
    return re.sub(r"[\s\W_]", "", normalise(text or "")).replace("臺", "台").lower()


def matches(measure: dict, text_start: str) -> bool:
    """A measure matches an annotation when its text starts with the annotated opening (normalised)."""
    want = _flat(re.sub(r"^\s*\d{1,2}\s*[.、．]\s*", "", text_start))
    return bool(want) and _flat(measure["text"]).startswith(want[: max(8, min(len(want), 20))])


def evaluate(plan_file: Path, annotation: dict, aliases: Aliases | None = None) -> dict:
    aliases = aliases or Aliases.load()
    rec = plan_record(parse_plan(read_document(plan_file)), aliases)
    found = rec["measures"]
    used: set[int] = set()
    pairs = []
    for gold in annotation["measures"]:
        for i, m in enumerate(found):
            if i not in used and matches(m, gold["text_start"]):
                used.add(i)
                pairs.append((gold, m))
                break
    units_ok = sum(1 for g, m in pairs if {_flat(u) for u in g["units"]} == {_flat(u["name"]) for u in m["units"]})
    titles_ok = sum(1 for g, m in pairs if _flat(g.get("title")) == _flat(m["title"]))
    return {
        "file": plan_file.name,
        "gold": len(annotation["measures"]),
        "found": len(found),
        "matched": len(pairs),
        "recall": len(pairs) / len(annotation["measures"]),
        "precision": len(pairs) / len(found) if found else 0.0,
        "units_accuracy": units_ok / len(pairs) if pairs else 0.0,
        "titles_accuracy": titles_ok / len(pairs) if pairs else 0.0,
        "missed": [g["text_start"] for g in annotation["measures"] if all(g is not p[0] for p in pairs)],
        "unit_errors": [
            (g["text_start"][:15], g["units"], [u["name"] for u in m["units"]])
            for g, m in pairs
            if {_flat(u) for u in g["units"]} != {_flat(u["name"]) for u in m["units"]}
        ],
    }


def main(argv: list[str]) -> int:
    """python -m kg.quality PLAN.txt ANNOTATION.json … : print the figures for each pair."""
    if len(argv) % 2:
        print("usage: python -m kg.quality PLAN.txt ANNOTATION.json [PLAN.txt ANNOTATION.json …]", file=sys.stderr)
        return 2
    for plan, ann in zip(argv[::2], argv[1::2], strict=True):
        r = evaluate(Path(plan), json.loads(Path(ann).read_text("utf-8")))
        print(json.dumps({k: v for k, v in r.items()}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
