import numpy as np
import pytest

from index.backends import FaissIndex, NumpyIndex, load_vector_index, make_vector_index
from index.encoders import l2_normalise


def _random(n, d, seed=0):
    return l2_normalise(np.random.default_rng(seed).standard_normal((n, d)))


def _pair(x):
    ids = [f"m{i}" for i in range(len(x))]
    f, o = FaissIndex(x.shape[1]), NumpyIndex(x.shape[1])
    f.add(ids, x)
    o.add(ids, x)
    return f, o


def _assert_same(got, want, atol=1e-5):
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose([s for _, s in g], [s for _, s in w], atol=atol)
        # Equal scores may come in any order; ids must agree wherever scores are distinct.
        gs, ws = {}, {}
        for mid, s in g:
            gs.setdefault(round(s, 4), set()).add(mid)
        for mid, s in w:
            ws.setdefault(round(s, 4), set()).add(mid)
        assert gs.keys() == ws.keys()
        for key in list(gs)[:-1]:
            assert gs[key] == ws[key]


def test_faiss_equals_numpy_oracle_on_random_data():
    x = _random(2000, 48)
    f, o = _pair(x)
    q = _random(20, 48, seed=1)
    _assert_same(f.search(q, 10), o.search(q, 10))


def test_faiss_equals_numpy_oracle_with_mask():
    x = _random(1000, 32)
    f, o = _pair(x)
    mask = np.zeros(1000, dtype=bool)
    mask[::13] = True
    q = _random(5, 32, seed=2)
    got = f.search(q, 8, allowed_mask=mask)
    _assert_same(got, o.search(q, 8, allowed_mask=mask))
    assert all(int(mid[1:]) % 13 == 0 for row in got for mid, _ in row)


def test_mask_with_fewer_rows_than_k():
    x = _random(50, 16)
    f, o = _pair(x)
    mask = np.zeros(50, dtype=bool)
    mask[[3, 7]] = True
    for ix in (f, o):
        assert sorted(m for m, _ in ix.search(x[0], 10, allowed_mask=mask)[0]) == ["m3", "m7"]
        assert ix.search(x[0], 10, allowed_mask=np.zeros(50, dtype=bool))[0] == []


def test_faiss_equals_numpy_oracle_on_real_vectors(index):
    f, o = _pair(index.vectors)
    q = index.vectors[::17]
    _assert_same(f.search(q, 10), o.search(q, 10))


def test_hnsw_past_threshold_keeps_recall():
    x = _random(3000, 32)
    ids = [f"m{i}" for i in range(len(x))]
    h = FaissIndex(32, hnsw_threshold=1000)
    h.add(ids[:500], x[:500])
    h.add(ids[500:], x[500:])
    assert h.is_hnsw
    o = NumpyIndex(32)
    o.add(ids, x)
    q = _random(50, 32, seed=3)
    got, want = h.search(q, 10), o.search(q, 10)
    recall = np.mean([len({m for m, _ in g} & {m for m, _ in w}) / 10 for g, w in zip(got, want, strict=True)])
    assert recall >= 0.9


@pytest.mark.parametrize("kind", ["faiss", "numpy"])
def test_save_load_round_trip_keeps_id_table(tmp_path, kind):
    x = _random(100, 16)
    ix = make_vector_index(kind, 16)
    ix.add([f"id-{i}" for i in range(100)], x)
    ix.save(tmp_path)
    assert (tmp_path / "ids.json").exists()
    back = load_vector_index(tmp_path)
    assert type(back) is type(ix) and back.ids == ix.ids
    assert back.search(x[:3], 5) == ix.search(x[:3], 5)


def test_add_checks_shapes():
    with pytest.raises(ValueError):
        NumpyIndex(8).add(["a"], np.zeros((2, 8), dtype=np.float32))
