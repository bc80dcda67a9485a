"""Normalisation and tokenisation of Traditional Chinese text for lexical matching."""

from __future__ import annotations

import re
import unicodedata

# Plans print the same character in several code points (full-width Latin, 帄 for 平,
# compatibility ideographs); fold them before anything is compared.
_FOLD = str.maketrans({"帄": "平", "臺": "台", "綫": "線", "裏": "裡", "衆": "眾"})
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:[.\-+][a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.\-+][a-z0-9]+)*|[\u3400-\u9fff\uf900-\ufaff]+")


def normalise(text: str) -> str:
    """NFKC, lower-case, variant characters folded, punctuation turned into spaces."""
    text = unicodedata.normalize("NFKC", text or "").lower().translate(_FOLD)
    return " ".join(_TOKEN.findall(text))


def tokens(text: str) -> list[str]:
    """Character 1- and 2-grams of each CJK run; ASCII words (1999, faq, wi-fi) kept whole."""
    out: list[str] = []
    for run in _TOKEN.findall(unicodedata.normalize("NFKC", text or "").lower().translate(_FOLD)):
        if _ASCII_WORD.fullmatch(run):
            out.append(run)
            continue
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def contains_term(normalised_text: str, term: str) -> bool:
    """Whether a vocabulary term occurs in already-normalised text, ignoring spaces."""
    t = normalise(term).replace(" ", "")
    return bool(t) and t in normalised_text.replace(" ", "")


def query_units(text: str) -> list[str]:
    """What a query is made of for coverage: ASCII words, and the character pairs of CJK runs (a lone character
    stands for itself); each once, in order."""
    out: list[str] = []
    for run in _TOKEN.findall(unicodedata.normalize("NFKC", text or "").lower().translate(_FOLD)):
        if _ASCII_WORD.fullmatch(run) or len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return list(dict.fromkeys(out))
