"""Domain errors of the search index, each with a message a planner or operator can act on."""

from __future__ import annotations


class SearchIndexError(Exception):
    """Base class of every error the index raises on purpose."""


class MissingExtraError(SearchIndexError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that brings it."""

    def __init__(self, module: str, extra: str, packages: str) -> None:
        self.module, self.extra, self.packages = module, extra, packages
        super().__init__(
            f"{module} is not installed: install the optional extra with "
            f"`pip install '.[{extra}]'` (packages: {packages})"
        )


class UnknownEncoderError(SearchIndexError, ValueError):
    """An encoder name that get_encoder does not know."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        super().__init__(f"unknown encoder {name!r}: choose one of {', '.join(known)}")


class IndexMismatchError(SearchIndexError):
    """A saved index does not fit the encoder or corpus it is loaded with: rebuild it."""

    def __init__(self, what: str, saved: object, given: object, directory: str) -> None:
        self.what, self.saved, self.given = what, saved, given
        super().__init__(
            f"index in {directory} was built with {what} {saved!r} but is loaded with {given!r}; rebuild the index"
        )


class IndexFormatError(SearchIndexError):
    """A saved index directory is missing files or is of an unknown format."""


class UnknownMeasureError(SearchIndexError, KeyError):
    """A measure id that is not in the index."""

    def __init__(self, measure_id: str) -> None:
        self.measure_id = measure_id
        super().__init__(f"no measure with id {measure_id!r} in the index")

    def __str__(self) -> str:
        return str(self.args[0])
