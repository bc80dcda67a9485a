"""Views of a measure record (the jsonl contract) that the index needs: texts to embed, to match, to hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

Measure = Mapping[str, Any]


def _clean(s: object) -> str:
    return " ".join(str(s).split()) if s else ""


CONTEXT_FIELDS = ("title", "item", "dimension", "agency")
# Measured on the dev queries with USE-multilingual-v3 (bench/eval_search.py --context):
# dense nDCG@10 title+body 0.68, title+item+body 0.66, all four 0.62. Headings are long, shared
# by many measures and dilute an averaging encoder, so by default only the title goes in front.
DEFAULT_CONTEXT = ("title",)


def passage_text(m: Measure, context: tuple[str, ...] = DEFAULT_CONTEXT) -> str:
    """What is embedded: the body with the chosen context fields (of CONTEXT_FIELDS) around it.

    The title names the practice in the plans' shared wording, which ties a terse body to
    queries; the agency goes last so that it shifts the vector least.
    """
    head = "；".join(_clean(m.get(f)) for f in context if f != "agency" and _clean(m.get(f)))
    tail = _clean(m.get("agency")) if "agency" in context else ""
    return "。".join(p for p in (head, _clean(m.get("text")), tail) if p)


def lexical_text(m: Measure) -> str:
    """What BM25 matches: title twice (it names the practice), body, system and unit names."""
    names = " ".join(_clean(x.get("name")) for key in ("systems", "units") for x in m.get(key) or [])
    title = _clean(m.get("title"))
    return " ".join(p for p in (title, title, _clean(m.get("text")), names) if p)


def literal_text(m: Measure) -> str:
    """Where "phrases" and -exclusions are looked for: the title and the body, as a planner reads them."""
    return " ".join(p for p in (_clean(m.get("title")), _clean(m.get("text"))) if p)


def content_key(m: Measure, context: tuple[str, ...] = DEFAULT_CONTEXT) -> str:
    """A digest of everything that shapes a measure's vector, to reuse vectors of unchanged measures."""
    return hashlib.sha256(passage_text(m, context).encode("utf-8")).hexdigest()[:32]


def record_digest(m: Measure) -> str:
    """A digest of one record (key order aside): equal digests, equal records, so an index row can be reused."""
    line = json.dumps(m, ensure_ascii=False, sort_keys=True) + "\n"
    return hashlib.sha256(line.encode("utf-8")).hexdigest()[:16]


def corpus_hash_of_digests(digests: Iterable[str]) -> str:
    h = hashlib.sha256()
    for d in sorted(digests):
        h.update(d.encode("ascii") + b"\n")
    return h.hexdigest()


def corpus_hash(measures: Iterable[Measure]) -> str:
    """A digest of the whole corpus, independent of record order and key order."""
    return corpus_hash_of_digests(record_digest(m) for m in measures)


def read_jsonl(path: str | Path) -> list[dict]:
    """Measure records from a jsonl file, one object a line; blank lines skipped."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: str | Path, measures: Iterable[Measure]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for m in measures:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")
