"""Every file of the real-format corpus reads as its sample does: measures, units, titles, headings, front matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.evaluate import evaluate_file

FILES = sorted((Path(__file__).parent / "files").iterdir())
# The bars for files made as agencies publish them; a scan is read through OCR and may misread a character.
BARS = {"scan": (0.90, None)}
DEFAULT_BAR = (0.98, 0.95)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_reads_like_its_sample(path):
    r = evaluate_file(path)
    assert r.error is None, r.trace
    min_recall, min_units = BARS.get(r.kind, DEFAULT_BAR)
    assert r.recall >= min_recall, r.missed
    assert r.precision >= min_recall, r.spurious
    if min_units is not None:
        assert r.units >= min_units, r.unit_errors
        assert r.titles >= 0.98 and r.dimensions >= 0.98 and r.items >= 0.98
    assert r.agency_ok and r.year_ok and r.title_ok, r.meta


def test_the_corpus_has_every_format():
    assert {p.suffix for p in FILES} == {".docx", ".odt", ".doc", ".pdf", ".html"}
    assert any(p.name.endswith(".scan.pdf") for p in FILES)
