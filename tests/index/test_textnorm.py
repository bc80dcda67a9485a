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
