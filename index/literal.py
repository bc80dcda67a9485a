"""Which measures contain a word or phrase literally: character-pair postings narrow, a substring test decides."""

from __future__ import annotations

import mmap
import re
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from index.arrays import Patch, Postings, Strings, open_array, runs, save_array
from index.errors import IndexFormatError
from index.query import literal_key
from index.textnorm import normalise

_ASCII = re.compile(r"[a-z0-9 .\-+]+")
CACHE_SIZE = 1024  # phrases whose rows are remembered (vocabulary synonyms recur from query to query)


def literal_forms(text: str) -> tuple[str, str]:
    """The two forms a row is matched in: normalised without spaces (CJK phrases broken by line breaks still match)
    and normalised with token spaces around (ASCII words match whole)."""
    norm = normalise(text)
    return norm.replace(" ", ""), f" {norm} "


class LiteralIndex:
    """The normalised texts of the rows (two UTF-8 blobs), with the rows of every character pair (and ASCII word)."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        forms = [literal_forms(t) for t in texts]
        ids: dict[str, int] = {}
        keys, rows = _entries([f for f, _ in forms], ids)
        self._set(
            [f for f, _ in forms],
            [p for _, p in forms],
            Strings.pack(list(ids), lookup=True),
            Postings.from_pairs(keys, rows, len(ids)),
        )

    def _set(self, flat, padded, grams: Strings, postings: Postings) -> None:
        """flat and padded: lists of str (built) or (buffer, offsets) pairs (opened)."""
        if isinstance(flat, list):
            self._flat = _Texts.of(flat)
            self._padded = _Texts.of(padded)
        else:
            self._flat, self._padded = flat, padded
        self.grams, self.postings = grams, postings
        self._cache: dict[str, np.ndarray] = {}
        self._known: tuple[Strings, Postings] | None = None  # phrases whose rows were found when the index was saved

    def prepare(self, phrases: Iterable[str]) -> None:
        """Find the rows of these phrases now, to be saved with the index: the vocabulary's terms, which every query
        that expands to them tests (at 100k rows the substring tests of a query's synonyms took ~3 ms). Nothing to
        do when they are those of the table this index has (one patched from an index that had it)."""
        table = list(dict.fromkeys(p for p in phrases if p))
        if self._known is not None and len(self._known[0]) == len(table) and list(self._known[0]) == table:
            return
        found = [self._rows(p) for p in table]
        keys = np.repeat(np.arange(len(table), dtype=np.int64), [len(r) for r in found])
        rows = np.concatenate(found) if found else np.zeros(0, np.int64)
        self._known = (Strings.pack(table, lookup=True), Postings.from_pairs(keys, rows, len(table)))

    def __len__(self) -> int:
        return len(self._flat)

    def contains(self, phrase: str) -> np.ndarray:
        """Boolean mask of the rows whose text contains the phrase (normalised; ASCII words as whole words)."""
        out = np.zeros(len(self), dtype=bool)
        out[self.rows(phrase)] = True
        return out

    def rows(self, phrase: str) -> np.ndarray:
        """The rows whose text contains the phrase, ascending."""
        hit = self._cache.get(phrase)
        if hit is None and self._known is not None:
            table, postings = self._known
            (i,) = table.find([phrase])
            if i >= 0:
                return np.asarray(postings.get(int(i)), dtype=np.int64)
        if hit is None:
            hit = self._rows(phrase)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[phrase] = hit
        return hit

    def _rows(self, phrase: str, among: dict[int, set[int]] | None = None) -> np.ndarray:
        """The rows containing the phrase, ascending; `among`: only these rows (each with the ids of its grams)."""
        key = literal_key(phrase)
        if not key:
            return np.zeros(0, dtype=np.int64)
        grams = list(dict.fromkeys(_grams(key)))
        cands = self._candidates(grams) if among is None else self._candidates_among(grams, among)
        norm = normalise(phrase)
        if _ASCII.fullmatch(norm):
            texts, needle = self._padded, f" {norm} ".encode()
        elif len(grams) == 1 and len(key) <= 2:
            return np.sort(cands)  # a pair (or one character) is exactly what its postings hold
        else:
            texts, needle = self._flat, key.encode("utf-8")
        return np.asarray([r for r in np.sort(cands).tolist() if needle in texts.raw(r)], dtype=np.int64)

    def _candidates_among(self, grams: Sequence[str], among: dict[int, set[int]]) -> np.ndarray:
        """The rows of `among` having every one of these grams."""
        ids = self.grams.find(grams)
        if (ids < 0).any():
            return np.zeros(0, dtype=np.int64)
        need = set(ids.tolist())
        return np.asarray([r for r, have in among.items() if need <= have], dtype=np.int64)

    def document_frequency(self, phrase: str) -> int:
        return len(self.rows(phrase))

    def _candidates(self, grams: Sequence[str]) -> np.ndarray:
        ids = self.grams.find(grams)
        if (ids < 0).any():
            return np.zeros(0, dtype=np.int64)
        rows: np.ndarray | None = None
        for g in sorted(ids.tolist(), key=self.postings.size):
            post = np.asarray(self.postings.get(g), dtype=np.int64)
            rows = post if rows is None else np.intersect1d(rows, post, assume_unique=True)
            if not len(rows):
                break
        return rows if rows is not None else np.arange(len(self), dtype=np.int64)

    def patched(self, patch: Patch, texts: Sequence[str]) -> LiteralIndex:
        """This index with its rows renumbered as the patch keeps them and new texts at the patch's new rows."""
        forms = [literal_forms(t) for t in texts]
        ids = {g: i for i, g in enumerate(self.grams)}
        keys, rows = _entries([f for f, _ in forms], ids)
        rows = patch.new[rows]
        new = patch.new.tolist()
        flat = self._flat.spliced(patch.kept, {j: f.encode("utf-8") for j, (f, _) in zip(new, forms, strict=True)})
        padded = self._padded.spliced(patch.kept, {j: p.encode("utf-8") for j, (_, p) in zip(new, forms, strict=True)})
        out = LiteralIndex.__new__(LiteralIndex)
        grams = Strings.pack(list(ids), lookup=True) if len(ids) > len(self.grams) else self.grams
        out._set(
            flat,
            padded,
            grams,
            self.postings.patched(patch.old_to_new, len(ids), keys, rows),
        )
        if self._known is not None:
            out._known = self._known_patched(out, patch, keys, rows)
        return out

    def _known_patched(
        self, out: LiteralIndex, patch: Patch, keys: np.ndarray, rows: np.ndarray
    ) -> tuple[Strings, Postings]:
        """The rows of this index's prepared phrases in `out` (this index patched): the kept ones renumbered, and
        the new rows containing them (only those tested: 0.5 s for the 715 terms at 100k rows, tested whole)."""
        table, postings = self._known
        among: dict[int, set[int]] = {int(r): set() for r in patch.new.tolist()}
        for k, r in zip(keys.tolist(), rows.tolist(), strict=True):
            among[r].add(k)
        found = []
        for i, phrase in enumerate(table):
            kept = patch.old_to_new[np.asarray(postings.get(i), dtype=np.int64)]
            found.append(np.sort(np.concatenate([kept[kept >= 0], out._rows(phrase, among)])))
        n = np.repeat(np.arange(len(found), dtype=np.int64), [len(f) for f in found])
        return table, Postings.from_pairs(n, np.concatenate(found) if found else np.zeros(0, np.int64), len(found))

    def save(self, directory: Path) -> int:
        """Write the texts and postings (and the prepared phrases); the number of prepared phrases, for open()."""
        self._flat.save(directory, "literal.flat")
        self._padded.save(directory, "literal.padded")
        self.grams.save(directory, "literal.grams")
        self.postings.save(directory, "literal.postings")
        if self._known is None:
            return 0
        table, postings = self._known
        table.save(directory, "literal.known")
        postings.save(directory, "literal.known-rows")
        return len(table)

    @classmethod
    def open(cls, directory: Path, rows: int, grams: int, known: int = 0) -> LiteralIndex:
        out = cls.__new__(cls)
        out._set(
            _Texts.open(directory, "literal.flat", rows),
            _Texts.open(directory, "literal.padded", rows),
            Strings.open(directory, "literal.grams", grams, lookup=True),
            Postings.open(directory, "literal.postings", grams),
        )
        if known:
            out._known = (
                Strings.open(directory, "literal.known", known, lookup=True),
                Postings.open(directory, "literal.known-rows", known),
            )
        return out


class _Texts:
    """Row texts as one UTF-8 buffer (bytes when built, a read-only mmap of a .bin file when opened)."""

    def __init__(self, data, offsets: np.ndarray) -> None:
        self.data, self.offsets = data, offsets
        self._o = None

    @classmethod
    def of(cls, texts: Sequence[str]) -> _Texts:
        return cls.of_bytes([t.encode("utf-8") for t in texts])

    @classmethod
    def of_bytes(cls, data: Sequence[bytes]) -> _Texts:
        offsets = np.zeros(len(data) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in data], out=offsets[1:])
        return cls(b"".join(data), offsets)

    def spliced(self, kept: np.ndarray, fresh: dict[int, bytes]) -> _Texts:
        """The texts of new rows: row j is old row kept[j] (taken by runs of consecutive old rows), or fresh[j]
        where kept[j] is -1."""
        kept = np.asarray(kept, dtype=np.int64)
        taken = kept >= 0
        sizes = np.zeros(len(kept), dtype=np.int64)
        sizes[taken] = self.offsets[kept[taken] + 1] - self.offsets[kept[taken]]
        for j, b in fresh.items():
            sizes[j] = len(b)
        offsets = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        parts = []
        for a, b in runs(kept, taken):
            if taken[a]:
                parts.append(self.data[int(self.offsets[kept[a]]) : int(self.offsets[kept[b - 1] + 1])])
            else:
                parts.append(fresh[a])
        return _Texts(b"".join(parts), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, row: int) -> bytes:
        if self._o is None:
            self._o = self.offsets.tolist()
        return self.data[self._o[row] : self._o[row + 1]]

    def save(self, directory: Path, name: str) -> None:
        (directory / f"{name}.bin").write_bytes(bytes(self.data))
        save_array(directory, f"{name}.offsets", self.offsets)

    @classmethod
    def open(cls, directory: Path, name: str, rows: int) -> _Texts:
        offsets = open_array(directory, f"{name}.offsets", "int64", rows + 1)
        path = directory / f"{name}.bin"
        try:
            with open(path, "rb") as f:
                size = f.seek(0, 2)
                if size != int(offsets[-1]):
                    raise IndexFormatError(
                        f"{path}: {size} bytes, the index expects {int(offsets[-1])}; rebuild the index"
                    )
                data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        except FileNotFoundError:
            raise IndexFormatError(f"{path}: missing from the saved index; rebuild the index") from None
        return cls(data, offsets)


def _entries(flats: Sequence[str], ids: dict[str, int]):
    keys, rows = array("q"), array("q")
    for row, flat in enumerate(flats):
        grams = set(_grams(flat))
        keys.extend(ids.setdefault(g, len(ids)) for g in grams)
        rows.extend([row] * len(grams))
    return (
        np.frombuffer(keys, dtype=np.int64) if keys else np.zeros(0, np.int64),
        np.frombuffer(rows, dtype=np.int64) if rows else np.zeros(0, np.int64),
    )


def _grams(flat: str) -> list[str]:
    if len(flat) < 2:
        return [flat] if flat else []
    return [flat[i : i + 2] for i in range(len(flat) - 1)]
