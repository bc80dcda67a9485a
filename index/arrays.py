"""The saved index as flat arrays: .npy files opened memory-mapped, strings as UTF-8 blobs, postings as CSR."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import IndexFormatError

MAP_AT_BYTES = 1 << 20  # arrays this large or larger are memory-mapped, smaller ones read whole


def save_array(directory: Path, name: str, a: np.ndarray) -> None:
    np.save(directory / f"{name}.npy", np.ascontiguousarray(a), allow_pickle=False)


def open_array(directory: Path, name: str, dtype: str | None = None, length: int | None = None) -> np.ndarray:
    """A saved array, memory-mapped (only the pages a query touches are read); IndexFormatError naming the file
    when it is missing, truncated, of another type or of another length than the index says."""
    path = Path(directory) / f"{name}.npy"
    try:
        # Each mapping holds a file descriptor for as long as it lives; small arrays are read instead, so that an
        # open index holds a few descriptors (a server keeps one index per build, tests many), not one per array.
        mapped = path.stat().st_size >= MAP_AT_BYTES
        a = np.load(path, mmap_mode="r" if mapped else None, allow_pickle=False)
    except FileNotFoundError:
        raise IndexFormatError(f"{path}: missing from the saved index; rebuild the index") from None
    except (OSError, ValueError, EOFError) as exc:
        raise IndexFormatError(f"{path}: unreadable ({exc}); rebuild the index") from None
    if dtype is not None and a.dtype != np.dtype(dtype):
        raise IndexFormatError(f"{path}: holds {a.dtype}, expected {dtype}; rebuild the index")
    if length is not None and len(a) != length:
        raise IndexFormatError(f"{path}: {len(a)} entries, expected {length}; rebuild the index")
    return a.view(np.ndarray)  # the same mapped pages, without np.memmap's cost on every slice


def term_hash(terms: Iterable[str]) -> np.ndarray:
    """64-bit digests of strings (stable across runs, unlike hash()), to look terms up with one searchsorted."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little", signed=True)
            for t in terms
        ],
        dtype=np.int64,
    )


class Strings:
    """A list of strings kept as one UTF-8 blob and offsets; with `lookup`, a table from string to position."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, order: np.ndarray | None = None, hashes=None) -> None:
        self.blob, self.offsets = blob, offsets
        self._order, self._hashes = order, hashes  # positions sorted by digest, and the sorted digests

    @classmethod
    def pack(cls, strings: Sequence[str], lookup: bool = False) -> Strings:
        data = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(data) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in data], out=offsets[1:])
        blob = np.frombuffer(b"".join(data), dtype=np.uint8) if data else np.zeros(0, dtype=np.uint8)
        out = cls(blob, offsets)
        if lookup:
            out._index(term_hash(strings))
        return out

    def _index(self, hashes: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        sorted_h = hashes[order]
        if len(sorted_h) > 1 and (sorted_h[1:] == sorted_h[:-1]).any():
            raise ValueError("two terms share a 64-bit digest")  # never seen; the table would be ambiguous
        self._order, self._hashes = order.astype(np.int64), sorted_h

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        return self.blob[self.offsets[i] : self.offsets[i + 1]].tobytes()

    def __getitem__(self, i: int) -> str:
        return self.raw(i).decode("utf-8")

    def __iter__(self):
        data = self.blob.tobytes()
        o = self.offsets.tolist()
        for i in range(len(self)):
            yield data[o[i] : o[i + 1]].decode("utf-8")

    def find(self, strings: Sequence[str]) -> np.ndarray:
        """Position of each string, -1 for those not held."""
        if self._hashes is None:
            raise ValueError("this string list was packed without a lookup table")
        out = np.full(len(strings), -1, dtype=np.int64)
        if not len(strings) or not len(self._hashes):
            return out
        h = term_hash(strings)
        at = np.minimum(np.searchsorted(self._hashes, h), len(self._hashes) - 1)
        hit = self._hashes[at] == h
        for j in np.flatnonzero(hit):
            pos = int(self._order[at[j]])
            if self.raw(pos) == strings[j].encode("utf-8"):
                out[j] = pos
        return out

    def save(self, directory: Path, name: str) -> None:
        save_array(directory, f"{name}.blob", self.blob)
        save_array(directory, f"{name}.offsets", self.offsets)
        if self._hashes is not None:
            save_array(directory, f"{name}.order", self._order)
            save_array(directory, f"{name}.hashes", self._hashes)

    @classmethod
    def open(cls, directory: Path, name: str, length: int | None = None, lookup: bool = False) -> Strings:
        offsets = open_array(directory, f"{name}.offsets", "int64", None if length is None else length + 1)
        blob = open_array(directory, f"{name}.blob", "uint8")
        if len(offsets) and int(offsets[-1]) != len(blob):
            raise IndexFormatError(f"{Path(directory) / name}.blob.npy: does not end where its offsets say")
        if not lookup:
            return cls(blob, offsets)
        n = len(offsets) - 1
        return cls(
            blob,
            offsets,
            open_array(directory, f"{name}.order", "int64", n),
            open_array(directory, f"{name}.hashes", "int64", n),
        )


class Postings:
    """Rows per key (a term, a facet value) in CSR form: rows[offsets[k]:offsets[k + 1]], with an optional weight
    per entry (a term frequency)."""

    def __init__(self, offsets: np.ndarray, rows: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.offsets, self.rows, self.weights = offsets, rows, weights

    @classmethod
    def from_pairs(cls, keys: np.ndarray, rows: np.ndarray, n_keys: int, weights: np.ndarray | None = None) -> Postings:
        """Entries (key, row[, weight]) in any order; within a key, rows keep the order given."""
        order = np.argsort(keys, kind="stable")
        counts = np.bincount(keys, minlength=n_keys) if len(keys) else np.zeros(n_keys, dtype=np.int64)
        offsets = np.zeros(n_keys + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(
            offsets,
            np.asarray(rows, dtype=np.int32)[order],
            None if weights is None else np.asarray(weights, dtype=np.float32)[order],
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, key: int) -> np.ndarray:
        return self.rows[self.offsets[key] : self.offsets[key + 1]]

    def weight(self, key: int) -> np.ndarray:
        assert self.weights is not None
        return self.weights[self.offsets[key] : self.offsets[key + 1]]

    def size(self, key: int) -> int:
        return int(self.offsets[key + 1] - self.offsets[key])

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def keys_of_entries(self) -> np.ndarray:
        return np.repeat(np.arange(len(self), dtype=np.int64), self.sizes())

    def patched(self, row_map: np.ndarray, n_keys: int, keys: np.ndarray, rows: np.ndarray, weights=None) -> Postings:
        """These postings with rows renumbered by row_map (-1: the row is gone) and the entries (keys, rows,
        weights) of new rows added; keys may now number n_keys (new ones at the end)."""
        new_rows = row_map[self.rows]
        keep = new_rows >= 0
        whole = bool(keep.all())  # nothing removed (a plan added): the kept entries are all of them
        # Kept entries before each key's first (and in all): where a key's entries now start, without listing the
        # key of each of the millions of entries, nor counting them (a cumulative sum over all entries). The new
        # entries go after the kept ones of their key (as from_pairs of the kept entries followed by the new ones
        # would order them), without sorting the kept ones again.
        bounds = np.asarray(self.offsets, dtype=np.int64)
        if not whole:  # a key now starts earlier by the entries removed before it (few: those of one plan's rows)
            bounds = bounds - np.searchsorted(np.flatnonzero(~keep), bounds)
        keys = np.asarray(keys, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        at = bounds[np.minimum(keys[order] + 1, len(bounds) - 1)]
        kept_rows = new_rows if whole else new_rows[keep]
        r = np.insert(kept_rows.astype(np.int32, copy=False), at, np.asarray(rows, dtype=np.int32)[order])
        w = None
        if self.weights is not None:
            kept_weights = np.asarray(self.weights) if whole else np.asarray(self.weights)[keep]
            w = np.insert(kept_weights, at, np.asarray(weights, dtype=np.float32)[order])
        counts = np.zeros(n_keys, dtype=np.int64)
        counts[: len(self)] = np.diff(bounds)
        counts += np.bincount(keys, minlength=n_keys)
        offsets = np.zeros(n_keys + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return Postings(offsets, r, w)

    def save(self, directory: Path, name: str) -> None:
        save_array(directory, f"{name}.offsets", self.offsets)
        save_array(directory, f"{name}.rows", self.rows)
        if self.weights is not None:
            save_array(directory, f"{name}.weights", self.weights)

    @classmethod
    def open(cls, directory: Path, name: str, n_keys: int, weighted: bool = False) -> Postings:
        offsets = open_array(directory, f"{name}.offsets", "int64", n_keys + 1)
        rows = open_array(directory, f"{name}.rows", "int32")
        if int(offsets[-1]) != len(rows):
            raise IndexFormatError(f"{Path(directory) / name}.rows.npy: does not end where its offsets say")
        weights = open_array(directory, f"{name}.weights", "float32", len(rows)) if weighted else None
        return cls(offsets, rows, weights)


@dataclass(frozen=True)
class Patch:
    """How the rows of an index change in an update: kept[j] is the old row of new row j (-1: a new row),
    old_to_new[i] the new row of old row i (-1: gone), new the new rows, ascending."""

    kept: np.ndarray
    old_to_new: np.ndarray
    new: np.ndarray

    @classmethod
    def of(cls, kept: np.ndarray, old_rows: int) -> Patch:
        old_to_new = np.full(old_rows, -1, dtype=np.int64)
        have = kept >= 0
        old_to_new[kept[have]] = np.flatnonzero(have)
        return cls(kept, old_to_new, np.flatnonzero(~have))


def runs(source_rows: np.ndarray, taken: np.ndarray) -> list[tuple[int, int]]:
    """The rows 0..n-1 cut into [start, end) pieces, in order: a row not taken (a new one) alone, and runs of taken
    rows whose source rows follow one another (copied as one range of bytes)."""
    goes_on = np.zeros(len(taken), dtype=bool)  # j goes on j - 1's run: both taken, j's source row the next one
    goes_on[1:] = taken[1:] & taken[:-1] & (source_rows[1:] == source_rows[:-1] + 1)
    starts = np.flatnonzero(~goes_on).tolist() + [len(taken)]
    return list(zip(starts[:-1], starts[1:], strict=True))


def take_rows(dest: np.ndarray, source: np.ndarray, source_rows: np.ndarray) -> None:
    """dest[j] = source[source_rows[j]] for every j with source_rows[j] >= 0, by runs of consecutive source rows:
    from a memory-mapped array, a one-plan update's 100k kept vectors in 0.06 s, against 0.5-1.1 s gathered row by
    row with fancy indexing."""
    taken = source_rows >= 0
    for start, end in runs(source_rows, taken):
        if taken[start]:
            first = int(source_rows[start])
            dest[start:end] = source[first : first + end - start]


def _copy_range(src, dest, start: int, count: int) -> None:
    """Append count bytes of src from offset start to dest: in the kernel where it can (copy_file_range: a
    one-plan update copies 170 MB of kept rows in a tenth of a second), else through a buffer."""
    dest.flush()
    done = 0
    try:
        while done < count:
            n = os.copy_file_range(src.fileno(), dest.fileno(), count - done, start + done)
            if n == 0:
                break
            done += n
        dest.seek(0, os.SEEK_END)
    except (AttributeError, OSError):  # no copy_file_range here, or not between these files: copied in Python
        dest.seek(0, os.SEEK_END)
    while done < count:
        src.seek(start + done)
        chunk = src.read(min(count - done, 1 << 24))
        if not chunk:
            raise IndexFormatError(f"{src.name}: shorter than the index says ({start + done} bytes); rebuild the index")
        dest.write(chunk)
        done += len(chunk)


class RowFile:
    """Records in row order as JSON lines, with the byte offset of each line: a record is parsed only when asked."""

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self.path, self.offsets = path, offsets
        self._data: np.ndarray | None = None

    @staticmethod
    def lines(records: Iterable[dict]) -> list[bytes]:
        return [(json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8") for r in records]

    @classmethod
    def write(cls, path: Path, lines: Sequence[bytes], offsets_name: str) -> None:
        offsets = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in lines], out=offsets[1:])
        with open(path, "wb") as f:
            for b in lines:
                f.write(b)
        save_array(path.parent, offsets_name, offsets)

    @classmethod
    def write_spliced(
        cls, path: Path, lines: Sequence[bytes | None], source: RowFile, rows: np.ndarray, offsets_name: str
    ) -> None:
        """Write rows that are either new lines or (where lines[j] is None) the line of row rows[j] of source: each
        run of consecutive source rows is copied as one range of its bytes, not line by line (a one-plan update
        keeps 100k rows in a few runs)."""
        taken = np.fromiter((b is None for b in lines), dtype=bool, count=len(lines))
        rows = np.asarray(rows, dtype=np.int64)
        sizes = np.zeros(len(lines), dtype=np.int64)
        src = rows[taken]
        sizes[taken] = source.offsets[src + 1] - source.offsets[src]
        sizes[~taken] = [len(b) for b in lines if b is not None]
        offsets = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        with open(source.path, "rb") as src, open(path, "wb") as f:
            for a, b in runs(rows, taken):
                line = lines[a]
                if line is None:
                    start = int(source.offsets[rows[a]])
                    _copy_range(src, f, start, int(source.offsets[rows[b - 1] + 1]) - start)
                else:
                    f.write(line)
        save_array(path.parent, offsets_name, offsets)

    @classmethod
    def open(cls, path: Path, offsets_name: str, length: int) -> RowFile:
        offsets = open_array(path.parent, offsets_name, "int64", length + 1)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexFormatError(f"{path}: missing from the saved index; rebuild the index") from None
        if size != int(offsets[-1]):
            raise IndexFormatError(f"{path}: {size} bytes, the index expects {int(offsets[-1])}; rebuild the index")
        return cls(path, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _bytes(self) -> np.ndarray:
        if self._data is None:
            self._data = (
                np.memmap(self.path, dtype=np.uint8, mode="r") if int(self.offsets[-1]) else np.zeros(0, np.uint8)
            )
        return self._data

    def line(self, row: int) -> bytes:
        return self._bytes()[self.offsets[row] : self.offsets[row + 1]].tobytes()

    def __getitem__(self, row: int) -> dict:
        try:
            return json.loads(self.line(row))
        except ValueError as exc:
            raise IndexFormatError(f"{self.path}: line {row + 1} is not a record ({exc}); rebuild the index") from None

    def all_lines(self) -> list[bytes]:
        data = self._bytes().tobytes()
        o = self.offsets.tolist()
        return [data[o[i] : o[i + 1]] for i in range(len(self))]
