"""The encoder whose model loads in a child process: the same vectors as in this process, the child really
another process, and this process's encoder taking over when the child cannot answer."""

from __future__ import annotations

import numpy as np

from index.background import BackgroundEncoder
from index.encoders import get_encoder

TEXTS = ["電話禮貌測試", "提供免費 Wi-Fi 讓洽公民眾上網", "在等候區提供血壓計與書報"]


class _Counting:
    """An encoder of this process that counts its calls (what encodes when the child does not)."""

    def __init__(self, name: str) -> None:
        self.inner = get_encoder(name)
        self.model_id, self.dim = self.inner.model_id, self.inner.dim
        self.calls = 0

    def encode(self, texts, kind="passage"):
        self.calls += 1
        return self.inner.encode(texts, kind)


def test_the_child_encodes_what_this_process_would():
    local = _Counting("use-numpy")
    enc = BackgroundEncoder("use-numpy", 1, local)
    try:
        assert (enc.model_id, enc.dim) == (local.model_id, local.dim)
        pid = enc._process.pid
        assert pid is not None and enc._process.is_alive()
        got = enc.encode(TEXTS, "passage")
        assert local.calls == 0 and enc.failure is None  # encoded by the child
        np.testing.assert_allclose(got, get_encoder("use-numpy", 1).encode(TEXTS, "passage"), atol=1e-5)
        assert enc.encode([]).shape == (0, enc.dim)
    finally:
        enc.close()
    assert enc._process is None and enc.failure == "closed"
    np.testing.assert_allclose(enc.encode(TEXTS[:1]), got[:1], atol=1e-5)  # after close: this process encodes
    assert local.calls == 1


def test_many_texts_go_to_the_child_a_batch_at_a_time(monkeypatch):
    import index.background as background

    monkeypatch.setattr(background, "BATCH", 2)
    local = _Counting("use-numpy")
    enc = BackgroundEncoder("use-numpy", 1, local)
    try:
        got = enc.encode(TEXTS * 2, "query")
    finally:
        enc.close()
    assert local.calls == 0 and got.shape == (6, enc.dim) and got.dtype == np.float32
    np.testing.assert_allclose(got, local.inner.encode(TEXTS * 2, "query"), atol=1e-5)


def test_a_child_killed_mid_build_leaves_the_encoding_to_this_process():
    local = _Counting("use-numpy")
    enc = BackgroundEncoder("use-numpy", 1, local)
    enc.load()  # loaded in the child
    enc._process.kill()
    enc._process.join()
    got = enc.encode(TEXTS)
    assert local.calls == 1 and "ended" in enc.failure and enc._process is None
    np.testing.assert_allclose(got, local.inner.encode(TEXTS), atol=1e-5)


def test_a_child_that_cannot_load_its_model_says_why_and_this_process_encodes():
    local = _Counting("use-numpy")
    enc = BackgroundEncoder("no-such-encoder", 1, local)  # the child's get_encoder refuses the name
    try:
        got = enc.encode(TEXTS)
    finally:
        enc.close()
    assert local.calls == 1 and enc.failure.startswith("UnknownEncoderError") and "no-such-encoder" in enc.failure
    assert got.shape == (3, local.dim)
