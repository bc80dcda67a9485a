"""Honest hits: the relevance floor, the query syntax, true totals, facets over all matches, pagination."""

from __future__ import annotations

import numpy as np
import pytest

from bench.corpus import load_heldout_nonsense, load_own_queries
from bench.evaluation import resolve_judgments
from index.literal import LiteralIndex
from index.measures import literal_text
from index.query import parse_query
from index.search import UNKNOWN, SearchIndex, _page
from index.textnorm import normalise

NONSENSE = ["恐龍化石", "zzzzqqq", "太空梭", "如何烤出好吃的披薩", "量子力學"]


def _containing(measures, *words, without=()):
    def has(m, w):
        return normalise(w).replace(" ", "") in normalise(literal_text(m)).replace(" ", "")

    return {m["id"] for m in measures if all(has(m, w) for w in words) and not any(has(m, w) for w in without)}


def _all(index: SearchIndex, q: str, **kw):
    r = index.query(q, limit=len(index), **kw)
    return r, {h["id"] for h in r.hits}


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense"])
@pytest.mark.parametrize("q", NONSENSE)
def test_nonsense_matches_nothing(index, q, mode):
    r = index.query(q, mode=mode, facets=True)
    assert r.total == 0 and r.hits == [] and all(not v for v in r.facets.values())


def test_scores_are_probabilities_not_min_max(index):
    r = index.query("電話禮貌測試", limit=5)
    assert r.calibrated and r.total >= 5
    assert all(0 < h["score"] < 1 for h in r.hits)
    assert all(h["score"] >= r.floor for h in r.hits)
    weak = index.query("機關", limit=1).hits  # a word every plan uses answers nothing in particular
    assert not weak or weak[0]["score"] < r.hits[0]["score"]


@pytest.mark.parametrize("phrase", ["1999", "禮貌測試", "滿意度調查", "無障礙", "Facebook"])
def test_a_quoted_phrase_returns_exactly_the_measures_containing_it(index, measures, phrase):
    want = _containing(measures, phrase)
    assert want
    for q in (f'"{phrase}"', f"「{phrase}」"):
        r, got = _all(index, q)
        assert got == want and r.total == len(want) and r.floor is None


def test_several_phrases_must_all_occur(index, measures):
    want = _containing(measures, "電話", "禮貌")
    r, got = _all(index, '"電話" "禮貌"')
    assert got == want and r.total == len(want) and 0 < len(want) < len(_containing(measures, "電話"))


def test_an_exclusion_removes_every_measure_containing_it(index, measures):
    r, got = _all(index, '"服務" -網站')
    assert got == _containing(measures, "服務", without=["網站"])
    r, got = _all(index, "臉書 -粉絲專頁")
    assert got and not got & _containing(measures, "粉絲專頁")
    assert "粉絲專頁" not in r.expansions


@pytest.mark.parametrize("q", load_heldout_nonsense())
def test_unseen_nonsense_matches_nothing_in_hybrid_mode(index, q):
    # queries the calibration never saw (bench/data/nonsense_heldout.json): the floors hold beyond their fit
    assert index.query(q).total == 0


def test_most_off_topic_queries_in_everyday_words_match_nothing(index):
    # 籃球比賽結果 or 手機遊戲推薦 use words the vocabulary maps to the plans' wording (比賽 -> 評獎, 手機 -> APP):
    # a few get through the floor (bench.eval_search counts them), most must not
    everyday = load_heldout_nonsense(everyday=True)
    assert sum(index.query(q).total == 0 for q in everyday) >= len(everyday) // 2


def test_a_paraphrase_sharing_no_word_is_answered_on_meaning(index, measures):
    # 'sort the office's rubbish first and keep what can be used again' in everyday words: no measure shares its
    # wording, so only its meaning can answer it, and the measures judged for it must be among the first matches.
    (query,) = [q for q in load_own_queries()[0] if q["query"].startswith("辦公室丟東西前先分好種類")]
    assert max(index.relevance_features(query["query"])["coverage"]) < 0.1
    r = index.query(query["query"], limit=10)
    judged = resolve_judgments([query], measures)[query["id"]]
    assert r.total > 0 and {h["id"] for h in r.hits} & set(judged)
    words_only = index.query(query["query"], mode="lexical", expand=False)
    assert words_only.total == 0


def test_everyday_words_also_search_the_plans_wording_but_not_words_everywhere(index, measures):
    r = index.query("升降梯", limit=5)
    assert "電梯" in r.expansions and "電梯" in r.highlight
    assert r.hits and "電梯" in r.hits[0]["text"]
    assert index.query("升降梯", expand=False).expansions == []
    # 辦事 is everyday wording for 申辦 and 申請, but those are in more than a twentieth of all measures
    assert len(_containing(measures, "申請")) > len(measures) / 20
    assert not {"申辦", "申請"} & set(index.query("辦事時手機沒電", limit=1).expansions)


def test_only_exclusions_ask_for_nothing(index):
    r = index.query("-服務")
    assert r.total == 0 and not parse_query("-服務").positive


def test_literal_mode_requires_every_word_and_expands_nothing(index, measures):
    r, got = _all(index, "臉書", mode="literal")
    assert got == _containing(measures, "臉書") and r.expansions == []
    expanded = index.query("臉書")
    assert {"Facebook", "粉絲專頁"} <= set(expanded.expansions)


def test_no_expansion_searches_only_the_typed_words(index):
    assert index.query("臉書", expand=False).expansions == []


def test_total_facets_and_pages_cover_every_match(index):
    r = index.query("線上申辦", limit=5, facets=True)
    assert r.total > 5
    assert sum(r.facets["agency"].values()) == r.total
    assert sum(r.facets["year"].values()) == r.total
    pages = [index.query("線上申辦", limit=5, offset=o).hits for o in range(0, r.total, 5)]
    ids = [h["id"] for p in pages for h in p]
    assert len(ids) == len(set(ids)) == r.total
    agency, n = next(iter(r.facets["agency"].items()))
    narrowed = index.query("線上申辦", facets=True, agency=agency)
    assert narrowed.total == n
    # a facet is counted without its own filter, so the other agencies stay visible to add
    assert narrowed.facets["agency"] == r.facets["agency"]


def test_each_page_is_the_slice_of_the_whole_ranking(index):
    whole = [h["id"] for h in index.query("服務", limit=len(index)).hits]
    assert len(whole) > 40
    for offset, limit in ((0, 10), (7, 5), (30, 20), (len(whole) - 3, 10), (len(whole), 5), (0, 0)):
        page = [h["id"] for h in index.query("服務", limit=limit, offset=offset).hits]
        assert page == whole[offset : offset + limit]


def test_a_page_is_ranked_by_score_then_bm25_then_row_even_with_ties():
    rng = np.random.default_rng(7)
    score = rng.integers(0, 6, 500).astype(np.float32) / 5  # few distinct values: many ties at a page's edge
    lex = rng.integers(0, 3, 500).astype(np.float32)
    rows = np.flatnonzero(rng.random(500) < 0.6)
    for tie in (lex, None):
        full = rows[np.lexsort((rows, -tie[rows] if tie is not None else rows, -score[rows]))]
        for offset, limit in ((0, 1), (0, 10), (13, 17), (100, 50), (len(rows) - 1, 5), (0, len(rows) + 1)):
            assert _page(rows, score, tie, offset, limit).tolist() == full[offset : offset + limit].tolist()
    assert _page(rows[:0], score, lex, 0, 10).tolist() == []


def test_year_facet_and_filter_know_plans_without_a_year(measures, encoder):
    ms = [dict(m, year=None) if m["agency"] == measures[0]["agency"] else m for m in measures]
    idx = SearchIndex.build(ms, encoder)
    r = idx.query('"服務"', facets=True)
    assert UNKNOWN in r.facets["year"]
    undated = idx.query('"服務"', year=[UNKNOWN])
    assert undated.total == r.facets["year"][UNKNOWN]
    assert all(h["year"] is None for h in undated.hits)


def test_highlight_marks_typed_words_and_synonyms_not_common_pairs(index):
    r = index.query("臉書服務")
    assert "臉書服務" in r.highlight and "Facebook" in r.highlight
    assert "服務" not in r.highlight  # in far more than a fifth of all measures
    assert all(len(t) >= 2 for t in r.highlight)


def test_literal_index_matches_across_widths_and_line_breaks():
    li = LiteralIndex(["使用ＦＢ粉絲 專頁", "fbi 探員", "1999專線"])
    assert li.contains("FB").tolist() == [True, False, False]
    assert li.contains("粉絲專頁").tolist() == [True, False, False]
    assert li.contains("1999").tolist() == [False, False, True]


def test_an_uncalibrated_encoder_still_ranks_and_says_so(measures, fake_encoder):
    idx = SearchIndex.build(measures, fake_encoder)
    r = idx.query("電話禮貌測試", limit=3)
    assert not r.calibrated and r.floor is None and len(r.hits) == 3
