"""Posting lists: patching keeps rows, renumbers them and merges new entries as building them anew would."""

import numpy as np
import pytest

from index.arrays import Patch, Postings


def _rebuilt(old: Postings, patch: Patch, n_keys: int, keys, rows, weights) -> Postings:
    """What patched() must equal: the kept entries (renumbered) followed by the new ones, through from_pairs."""
    new_rows = patch.old_to_new[np.asarray(old.rows, dtype=np.int64)]
    keep = new_rows >= 0
    return Postings.from_pairs(
        np.concatenate([old.keys_of_entries()[keep], keys]),
        np.concatenate([new_rows[keep], rows]),
        n_keys,
        np.concatenate([np.asarray(old.weights)[keep], weights]),
    )


@pytest.mark.parametrize("seed", range(40))
def test_a_patched_posting_list_is_the_one_built_from_its_entries(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_keys = int(rng.integers(1, 60)), int(rng.integers(1, 20))
    size = int(rng.integers(0, 300))
    old = Postings.from_pairs(
        rng.integers(0, n_keys, size), rng.integers(0, n_rows, size), n_keys, rng.random(size).astype(np.float32)
    )
    # keep a random subset of the old rows (in order), add new rows among them
    kept_old = np.flatnonzero(rng.random(n_rows) < rng.random())
    if seed % 4 == 3:  # every old row kept (a plan added): patched() takes the kept entries whole
        kept_old = np.arange(n_rows)
    kept = np.concatenate([kept_old, np.full(int(rng.integers(0, 8)), -1)])
    rng.shuffle(kept[len(kept_old) :])
    kept = kept[np.argsort(rng.random(len(kept)))] if seed % 2 else kept
    patch = Patch.of(kept.astype(np.int64), n_rows)
    more_keys = n_keys + int(rng.integers(0, 4))
    m = int(rng.integers(0, 40)) if len(patch.new) else 0
    keys = rng.integers(0, more_keys, m)
    rows = rng.choice(patch.new, m) if m else np.zeros(0, dtype=np.int64)
    weights = rng.random(m).astype(np.float32)
    got = old.patched(patch.old_to_new, more_keys, keys, rows, weights)
    want = _rebuilt(old, patch, more_keys, keys, rows, weights)
    assert np.array_equal(got.offsets, want.offsets)
    assert np.array_equal(got.rows, want.rows) and got.rows.dtype == want.rows.dtype
    assert np.array_equal(got.weights, want.weights) and got.weights.dtype == want.weights.dtype


@pytest.mark.parametrize("seed", range(40))
def test_spliced_texts_are_the_texts_built_row_by_row(seed, tmp_path):
    """A one-plan update takes the kept rows' texts by runs of old rows: the same buffer and offsets as joining
    each row's text, opened memory-mapped or built in memory."""
    from index.literal import _Texts

    rng = np.random.default_rng(seed)
    words = ["", "a", "市民", "1999專線", "無障礙 環境", "x" * 50]
    old_texts = [words[int(i)].encode("utf-8") for i in rng.integers(0, len(words), int(rng.integers(0, 40)))]
    built = _Texts.of_bytes(old_texts)
    built.save(tmp_path, "t")
    opened = _Texts.open(tmp_path, "t", len(old_texts))
    keep = [i for i in range(len(old_texts)) if rng.random() < 0.8]
    if seed % 3 == 0:
        keep = keep[::-1]  # kept rows in another order: no run longer than one row
    kept = np.array(keep + [-1] * int(rng.integers(0, 5)), dtype=np.int64)
    kept = kept[np.argsort(rng.random(len(kept)), kind="stable")] if seed % 2 else kept
    fresh = {int(j): f"新{j}".encode() for j in np.flatnonzero(kept < 0)}
    want = _Texts.of_bytes([fresh[j] if k < 0 else old_texts[k] for j, k in enumerate(kept.tolist())])
    for source in (built, opened):
        got = source.spliced(kept, fresh)
        assert bytes(got.data) == bytes(want.data)
        assert np.array_equal(got.offsets, want.offsets)


def test_take_rows_copies_runs_and_single_rows_as_fancy_indexing_does(tmp_path):
    from index.arrays import take_rows

    rng = np.random.default_rng(7)
    source = rng.standard_normal((50, 4)).astype(np.float32)
    np.save(tmp_path / "v.npy", source)
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")
    # runs of consecutive rows, rows moved, new rows (-1) between and at both ends, a row taken twice
    rows = np.array([-1, 0, 1, 2, 3, 10, 11, -1, -1, 4, 40, 41, 42, 49, 3, -1], dtype=np.int64)
    dest = np.zeros((len(rows), 4), dtype=np.float32)
    take_rows(dest, mapped, rows)
    want = np.zeros_like(dest)
    want[rows >= 0] = source[rows[rows >= 0]]
    np.testing.assert_array_equal(dest, want)
    keys = np.zeros((len(rows), 2), dtype="S16")
    take_rows(keys, np.array([[b"k%d" % i, b"c%d" % i] for i in range(50)], dtype="S16"), rows)
    assert keys[1, 0] == b"k0" and keys[14, 1] == b"c3" and keys[0, 0] == b""
