"""Keyword tagging: every vocabulary term a text contains is found, in vocabulary order."""

from index.textnorm import normalise
from index.vocab import PracticeTerm, Vocabulary, load_vocabulary


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
