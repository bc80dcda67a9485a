"""The saved index: opened memory-mapped, patched from a previous index exactly as if rebuilt, damage named."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from index import arrays
from index.errors import IndexFormatError
from index.measures import content_key
from index.search import SearchIndex

QUERIES = ("1999 市民專線", "電話禮貌測試", '"網路" -電話', "讓民眾申請時少準備一些證明文件", "無障礙")
MODES = ("hybrid", "lexical", "dense", "literal")


def _changed(measures: list[dict]) -> list[dict]:
    """The corpus with one plan replaced (a measure edited, one dropped, one added) and another plan removed."""
    plans = list(dict.fromkeys(m["plan"] for m in measures))
    replaced, removed = plans[0], plans[1]
    out = []
    own = [m for m in measures if m["plan"] == replaced]
    for m in measures:
        if m["plan"] == removed or m is own[-1]:
            continue
        if m is own[0]:
            m = {**m, "text": m["text"] + " 新增：提供線上預約服務"}
        out.append(m)
    out.append({**own[0], "id": own[0]["id"] + "-new", "text": "設置愛心傘架供民眾借用", "year": None})
    return out


def _filters(records: list[dict]) -> list[dict]:
    """No filter, a year, an agency, and a unit and a system by name and by id (of the first records having one)."""
    out: list[dict] = [{}, {"year": [records[0]["year"]]}, {"agency": records[0]["agency"]}]
    for field, key in (("unit", "units"), ("system", "systems")):
        named = next(r[key][0] for r in records if r.get(key))
        out += [{field: named["name"]}, {field: named["id"]}]
    return out


def _same_answers(a: SearchIndex, b: SearchIndex, gone: list[dict] = ()) -> None:
    """The same hits, totals, facets and highlights for every query, mode and filter (also filters by what only
    the records `gone` had)."""
    for q in QUERIES:
        for mode in MODES:
            for filters in _filters([a.record(i) for i in range(len(a))]) + (_filters(gone) if gone else []):
                ra = a.query(q, mode=mode, limit=50, facets=True, **filters)
                rb = b.query(q, mode=mode, limit=50, facets=True, **filters)
                assert [(h["id"], h["score"], h["lexical_score"]) for h in ra.hits] == [
                    (h["id"], h["score"], h["lexical_score"]) for h in rb.hits
                ], (q, mode, filters)
                assert (ra.total, ra.facets, ra.highlight) == (rb.total, rb.facets, rb.highlight)
    mid = a.record(3)["id"]
    assert [(h["id"], h["score"]) for h in a.similar(mid)] == [(h["id"], h["score"]) for h in b.similar(mid)]


@pytest.fixture()
def own(index, measures, encoder) -> SearchIndex:
    """A copy of the session's index (no encoding), free to be given practice types."""
    return SearchIndex.from_vectors(measures, index.vectors, encoder)


def test_a_patched_index_answers_as_one_built_from_scratch(own, measures, encoder, tmp_path):
    own.set_practice_membership({m["id"]: ["t-a"] if i % 3 else ["t-b"] for i, m in enumerate(measures)})
    own.save(tmp_path / "old")
    old = SearchIndex.load(tmp_path / "old", encoder)
    changed = _changed(measures)
    patched = SearchIndex.build(changed, encoder, previous=old)
    assert patched.encoded == 2  # the edited measure and the new one
    assert patched.reused_rows == len(changed) - 2
    reuse = {content_key(m): np.array(patched.vectors[i]) for i, m in enumerate(changed)}
    fresh = SearchIndex.build(changed, encoder, reuse=reuse)  # the same vectors, postings and columns from scratch
    assert fresh.encoded == 0
    fresh._vectors = np.array(patched.vectors)  # row for row (two measures of one text may differ in the last bit)
    assert fresh.reused_rows == 0
    removed = [m for m in measures if m["plan"] == list(dict.fromkeys(m["plan"] for m in measures))[1]]
    _same_answers(patched, fresh, gone=removed)
    patched.save(tmp_path / "new")
    _same_answers(SearchIndex.load(tmp_path / "new", encoder), fresh, gone=removed)


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["copy_file_range", "copied-in-python"])
def test_rows_kept_whole_are_saved_as_a_build_from_scratch_saves_them(
    own, measures, encoder, tmp_path, monkeypatch, kernel_copy
):
    """Rows of unchanged plans, taken from the previous index without reading them (`unchanged`), are copied by
    ranges of its saved bytes: the saved rows equal a build's from scratch, and so do the rows asked for."""
    if not kernel_copy:

        def refused(*args, **kwargs):
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refused)
    own.save(tmp_path / "old")
    old = SearchIndex.load(tmp_path / "old", encoder)
    changed = _changed(measures)
    plans = list(dict.fromkeys(m["plan"] for m in measures))
    untouched = [m["id"] for m in changed if m["plan"] not in plans[:2]]
    # a plan in the middle re-ordered too: its rows are kept, but not as one run of the previous rows
    moved = plans[3]
    changed = [m for m in changed if m["plan"] != moved] + [m for m in changed if m["plan"] == moved][::-1]
    patched = SearchIndex.build(changed, encoder, previous=old, unchanged=untouched)
    assert patched.reused_rows == len(changed) - 2
    fresh = SearchIndex.build(changed, encoder, reuse={content_key(m): old.vectors[0] for m in changed})
    patched.save(tmp_path / "patched")
    fresh.save(tmp_path / "fresh")
    for name in ("records.jsonl", "records.offsets.npy"):
        assert (tmp_path / "patched" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name
    back = SearchIndex.load(tmp_path / "patched", encoder)
    assert [back.record(r) for r in range(len(back))] == [fresh.record(r) for r in range(len(fresh))]
    assert [patched._records.line(r) for r in range(len(patched))] == [
        fresh._records.line(r) for r in range(len(fresh))
    ]


def test_a_saved_index_is_opened_memory_mapped(own, measures, encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(arrays, "MAP_AT_BYTES", 0)  # the samples' arrays are all small: map every one
    own.set_practice_membership({measures[0]["id"]: ["t-a"]})
    own.save(tmp_path)
    back = SearchIndex.load(tmp_path, encoder)
    back.query("電話禮貌測試", facets=True)
    maps = Path("/proc/self/maps").read_text()
    for name in (
        "vectors.npy",
        "bm25.postings.rows.npy",
        "literal.flat.bin",
        "facet.agency.codes.npy",
        "records.jsonl",
    ):
        assert str(tmp_path / name) in maps, name
    assert not back._records._list  # no record parsed but the hits'


def test_the_vocabulary_terms_are_found_when_saved_and_looked_up_when_opened(own, encoder, tmp_path):
    own.save(tmp_path)
    back = SearchIndex.load(tmp_path, encoder)
    terms = list(dict.fromkeys(t for p in back.vocabulary.practices for t in p.terms))
    assert len(terms) > 100
    found = 0
    for t in terms:
        rows = back._literal.rows(t)
        assert rows.tolist() == own._literal._rows(t).tolist(), t  # what a substring test of every row gives
        found += bool(len(rows))
    assert found > 20
    assert back._literal._cache == {}  # none computed: all looked up in the table saved with the index
    assert back._literal.rows("愛心傘架借用").tolist() == own._literal._rows("愛心傘架借用").tolist()
    assert "愛心傘架借用" in back._literal._cache  # a phrase not in the table is tested as before


def test_the_vocabulary_terms_rows_are_patched_as_a_build_from_scratch_finds_them(own, measures, encoder, tmp_path):
    """An update tests only its new rows for the vocabulary's terms; the kept rows' are renumbered: the saved table
    is the one a build from scratch finds by testing every row."""
    own.save(tmp_path / "old")
    old = SearchIndex.load(tmp_path / "old", encoder)
    changed = _changed(measures)
    patched = SearchIndex.build(changed, encoder, previous=old)
    assert patched._literal._known is not None  # patched, not found again when saved
    fresh = SearchIndex.build(changed, encoder, reuse={content_key(m): old.vectors[0] for m in changed})
    assert fresh._literal._known is None
    patched.save(tmp_path / "patched")
    fresh.save(tmp_path / "fresh")
    names = sorted(p.name for p in (tmp_path / "fresh").glob("literal.known*"))
    assert len(names) >= 3
    for name in names:
        assert (tmp_path / "patched" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name
    table, rows = patched._literal._known
    found = {t: rows.get(i).tolist() for i, t in enumerate(table)}
    new_row = len(changed) - 1  # the added measure: 設置愛心傘架供民眾借用
    assert any(new_row in r for r in found.values())
    assert sum(map(len, found.values())) > 100


def test_an_index_saved_without_term_scores_or_known_phrases_answers_the_same(own, encoder, tmp_path):
    # an index saved before BM25 term scores and the vocabulary's rows were kept opens and answers as a new one
    own.save(tmp_path / "new")
    shutil.copytree(tmp_path / "new", tmp_path / "old")
    old = tmp_path / "old"
    for f in [old / "bm25.impacts.npy", *old.glob("literal.known*")]:
        f.unlink()
    manifest = json.loads((old / "manifest.json").read_text("utf-8"))
    del manifest["sizes"]["literal_known"]
    (old / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    back = SearchIndex.load(old, encoder)
    assert back._literal._known is None and back._bm25._impacts is None
    _same_answers(back, SearchIndex.load(tmp_path / "new", encoder))


def test_an_open_index_holds_few_file_descriptors(own, encoder, tmp_path):
    own.save(tmp_path)
    before = len(os.listdir("/proc/self/fd"))
    back = SearchIndex.load(tmp_path, encoder)
    back.query("電話禮貌測試", facets=True)
    # a server keeps an index per build and a test run many: one descriptor per array would exhaust select()'s 1024
    assert len(os.listdir("/proc/self/fd")) - before <= 8


@pytest.mark.parametrize(
    "name, damage",
    [
        ("vectors.npy", "truncate"),
        ("bm25.postings.rows.npy", "truncate"),
        ("literal.grams.hashes.npy", "garbage"),
        ("facet.year.codes.npy", "delete"),
        ("literal.flat.bin", "truncate"),
        ("literal.known-rows.rows.npy", "truncate"),
        ("records.jsonl", "truncate"),
        ("keys.npy", "delete"),
    ],
)
def test_a_damaged_index_file_is_named(own, encoder, tmp_path, name, damage):
    own.save(tmp_path)
    path = tmp_path / name
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not an array at all")
    else:
        path.unlink()
    with pytest.raises(IndexFormatError, match=name.replace(".", r"\.")):
        SearchIndex.load(tmp_path, encoder)


def test_rows_the_caller_knows_unchanged_are_taken_as_saved_and_the_index_is_the_same(own, measures, encoder, tmp_path):
    """`unchanged` (the measures of plans an update did not touch) skips serialising and hashing their records:
    the index saved is byte for byte the one built without it."""
    own.save(tmp_path / "old")
    old = SearchIndex.load(tmp_path / "old", encoder)
    changed = _changed(measures)
    replaced = measures[0]["plan"]
    unchanged = {m["id"] for m in changed if m["plan"] != replaced} | {"m-not-in-the-corpus"}
    hinted = SearchIndex.build(changed, encoder, previous=old, unchanged=unchanged)
    plain = SearchIndex.build(changed, encoder, previous=old)
    assert (hinted.encoded, hinted.reused_rows) == (plain.encoded, plain.reused_rows) == (2, len(changed) - 2)
    hinted.save(tmp_path / "hinted")
    plain.save(tmp_path / "plain")
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "hinted").iterdir())
    for name in names:
        assert (tmp_path / "hinted" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name
