"""The answers for a corpus file: `files/<stem>.<ext>` → `answers/<stem>.json`.

A file whose text differs from its sample's (a Big5 page where cp950 lacks a character) has its own answers in
`answers/variants/<file name>.json`, written by make_corpus; those win over the sample's.

Each answers file holds the plan's title, agency, year_roc, basis, goals, target_units and every measure with
dimension, item, number, title, text (the body without the title), units_raw and units (canonical names).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANSWERS = HERE / "answers"
VARIANTS = ANSWERS / "variants"
FILES = HERE / "files"

# corpus file kinds, by how the name ends (longest first)
KINDS = ((".scan.pdf", "scan"), (".docx", "docx"), (".odt", "odt"), (".doc", "doc"), (".pdf", "pdf"), (".html", "html"))


def stem_of(name: str | Path) -> str:
    """The sample a corpus file was made from: `004_eaa8df098b30e4bb.scan.pdf` → `004_eaa8df098b30e4bb`."""
    return Path(name).name.split(".", 1)[0]


def kind_of(name: str | Path) -> str:
    """The corpus file's kind: docx, odt, doc, pdf, scan (image-only PDF) or html; 'other' for anything else."""
    n = Path(name).name.lower()
    return next((k for end, k in KINDS if n.endswith(end)), "other")


def answers_path(name: str | Path) -> Path:
    variant = VARIANTS / f"{Path(name).name}.json"
    if variant.exists():
        return variant
    return ANSWERS / f"{stem_of(name)}.json"


@cache
def _load(path: Path) -> str:
    return path.read_text("utf-8")


def load(name: str | Path) -> dict:
    """The answers for a corpus file (a fresh copy: callers may change it)."""
    path = answers_path(name)
    if not path.exists():
        raise FileNotFoundError(f"no answers for {Path(name).name}: expected {path}")
    return json.loads(_load(path))


def corpus_files(folder: Path = FILES) -> list[Path]:
    """The corpus files that have answers, in name order."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and kind_of(p) != "other" and (ANSWERS / f"{stem_of(p)}.json").exists()
    )
