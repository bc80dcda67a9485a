import math
from collections import Counter

import numpy as np

from index.arrays import Patch
from index.lexical import BM25
from index.textnorm import normalise, tokens
from index.vocab import load_vocabulary


def test_normalise_folds_width_case_variants_and_punctuation():
    assert normalise("ＦＡＱ，常見問題集（Q&A）") == "faq 常見問題集 q a"
    assert normalise("開放資料帄臺") == normalise("開放資料平台")


def test_tokens_are_cjk_unigrams_bigrams_and_whole_ascii_words():
    assert tokens("1999專線") == ["1999", "專", "線", "專線"]
    assert "wi-fi" in tokens("免費Wi-Fi")


def test_bm25_prefers_the_document_with_the_query_terms():
    bm = BM25().fit(["電話禮貌測試", "服務滿意度調查", "無障礙坡道"])
    s = bm.scores("禮貌測試")
    assert s.argmax() == 0 and s[2] == 0


def test_bm25_weighted_parts_never_exceed_the_typed_weight():
    bm = BM25().fit(["臉書粉絲專頁", "社群網站"])
    full = bm.scores("臉書")
    mixed = bm.scores([("臉書", 1.0), ("臉書 社群", 0.3)])
    assert mixed[0] == full[0] and mixed[1] > 0


def test_vocabulary_ascii_terms_match_whole_words_only():
    v = load_vocabulary()
    assert "digital-tech" not in v.matches("i-Taiwan 免費上網")
    assert "free-wifi" in v.matches("提供i-Taiwan免費上網")
    assert "social-media" in v.matches("經營FB粉絲專頁")


def test_question_frames_are_stripped():
    assert load_vocabulary().strip_frames("哪些機關有提供免費Wi-Fi？") == "提供免費Wi-Fi"


def _okapi(docs: list[str], query: str, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 by its textbook formula, straight from the documents' tokens."""
    counts = [Counter(tokens(d)) for d in docs]
    avg = sum(sum(c.values()) for c in counts) / len(docs)
    out = []
    for c in counts:
        score = 0.0
        for t in set(tokens(query)):
            df = sum(t in other for other in counts)
            if not df or t not in c:
                continue
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            score += idf * c[t] * (k1 + 1) / (c[t] + k1 * (1 - b + b * sum(c.values()) / avg))
        out.append(score)
    return out


def test_bm25_scores_are_okapi_built_saved_opened_and_patched(tmp_path):
    docs = ["電話禮貌測試", "服務滿意度調查與電話訪問", "無障礙坡道", "禮貌運動", "電話電話電話"]
    bm = BM25().fit(docs)
    bm.save(tmp_path)
    back = BM25.open(tmp_path, len(docs), len(bm.terms))
    for q in ("電話禮貌", "坡道", "調查 測試", "沒有的詞"):
        assert np.allclose(bm.scores(q), _okapi(docs, q), rtol=1e-5, atol=1e-6), q
        assert np.array_equal(back.scores(q), bm.scores(q)), q
    # row 1 gone, a new document at the end: the patched index scores as one fitted on the new documents
    new_docs = [docs[0], docs[2], docs[3], docs[4], "電話預約服務"]
    patch = Patch.of(np.array([0, 2, 3, 4, -1]), len(docs))
    assert patch.old_to_new.tolist() == [0, -1, 1, 2, 3] and patch.new.tolist() == [4]
    patched = back.patched(patch, [Counter(tokens("電話預約服務"))])
    for q in ("電話禮貌", "服務", "預約"):
        assert np.allclose(patched.scores(q), _okapi(new_docs, q), rtol=1e-5, atol=1e-6), q
