"""Plain-text plans: decode (UTF-8, BOM, Big5/CP950, UTF-16 with BOM) and turn each printed line into a block."""

from __future__ import annotations

import unicodedata

from kg.document import Document
from kg.errors import PlanReadError
from kg.read.boxtable import box_tables

# A text with more control characters than this in its first 20,000 is binary or corrupted, not a plan.
MAX_CONTROL_CHARS = 20
# A plan has a thousand lines or two; millions of short lines (a log, a word list) would take minutes and
# gigabytes as blocks.
MAX_LINES = 100_000


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Return (text, encoding); UTF-8 (with or without BOM) first, then Big5/CP950; never a lossy guess."""
    if not data.strip():
        raise PlanReadError(name, "the file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise PlanReadError(name, f"broken UTF-16 at byte {exc.start}") from None
    if b"\x00" in data[:65536]:
        raise PlanReadError(name, "this is a binary file of no format this tool reads, not a text plan")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise PlanReadError(name, f"starts with a UTF-8 mark but byte {exc.start + 3} is not UTF-8") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp950"), "cp950"
        except UnicodeDecodeError:
            line = data[: utf8_error.start].count(b"\n") + 1
            raise PlanReadError(
                name, "neither UTF-8 nor Big5/CP950: cannot decode the text (save it as UTF-8)", line
            ) from None


def split_lines(text: str) -> tuple[str, ...]:
    return tuple(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def check_controls(text: str, name: str) -> None:
    controls = sum(1 for ch in text[:20000] if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > MAX_CONTROL_CHARS:
        raise PlanReadError(name, "the text is full of control characters: a binary or corrupted file")


def read_text(data: bytes, name: str) -> Document:
    """A text plan: one paragraph per non-blank printed line; box-drawn tables (┌─┬─┐) become grid tables."""
    text, encoding = decode(data, name)
    check_controls(text, name)
    if max(text.count("\n"), text.count("\r")) >= MAX_LINES:
        raise PlanReadError(name, f"the text has more than {MAX_LINES:,} lines: not a plan")
    lines = split_lines(text)
    blocks = box_tables(lines, name)
    return Document(name, "text", blocks, encoding=encoding, lines=lines)
