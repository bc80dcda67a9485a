"""Keyword tagging: every vocabulary term a text contains is found, in vocabulary order."""

import pytest

from index.textnorm import normalise
from index.vocab import PracticeTerm, Vocabulary, WordGroup, load_vocabulary


def _every_term(vocab: Vocabulary, text: str) -> dict[str, list[str]]:
    """The matches by comparing the text with each term in turn (what Vocabulary.matches must equal)."""
    norm = normalise(text)
    padded, flat = f" {norm} ", norm.replace(" ", "")
    out: dict[str, list[str]] = {}
    for p in vocab.practices:
        for t in p.terms:
            key = normalise(t)
            if key and (f" {key} " in padded if key.isascii() else key.replace(" ", "") in flat):
                out.setdefault(p.id, []).append(t)
    return out


def test_matches_find_every_term_of_every_type_in_vocabulary_order(measures):
    vocab = load_vocabulary()
    for m in measures:
        for text in (m.get("title") or "", m["text"]):
            assert vocab.matches(text) == _every_term(vocab, text)
            assert list(vocab.matches(text)) == list(_every_term(vocab, text))


def test_terms_sharing_characters_and_nested_terms_are_all_found():
    vocab = Vocabulary(
        [
            PracticeTerm("b", "專線", ("1999專線", "服務專線")),
            PracticeTerm("a", "服務", ("線上服務", "wi-fi")),
        ]
    )
    found = vocab.matches("設置1999專線與線上服務專線，提供免費Wi-Fi")
    assert found == {"b": ["專線", "1999專線", "服務專線"], "a": ["服務", "線上服務", "wi-fi"]}
    assert list(found) == ["b", "a"]


def test_everyday_words_bring_the_plans_wording_and_only_what_the_text_lacks():
    vocab = Vocabulary(
        [],
        words=[
            WordGroup(("電梯",), ("升降梯", "昇降機")),
            WordGroup(("免費上網", "無線上網"), ("wifi",)),
            WordGroup(("同仁", "員工"), ("同事",)),
        ],
    )
    assert vocab.plan_words("大樓的升降梯多久檢查一次") == ["電梯"]
    assert vocab.plan_words("辦事處有WiFi嗎") == ["免費上網", "無線上網"]  # ASCII whole words, any width or case
    assert vocab.plan_words("wifimax 測速") == []  # not inside another word
    assert vocab.plan_words("同事與員工") == ["同仁"]  # 員工 is already there
    assert vocab.plan_words("電梯") == []  # a plan word alone brings nothing new
    assert vocab.plan_words("恐龍化石") == []


def test_the_bundled_word_groups_load_and_no_everyday_word_is_a_plan_word_elsewhere():
    vocab = load_vocabulary()
    assert len(vocab.words) >= 80
    plan = {normalise(t) for g in vocab.words for t in g.plan}
    everyday = [normalise(t) for g in vocab.words for t in g.everyday]
    assert all(g.plan for g in vocab.words)
    assert plan.isdisjoint(everyday), sorted(plan & set(everyday))
    assert vocab.plan_words("每隔一段時間請人檢查升降梯和冷氣") == ["電梯", "空調"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('[[word]]\neveryday = ["升降梯"]\n', "[[word]] number 1 needs a list `plan`"),
        ('[[word]]\nplan = "電梯"\n', "[[word]] number 1 needs a list `plan`"),
        (
            '[[word]]\nplan = ["電梯"]\n[[word]]\nplan = ["空調"]\neveryday = [" "]\n',
            "[[word]] number 2 has an empty word",
        ),
    ],
)
def test_a_malformed_word_group_is_refused_naming_the_file_and_the_group(tmp_path, body, error):
    path = tmp_path / "vocab.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError) as e:
        load_vocabulary(path)
    assert str(path) in str(e.value) and error in str(e.value)
