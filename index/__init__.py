"""Semantic and lexical search over plan measures: encoders, vector backends, BM25, hybrid fusion, practice types."""

from index.encoders import DEFAULT_ENCODER, ENCODER_NAMES, Encoder, check_encoder_name, get_encoder, shared_encoder
from index.errors import (
    IndexFormatError,
    IndexMismatchError,
    MissingExtraError,
    SearchIndexError,
    UnknownEncoderError,
    UnknownMeasureError,
)
from index.practices import PracticeScheme, PracticeType, build_scheme
from index.search import SavedVectors, SearchIndex, UpdateStats, load_saved_vectors
from index.vocab import Vocabulary, load_vocabulary

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODER_NAMES",
    "Encoder",
    "check_encoder_name",
    "get_encoder",
    "shared_encoder",
    "SearchIndex",
    "SavedVectors",
    "load_saved_vectors",
    "UpdateStats",
    "PracticeScheme",
    "PracticeType",
    "build_scheme",
    "Vocabulary",
    "load_vocabulary",
    "SearchIndexError",
    "MissingExtraError",
    "UnknownEncoderError",
    "IndexMismatchError",
    "IndexFormatError",
    "UnknownMeasureError",
]
