"""The planner-extensible practice vocabulary: query expansion and keyword tagging of measures."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from index.textnorm import normalise

_ASCII = re.compile(r"^[a-z0-9 .\-+]+$")


@dataclass(frozen=True)
class PracticeTerm:
    """One vocabulary type: a label and the other words for the same practice."""

    id: str
    label: str
    synonyms: tuple[str, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        return (self.label, *self.synonyms)


@dataclass(frozen=True)
class WordGroup:
    """The plans' wording for one thing (`plan`) and everyday words for it: a query holding any of them also
    searches the plan words."""

    plan: tuple[str, ...]
    everyday: tuple[str, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        return (*self.plan, *self.everyday)


@dataclass
class Vocabulary:
    """Practice types, the plans' wording for everyday words, and the question frames stripped from queries before
    embedding."""

    practices: list[PracticeTerm]
    stop_phrases: list[str] = field(default_factory=list)
    words: list[WordGroup] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {p.id: p for p in self.practices}
        self._compiled = [(p, [_compile(t) for t in p.terms]) for p in self.practices]
        # Each term filed under the one of its characters the fewest other terms have: a text is compared only with
        # the terms whose character it holds (a measure holds a few dozen of the vocabulary's hundreds of terms).
        keys = [(pi, ti, key.strip()) for pi, (_, c) in enumerate(self._compiled) for ti, (_, key) in enumerate(c)]
        spread = Counter(ch for *_, key in keys for ch in set(key))
        self._by_char: dict[str, list[tuple[int, int]]] = {}
        for pi, ti, key in keys:
            if key:
                self._by_char.setdefault(min(key, key=lambda ch: (spread[ch], ch)), []).append((pi, ti))
        self._words = [(g, [_compile(t) for t in g.terms]) for g in self.words]

    def get(self, practice_id: str) -> PracticeTerm | None:
        return self._by_id.get(practice_id)

    def matches(self, text: str) -> dict[str, list[str]]:
        """Practice id → the vocabulary terms of it that occur in the text."""
        norm = normalise(text)
        padded = f" {norm} "
        flat = norm.replace(" ", "")
        candidates = sorted(c for ch in set(padded) for c in self._by_char.get(ch, ()))
        out: dict[str, list[str]] = {}
        for pi, ti in candidates:
            p, compiled = self._compiled[pi]
            ascii_, key = compiled[ti]
            if key in padded if ascii_ else key in flat:
                out.setdefault(p.id, []).append(p.terms[ti])
        return out

    def plan_words(self, text: str) -> list[str]:
        """The plans' words for what the text says in everyday words (升降梯 → 電梯), in vocabulary order, without
        those the text already holds."""
        norm = normalise(text)
        padded, flat = f" {norm} ", norm.replace(" ", "")
        out: dict[str, None] = {}
        for group, compiled in self._words:
            if any(key in padded if ascii_ else key in flat for ascii_, key in compiled):
                for term, (ascii_, key) in zip(group.plan, compiled, strict=False):
                    if not (key in padded if ascii_ else key in flat):
                        out[term] = None
        return list(out)

    def strip_frames(self, query: str) -> str:
        """The query without question frames (哪些機關, 有沒有 …); the original if nothing is left."""
        out = query
        for phrase in sorted(self.stop_phrases, key=len, reverse=True):
            out = out.replace(phrase, " ")
        out = re.sub(r"[？?！!。，,\s]+", " ", out).strip()
        return out or query


def _compile(term: str) -> tuple[bool, str]:
    # ASCII terms match whole tokens (so "ai" is not found inside "taiwan"); CJK terms match
    # anywhere, ignoring the spaces that hard line breaks leave inside words.
    norm = normalise(term)
    if _ASCII.match(norm):
        return True, f" {norm} "
    return False, norm.replace(" ", "")


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """Read a vocabulary TOML file; the bundled index/data/practice_vocab.toml by default."""
    if path is None:
        raw = resources.files("index").joinpath("data/practice_vocab.toml").read_text(encoding="utf-8")
    else:
        raw = Path(path).read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    practices = [
        PracticeTerm(str(p["id"]), str(p["label"]), tuple(str(s) for s in p.get("synonyms", [])))
        for p in data.get("practice", [])
    ]
    ids = [p.id for p in practices]
    name = path or "practice_vocab.toml"
    if len(ids) != len(set(ids)):
        raise ValueError(f"{name}: practice ids repeat")
    words = []
    for i, w in enumerate(data.get("word", []), 1):
        plan, everyday = w.get("plan"), w.get("everyday", [])
        if not isinstance(plan, list) or not plan or not isinstance(everyday, list):
            raise ValueError(
                f"{name}: [[word]] number {i} needs a list `plan` of at least one word and a list `everyday`"
            )
        terms = [str(t) for t in plan + everyday]
        if not all(normalise(t).strip() for t in terms):
            raise ValueError(f"{name}: [[word]] number {i} has an empty word")
        words.append(WordGroup(tuple(terms[: len(plan)]), tuple(terms[len(plan) :])))
    return Vocabulary(practices, list(data.get("query", {}).get("stop_phrases", [])), words)
