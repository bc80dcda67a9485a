"""Read plan files: detect the encoding, refuse what is not a text plan, normalise extraction artefacts."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kg.errors import PlanReadError

MAX_BYTES = 20 * 1024 * 1024

# Characters that PDF/Word extraction of Big5 documents prints in place of the intended one.
MISPRINTS = {"帄": "平", "褔": "福", "搥": "捶"}


@dataclass(frozen=True)
class PlanText:
    """A decoded plan: its file name, the encoding found, and its lines exactly as decoded (1-based in use)."""

    path: Path
    encoding: str
    lines: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.name


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
        raise PlanReadError(name, "this is a binary file, not a text plan (export the plan as text first)")
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


def read_plan(path: str | Path) -> PlanText:
    """Read one plan file, checking size, content and encoding."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PlanReadError(name, f"cannot open the file ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise PlanReadError(name, f"the file is {size / 1e6:.1f} MB; plans over {MAX_BYTES // 2**20} MB are refused")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanReadError(name, f"cannot read the file ({exc.strerror})") from None
    text, encoding = decode(data, name)
    controls = sum(1 for ch in text[:20000] if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls > 20:
        raise PlanReadError(name, "the text is full of control characters: a binary or corrupted file")
    return PlanText(path, encoding, tuple(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")))


_TAG = re.compile(r"</?(?:p|ol|ul|li|td|tr|th|table|tbody|thead|span|div|br|b|strong|em|i|u|font)\b[^>]*>", re.I)
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？"}
_PUNCT_NEAR_CJK = re.compile(rf"(?<=[{_CJK}」）)])\s*([,;:!?])\s*|([,;:!?])\s*(?=[{_CJK}「（(])")
_SPACE_IN_CJK = re.compile(rf"(?<=[{_CJK}，。、；：「」（）])[ \u3000]+(?=[{_CJK}，。、；：「」（）])")


def strip_markup(text: str) -> str:
    """Remove HTML fragments, markdown bold and HTML entities that extraction leaves in the text."""
    text = _TAG.sub(" ", text)
    text = text.replace("**", "").replace("&nbsp;", " ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return text


def normalise(text: str, keep_spaces: bool = False) -> str:
    """One clean form of a fragment: markup gone, misprints fixed, one punctuation width, no stray spaces.

    keep_spaces keeps the spaces between CJK words, which still separate a measure's title from its body.
    """
    text = strip_markup(text)
    text = "".join(MISPRINTS.get(ch, ch) for ch in text)
    # Full-width letters and digits to ASCII, full-width parentheses to ASCII: one form to match and show.
    text = "".join(
        chr(ord(ch) - 0xFEE0) if "\uff10" <= ch <= "\uff19" or "\uff21" <= ch <= "\uff5a" else ch for ch in text
    )
    text = text.replace("（", "(").replace("）", ")").replace("\u3000", " ").replace("\xa0", " ")
    text = _PUNCT_NEAR_CJK.sub(lambda m: _HALF_TO_FULL[m.group(1) or m.group(2)], text)
    if keep_spaces:
        # A run of spaces is how some plans separate a measure's title from its body: keep it visible.
        text = re.sub(r"[ \t]{2,}", "\x00", text)
        text = re.sub(r"\s+", " ", text).replace("\x00", "  ")
    else:
        text = _SPACE_IN_CJK.sub("", text)
        text = re.sub(r"\s+", " ", text)
    return text.strip()


def join_text(left: str, right: str) -> str:
    """Join two pieces of one sentence broken by a hard line break: no space between CJK, one between words."""
    if not left:
        return right
    if not right:
        return left
    if re.match(r"[A-Za-z0-9]", left[-1]) and re.match(r"[A-Za-z0-9(]", right[0]):
        return left + " " + right
    return left + right
